// .npz without zlib (EDGEQUANT_NO_ZLIB): stored members work, deflated ones
// fail with a clear "built without zlib" error.
#include <doctest/doctest.h>

#include <vector>

#include "edgequant/formats/npz.hpp"
#include "format_test_util.hpp"

using namespace edgequant;

TEST_CASE("without zlib: deflated members are refused clearly, stored ones read") {
  static_assert(!zip::deflate_available());
  const std::vector<float> v = {1, 2, 3};
  auto npy_bytes = npy::serialize(npy::Descr::of(npy::Kind::kFloat, 4), {3}, eqfmt::as_bytes_of(v));
  REQUIRE(npy_bytes);
  // The fallback CRC-32 (no zlib) gives the standard check value.
  CHECK(zip::crc32(0, eqfmt::bytes_of("123456789")) == 0xCBF43926u);
  const auto z = eqfmt::hand_deflated_zip(*npy_bytes, zip::crc32(0, *npy_bytes));
  auto f = npz::File::from_mapped(MappedFile::from_bytes(z, "d.npz"));
  REQUIRE(f);
  auto a = f->read("x");
  REQUIRE_FALSE(a);
  CHECK(a.error().code == Errc::kUnsupported);
  CHECK(a.error().what.find("built without zlib") != std::string::npos);
  CHECK(a.error().file == "d.npz");

  MemorySink sink;
  npz::Writer<MemorySink> w(sink);
  const std::uint64_t s[] = {3};
  REQUIRE(w.add("x", npy::Descr::of(npy::Kind::kFloat, 4), s, eqfmt::as_bytes_of(v)));
  REQUIRE(w.finish());
  auto g = npz::File::from_mapped(MappedFile::from_bytes(sink.bytes(), "s.npz"));
  REQUIRE(g);
  auto b = g->read("x");
  REQUIRE(b);
  CHECK(b->data().size() == 12);

  MemorySink sink2;
  npz::Writer<MemorySink> wd(sink2, {true});
  auto e = wd.add("x", npy::Descr::of(npy::Kind::kFloat, 4), s, eqfmt::as_bytes_of(v));
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kUnsupported);
}
