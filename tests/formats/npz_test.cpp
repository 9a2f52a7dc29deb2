// .npz / zip: NumPy-written archives (stored, deflated, streamed with data
// descriptors, empty), numpy reading ours, ZIP64 records, and hostile
// archives (bombs, path tricks, overlaps, bad CRCs, unsupported methods).
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "edgequant/formats/npz.hpp"
#include "format_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_npz_test {

using namespace edgequant;
using eqfmt::bytes_of;
using eqfmt::str_of;

namespace {

std::vector<std::byte> small_npz(bool deflate, bool zip64 = false) {
  MemorySink sink;
  npz::Writer<MemorySink> w(sink, {deflate, 6, zip64});
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<std::uint8_t> b = {7, 8, 9};
  const std::uint64_t sa[] = {2, 3}, sb[] = {3};
  REQUIRE(w.add("a1", npy::Descr::of(npy::Kind::kFloat, 4), sa, eqfmt::as_bytes_of(a)));
  REQUIRE(w.add("a2", npy::Descr::of(npy::Kind::kUint, 1), sb, eqfmt::as_bytes_of(b)));
  REQUIRE(w.finish());
  return sink.take();
}

void put16(std::vector<std::byte>& b, std::size_t at, std::uint16_t v) {
  store_le(b.data() + at, v);
}
void put32(std::vector<std::byte>& b, std::size_t at, std::uint32_t v) {
  store_le(b.data() + at, v);
}

void replace_all(std::vector<std::byte>& b, const std::string& from, const std::string& to) {
  std::string s = str_of(b);
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  b = bytes_of(s);
}

Expected<npz::File> open_bytes(const std::vector<std::byte>& b, const npz::Limits& l = {}) {
  return npz::File::from_mapped(MappedFile::from_bytes(b, "t.npz"), l);
}

void expect_open_error(const std::vector<std::byte>& b, Errc code, std::uint64_t offset,
                       const std::string& why) {
  auto f = open_bytes(b);
  REQUIRE_FALSE(f);
  CHECK(errc_name(f.error().code) == errc_name(code));
  CHECK(f.error().offset == offset);
  CHECK_MESSAGE(f.error().what.find(why) != std::string::npos, f.error().message());
  CHECK(f.error().file == "t.npz");
}

std::vector<float> floats(const npz::Array& a) {
  const auto c = npy::to_c_order(a.view);
  std::vector<float> f(c.size() / 4);
  std::memcpy(f.data(), c.data(), c.size());
  return f;
}

}  // namespace

TEST_CASE("CRC-32 check values") {
  CHECK(zip::crc32(0, bytes_of("123456789")) == 0xCBF43926u);  // the standard check value
  CHECK(zip::crc32(0, {}) == 0);
  CHECK(zip::crc32(zip::crc32(0, bytes_of("1234")), bytes_of("56789")) == 0xCBF43926u);
}

TEST_CASE("a deflate stream made by hand (one stored block) inflates") {
  if (!zip::deflate_available()) return;
  const std::vector<float> v = {1, 2, 3};
  auto npy_bytes = npy::serialize(npy::Descr::of(npy::Kind::kFloat, 4), {3}, eqfmt::as_bytes_of(v));
  REQUIRE(npy_bytes);
  const auto z = eqfmt::hand_deflated_zip(*npy_bytes, zip::crc32(0, *npy_bytes));
  auto f = open_bytes(z);
  REQUIRE(f);
  CHECK(f->entries()[0].method == zip::kDeflated);
  auto a = f->read("x");
  REQUIRE(a);
  CHECK(floats(*a) == v);
}

TEST_CASE("our archives: stored, deflated, forced ZIP64 extras, read back") {
  for (int mode = 0; mode < 3; ++mode) {
    CAPTURE(mode);
    if (mode == 1 && !zip::deflate_available()) continue;
    const auto b = small_npz(mode == 1, mode == 2);
    auto f = open_bytes(b);
    REQUIRE(f);
    CHECK(f->keys() == std::vector<std::string>{"a1", "a2"});
    CHECK(f->entries()[0].method == (mode == 1 ? zip::kDeflated : zip::kStored));
    auto a = f->read("a1");
    REQUIRE(a);
    CHECK(a->header().shape == std::vector<std::uint64_t>{2, 3});
    CHECK(floats(*a) == std::vector<float>{1, 2, 3, 4, 5, 6});
    auto c = f->read("a2.npy");
    REQUIRE(c);
    CHECK(str_of(c->data()) == "\x07\x08\x09");
    CHECK(f->read("a3").error().code == Errc::kNotFound);
    if (mode != 1) {  // stored members are views into the mapping
      CHECK(a->owned.empty());
      CHECK(a->data().data() >= f->archive().bytes().data());
    }
  }
}

TEST_CASE("ZIP64 end records (hand-built from a small archive) are followed") {
  auto b = small_npz(false);
  const std::size_t eocd = b.size() - 22;
  const std::uint32_t cd_size = load_le<std::uint32_t>(b.data() + eocd + 12);
  const std::uint32_t cd_off = load_le<std::uint32_t>(b.data() + eocd + 16);
  std::vector<std::byte> z(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(eocd));
  std::string tail;
  auto p16 = [&](std::uint16_t v) { tail.append(reinterpret_cast<const char*>(&v), 2); };
  auto p32 = [&](std::uint32_t v) { tail.append(reinterpret_cast<const char*>(&v), 4); };
  auto p64 = [&](std::uint64_t v) { tail.append(reinterpret_cast<const char*>(&v), 8); };
  p32(0x06064b50);  // ZIP64 end of central directory record
  p64(44);
  p16(45);
  p16(45);
  p32(0);
  p32(0);
  p64(2);
  p64(2);
  p64(cd_size);
  p64(cd_off);
  p32(0x07064b50);  // locator
  p32(0);
  p64(eocd);
  p32(1);
  p32(0x06054b50);  // classic record, saturated
  p16(0);
  p16(0);
  p16(0xFFFF);
  p16(0xFFFF);
  p32(0xFFFFFFFF);
  p32(0xFFFFFFFF);
  p16(0);
  const auto t = bytes_of(tail);
  z.insert(z.end(), t.begin(), t.end());
  auto f = open_bytes(z);
  REQUIRE(f);
  CHECK(f->entries().size() == 2);
  CHECK(f->read("a1"));
  // A locator that points at garbage.
  auto bad = z;
  put32(bad, z.size() - 22 - 20 + 8, 3);
  expect_open_error(bad, Errc::kInvalid, z.size() - 22 - 20, "zip64 locator");
  if (eqfmt::have_numpy()) {
    eqfmt::TempDir d("z64");
    eqfmt::write_bytes(d.file("z.npz"), z);
    bool ok = false;
    const std::string out = eqfmt::run_python(
        "import sys, numpy as np\nz = np.load(sys.argv[1])\nprint(sorted(z.keys()), "
        "z['a1'].tolist())\n",
        {d.file("z.npz")}, ok);
    CHECK_MESSAGE(ok, out);
    CHECK(out == "['a1', 'a2'] [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]\n");
  }
}

TEST_CASE("numpy oracle: savez, savez_compressed, streamed (data descriptors), empty, pickles") {
  if (!eqfmt::have_numpy()) return;
  eqfmt::TempDir dir("npz_py");
  const std::string script = R"PY(
import io, sys, zipfile
import numpy as np
d = sys.argv[1]
a = {"w": np.arange(6, dtype="<f4").reshape(2, 3) / 4,
     "mask": np.array([True, False]),
     "be": np.arange(3, dtype=">i2") - 1,
     "fort": np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)),
     "empty": np.zeros((0,), "f4"),
     "dir/x": np.array(5, dtype="<u8")}
np.savez(d + "/stored.npz", **a)
np.savez_compressed(d + "/deflated.npz", **a)
class Pipe:  # write-only, not seekable: zipfile adds data descriptors
    def __init__(self): self.b = io.BytesIO()
    def read(self, n=-1): raise io.UnsupportedOperation("read")
    def write(self, x): return self.b.write(x)
    def flush(self): pass
p = Pipe()
np.savez_compressed(p, **a)
open(d + "/pipe.npz", "wb").write(p.b.getvalue())
np.savez(d + "/empty.npz")
np.savez(d + "/obj.npz", o=np.array([1, None], dtype=object))
buf = io.BytesIO(); np.save(buf, np.arange(3, dtype="<i4"))
with zipfile.ZipFile(d + "/raw.npz", "w") as z:
    z.writestr("notes.txt", "hello")
    z.writestr("x.npy", buf.getvalue())
for k, v in a.items():
    print(k, np.ascontiguousarray(v).astype(v.dtype.newbyteorder("<")).tobytes().hex())
)PY";
  bool ok = false;
  const std::string out = eqfmt::run_python(script, {dir.path().string()}, ok);
  REQUIRE_MESSAGE(ok, out);
  std::map<std::string, std::string> want;
  std::istringstream lines(out);
  std::string k, v;
  while (lines >> k) {
    std::getline(lines, v);
    want[k] = v.empty() ? v : v.substr(1);
  }
  REQUIRE(want.size() == 6);
  for (const char* name : {"stored", "deflated", "pipe"}) {
    CAPTURE(name);
    const bool deflated = std::string(name) != "stored";
    if (deflated && !zip::deflate_available()) continue;
    auto f = npz::File::open(dir.file(std::string(name) + ".npz"));
    REQUIRE(f);
    CHECK(f->entries().size() == 6);
    for (const auto& e : f->entries()) {
      CHECK(e.method == (deflated ? zip::kDeflated : zip::kStored));
      CHECK(((e.flags & 8) != 0) == (std::string(name) == "pipe"));  // data descriptor
    }
    for (const auto& [key, hex] : want) {
      CAPTURE(key);
      auto a = f->read(key);
      REQUIRE(a);
      CHECK(eqfmt::hex(npy::to_c_order(a->view)) == hex);
    }
  }
  auto e = npz::File::open(dir.file("empty.npz"));
  REQUIRE(e);
  CHECK(e->entries().empty());
  auto o = npz::File::open(dir.file("obj.npz"));
  REQUIRE(o);
  auto oa = o->read("o");
  REQUIRE_FALSE(oa);
  CHECK(oa.error().code == Errc::kUnsupported);
  CHECK(oa.error().what.find("pickles") != std::string::npos);
  CHECK(oa.error().file == dir.file("obj.npz") + ":o.npy");
  auto r = npz::File::open(dir.file("raw.npz"));
  REQUIRE(r);
  CHECK(r->keys() == std::vector<std::string>{"notes.txt", "x"});
  CHECK(r->read("notes.txt").error().code == Errc::kBadMagic);
  CHECK(str_of(r->archive().raw(*r->find("notes.txt"))) == "hello");
  CHECK(r->read("x"));
}

TEST_CASE("numpy oracle: np.load reads our archives") {
  if (!eqfmt::have_numpy()) return;
  eqfmt::TempDir dir("npz_ours");
  for (int mode = 0; mode < 3; ++mode) {
    if (mode == 1 && !zip::deflate_available()) continue;
    const std::string path = dir.file("m" + std::to_string(mode) + ".npz");
    auto f = AtomicFile::create(path);
    REQUIRE(f);
    npz::Writer<AtomicFile> w(*f, {mode == 1, 6, mode == 2});
    const std::vector<double> d = {0.1, -2.0};
    const std::vector<std::uint16_t> bf = {0x3f80, 0xc000};
    const std::uint64_t s2[] = {2}, s1[] = {1, 2};
    REQUIRE(w.add("d", npy::Descr::of(npy::Kind::kFloat, 8), s2, eqfmt::as_bytes_of(d)));
    REQUIRE(w.add("layers/0/bf", npy::Descr::bfloat16(), s1, eqfmt::as_bytes_of(bf)));
    REQUIRE(w.add("n\xc3\xa4me", npy::Descr::of(npy::Kind::kInt, 4), {},
                  std::as_bytes(std::span("\x05\0\0\0", 4))));
    CHECK(
        w.add("d", npy::Descr::of(npy::Kind::kFloat, 8), s2, eqfmt::as_bytes_of(d)).error().code ==
        Errc::kBadArgument);
    CHECK(w.add("../x", npy::Descr::of(npy::Kind::kFloat, 8), s2, eqfmt::as_bytes_of(d))
              .error()
              .code == Errc::kBadArgument);
    const std::uint64_t s3[] = {3};
    auto short_data =
        w.add("short", npy::Descr::of(npy::Kind::kFloat, 8), s3, eqfmt::as_bytes_of(d));
    REQUIRE_FALSE(short_data);
    CHECK(short_data.error().code == Errc::kBadArgument);
    REQUIRE(w.finish());
    REQUIRE(f->commit());
    bool ok = false;
    const std::string out = eqfmt::run_python(
        "import sys, zipfile, numpy as np\n"
        "z = np.load(sys.argv[1])\n"
        "print(z.files, z['d'].tolist(), z['layers/0/bf'].dtype.str, z['layers/0/bf'].shape, "
        "z['n\\xe4me'].tolist())\n"
        "print(zipfile.ZipFile(sys.argv[1]).testzip())\n",
        {path}, ok);
    CAPTURE(mode);
    REQUIRE_MESSAGE(ok, out);
    CHECK(out == "['d', 'layers/0/bf', 'n\xc3\xa4me'] [0.1, -2.0] |V2 (1, 2) 5\nNone\n");
  }
}

TEST_CASE("hostile archives: one per rule, code and offset") {
  const auto good = small_npz(false);
  auto parsed = zip::Archive::parse(good);
  REQUIRE(parsed);
  const zip::Entry e1 = parsed->entries()[0], e2 = parsed->entries()[1];
  const std::size_t eocd = good.size() - 22;
  SUBCASE("not a zip / truncated / trailing bytes") {
    expect_open_error(bytes_of("PK"), Errc::kBadMagic, 0, "too short");
    auto cut = good;
    cut.pop_back();
    expect_open_error(cut, Errc::kBadMagic, cut.size() - 22, "no end-of-central-directory");
    auto tail = good;
    tail.push_back(std::byte{0});
    expect_open_error(tail, Errc::kBadMagic, tail.size() - 22, "no end-of-central-directory");
  }
  SUBCASE("central directory out of range or too small for its count") {
    auto b = good;
    put32(b, eocd + 16, static_cast<std::uint32_t>(eocd));
    expect_open_error(b, Errc::kInvalid, eocd, "outside the archive");
    b = good;
    put16(b, eocd + 8, 1000);
    put16(b, eocd + 10, 1000);
    expect_open_error(b, Errc::kInvalid, eocd, "cannot fit");
    b = good;
    put16(b, eocd + 4, 1);
    expect_open_error(b, Errc::kUnsupported, eocd, "multi-disk");
    b = good;
    put32(b, e2.central_offset, 0x12345678);
    expect_open_error(b, Errc::kInvalid, e2.central_offset, "bad central directory record 1");
    b = good;
    put16(b, e2.central_offset + 28, 0xFFFF);  // name runs past the directory
    expect_open_error(b, Errc::kInvalid, e2.central_offset, "runs past the directory");
  }
  SUBCASE("encrypted, unknown method, bad UTF-8 names, unsafe names") {
    auto b = good;
    put16(b, e1.central_offset + 8, 1);
    expect_open_error(b, Errc::kUnsupported, e1.central_offset, "encrypted");
    b = good;
    put16(b, e1.central_offset + 10, 12);
    put16(b, e1.local_offset + 8, 12);
    expect_open_error(b, Errc::kUnsupported, e1.central_offset, "compression method 12");
    b = good;
    put16(b, e1.local_offset + 8, 8);
    expect_open_error(b, Errc::kInvalid, e1.local_offset, "methods differ");
    b = good;
    replace_all(b, "a1.npy", "a\xff.npy");
    expect_open_error(b, Errc::kUnsupported, e1.central_offset, "CP437");
    put16(b, e1.central_offset + 8, 0x800);
    expect_open_error(b, Errc::kInvalid, e1.central_offset, "not valid UTF-8");
    b = good;
    replace_all(b, "a1.npy", "../a1y");
    expect_open_error(b, Errc::kInvalid, e1.central_offset, "unsafe entry name");
    b = good;
    replace_all(b, "a1.npy", "/a1.np");
    expect_open_error(b, Errc::kInvalid, e1.central_offset, "unsafe entry name");
  }
  SUBCASE("local headers: missing, other name; data past the archive; duplicates; overlaps") {
    auto b = good;
    put32(b, e2.central_offset + 42, static_cast<std::uint32_t>(e1.local_offset + 1));
    expect_open_error(b, Errc::kInvalid, e1.local_offset + 1, "no local header");
    b = good;
    put32(b, e2.central_offset + 42, static_cast<std::uint32_t>(e1.local_offset));
    expect_open_error(b, Errc::kInvalid, e1.local_offset, "local header name differs");
    b = good;
    put32(b, e2.central_offset + 20, 100000);
    put32(b, e2.central_offset + 24, 100000);
    expect_open_error(b, Errc::kTruncated, e2.data_offset, "data runs past the archive");
    b = good;
    put32(b, e2.central_offset + 20, 1000);
    expect_open_error(b, Errc::kInvalid, e2.central_offset, "different sizes");
    b = good;
    replace_all(b, "a2.npy", "a1.npy");
    expect_open_error(b, Errc::kInvalid, e2.central_offset, "duplicate zip entry \"a1.npy\"");
    b = good;
    const auto grown = static_cast<std::uint32_t>(e1.compressed_size + 10);
    put32(b, e1.central_offset + 20, grown);
    put32(b, e1.central_offset + 24, grown);
    expect_open_error(b, Errc::kInvalid, e2.local_offset, "overlap");
  }
  SUBCASE("CRC mismatch and non-npy content are found when a member is read") {
    auto b = good;
    b[e1.data_offset + 130] ^= std::byte{1};
    auto f = open_bytes(b);
    REQUIRE(f);
    auto a = f->read("a1");
    REQUIRE_FALSE(a);
    CHECK(a.error().code == Errc::kInvalid);
    CHECK(a.error().offset == e1.data_offset);
    CHECK(a.error().what.find("CRC-32 mismatch") != std::string::npos);
    npz::Limits no_crc;
    no_crc.verify_crc = false;
    CHECK(open_bytes(b, no_crc)->read("a1"));
  }
  SUBCASE("deflated members: bombs, size lies, corrupt streams") {
    if (!zip::deflate_available()) return;
    // 64 KiB of zeros deflates to a few hundred bytes.
    MemorySink sink;
    npz::Writer<MemorySink> w(sink, {true});
    const std::vector<float> zeros(16384);
    const std::uint64_t s[] = {16384};
    REQUIRE(w.add("z", npy::Descr::of(npy::Kind::kFloat, 4), s, eqfmt::as_bytes_of(zeros)));
    REQUIRE(w.finish());
    const auto bomb = sink.take();
    auto pz = zip::Archive::parse(bomb);
    REQUIRE(pz);
    const zip::Entry z = pz->entries()[0];
    CHECK(z.compressed_size < 1000);
    npz::Limits tight;
    tight.zip.max_member_bytes = 4096;
    auto f = open_bytes(bomb, tight);
    REQUIRE(f);
    auto r = f->read("z");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kLimit);
    CHECK(r.error().offset == z.central_offset);
    // The zip entry lies about the size: the npy header is checked before inflating it all.
    auto lie = bomb;
    put32(lie, z.central_offset + 24, static_cast<std::uint32_t>(z.uncompressed_size + 64));
    r = open_bytes(lie)->read("z");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalid);
    CHECK(r.error().what.find("npy header announces 65664 bytes, the zip entry declares 65728") !=
          std::string::npos);
    // A corrupt deflate stream.
    auto bad = bomb;
    for (std::size_t i = 0; i < 8; ++i) bad[z.data_offset + i] = std::byte{0xFF};
    r = open_bytes(bad)->read("z");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kInvalid);
    CHECK(r.error().what.find("corrupt deflate data") != std::string::npos);
    // A stream cut short (compressed size shrunk; the local header's size is ignored).
    auto cut = bomb;
    put32(cut, z.central_offset + 20, static_cast<std::uint32_t>(z.compressed_size / 2));
    r = open_bytes(cut)->read("z");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kTruncated);
  }
}

}  // namespace eqtest_formats_npz_test
