// GGUF writer: byte-identical rewrites of the golden files, a golden file
// rebuilt from the README's values and edgequant's quantizers, streaming,
// ggml's key-order semantics, and the writer's refusals.
#include <doctest/doctest.h>

#include <unistd.h>
#include <filesystem>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "edgequant/quantize.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_gguf_writer_test {

using namespace edgequant;
namespace gg = edgequant::gguf;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("eq_gguf_writer_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

bool same(const std::vector<std::byte>& a, const std::vector<std::uint8_t>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

std::span<const std::byte> bytes_of(const void* p, std::size_t n) {
  return {static_cast<const std::byte*>(p), n};
}

}  // namespace

TEST_CASE("gguf writer: every golden GGUF rewritten from its parsed form is byte-identical") {
  const auto dir = temp_dir();
  for (const char* name : {"small_all_kv.gguf", "tiny_llama.gguf"}) {
    CAPTURE(name);
    auto path = eqtest::golden_file(name);
    if (!path) continue;
    const auto golden = eqtest::read_file(*path);
    auto r = GgufReader<>::open_file(*path);
    REQUIRE(r);

    MemorySink mem;
    REQUIRE(gg::write_copy(*r, mem));
    CHECK(same(mem.bytes(), golden));

    // Through an atomic file.
    const auto out = (dir / name).string();
    REQUIRE(gg::write_copy_file(*r, out));
    CHECK(eqtest::read_file(out) == golden);

    // Streaming in odd-sized chunks gives the same bytes.
    MemorySink chunked;
    auto w = gg::Writer<MemorySink&>::begin(chunked, gg::Layout::from(*r));
    REQUIRE(w);
    for (const auto& t : r->tensors()) {
      auto data = r->tensor_data(t);
      for (std::size_t off = 0; off < data.size(); off += 7) {
        REQUIRE(w->write(data.subspan(off, std::min<std::size_t>(7, data.size() - off))));
      }
    }
    REQUIRE(w->finish());
    CHECK(same(chunked.bytes(), golden));
  }
  fs::remove_all(dir);
}

TEST_CASE(
    "gguf writer: small_all_kv.gguf rebuilt from the README's values and edgequant's quantizers") {
  auto path = eqtest::golden_file("small_all_kv.gguf");
  auto input = eqtest::golden_file("input.f32");
  if (!path || !input) return;
  const auto x = eqtest::read_file<float>(*input);
  REQUIRE(x.size() == 64 * 4096);

  gg::Layout l;
  auto& m = l.metadata;
  m.set("t.u8", std::uint8_t{200});
  m.set("t.i8", std::int8_t{-100});
  m.set("t.u16", std::uint16_t{60000});
  m.set("t.i16", std::int16_t{-30000});
  m.set("t.u32", std::uint32_t{4000000000u});
  m.set("t.i32", std::int32_t{-2000000000});
  m.set("t.f32", 3.14159f);
  m.set("t.bool", true);
  m.set("t.str", "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93");
  m.set("t.empty", "");
  m.set("t.u64", std::uint64_t{18000000000000000000ull});
  m.set("t.i64", std::int64_t{-9000000000000000000ll});
  m.set("t.f64", 2.718281828459045);
  m.set("t.arr.i32", gg::Value::array<std::int32_t>({1, -2, 3, -4, 5}));
  m.set("t.arr.f32", gg::Value::array<float>({0.5f, -1.25f, 1e-30f}));
  m.set("t.arr.str", gg::Value::strings({"a", "",
                                         "\xC3\xBCn\xC3\xAF"
                                         "code",
                                         "the quick brown fox"}));
  m.set("t.arr.empty", gg::Value::empty_array(gg::Type::kUint8));
  m.set("t.arr.bool", gg::Value::array<bool>({true, false, true}));
  m.set("general.architecture", "test");
  m.set("general.alignment", std::uint32_t{32});
  l.tensors.push_back(gg::TensorSpec::make("vec.f32", GgmlType::kF32, {7}));
  l.tensors.push_back(gg::TensorSpec::make("mat.q4_0", GgmlType::kQ4_0, {64, 3}));
  l.tensors.push_back(gg::TensorSpec::make("mat.q8_0", GgmlType::kQ8_0, {96, 2}));
  l.tensors.push_back(gg::TensorSpec::make("mat.f16", GgmlType::kF16, {5, 2}));

  // README: row i of each matrix = input row (first + i), the first ne[0] columns.
  auto rows = [&](std::size_t first, std::size_t n, std::size_t cols) {
    std::vector<float> v;
    for (std::size_t i = 0; i < n; ++i)
      v.insert(v.end(), &x[(first + i) * 4096], &x[(first + i) * 4096] + cols);
    return v;
  };
  auto quant = [&](GgmlType t, const std::vector<float>& src, std::size_t cols) {
    std::vector<std::byte> out(src.size() / cols * ggml_row_bytes(t, cols));
    REQUIRE(quantize(t, src, cols, out));
    return out;
  };
  MemorySink sink;
  auto w = gg::Writer<MemorySink&>::begin(sink, l);
  REQUIRE_MESSAGE(w, eqtest::why(w));
  REQUIRE(w->write_tensor(bytes_of(x.data(), 28)));
  REQUIRE(w->write_tensor(quant(GgmlType::kQ4_0, rows(1, 3, 64), 64)));
  REQUIRE(w->write_tensor(quant(GgmlType::kQ8_0, rows(4, 2, 96), 96)));
  REQUIRE(w->write_tensor(quant(GgmlType::kF16, rows(6, 2, 5), 5)));
  REQUIRE(w->finish());
  CHECK(same(sink.bytes(), eqtest::read_file(*path)));
}

TEST_CASE("gguf writer: setting an existing key moves it to the end (ggml's gguf_set_*)") {
  gg::Metadata m;
  m.set("a", std::uint32_t{1});
  m.set("b", std::uint32_t{2});
  m.set("c", std::uint32_t{3});
  m.set("a", std::uint16_t{4});
  REQUIRE(m.size() == 3);
  CHECK(m[0].key == "b");
  CHECK(m[1].key == "c");
  CHECK(m[2].key == "a");
  CHECK(m.get<std::uint16_t>("a") == 4);
  CHECK_FALSE(m.get<std::uint32_t>("a"));
  CHECK(m.remove("b"));
  CHECK_FALSE(m.remove("b"));
  CHECK(m.size() == 2);
}

TEST_CASE("gguf writer: values survive a write/read round trip with their exact types") {
  gg::Layout l;
  l.metadata.set("u64.max", std::numeric_limits<std::uint64_t>::max());
  l.metadata.set("i64.min", std::numeric_limits<std::int64_t>::min());
  l.metadata.set("f32.nan", std::numeric_limits<float>::quiet_NaN());
  l.metadata.set("f64.tiny", 4.9406564584124654e-324);
  l.metadata.set("arr.u64", gg::Value::array<std::uint64_t>({0, 1ull << 63}));
  l.metadata.set("arr.i16", gg::Value::array<std::int16_t>({-32768, 32767}));
  l.metadata.set("arr.f64", gg::Value::array<double>({-0.0, 1e308}));
  MemorySink s;
  auto w = gg::Writer<MemorySink&>::begin(s, l);
  REQUIRE(w);
  REQUIRE(w->finish());
  auto r = eqtest::parse(s.bytes());
  REQUIRE(r);
  CHECK(*r->get<std::uint64_t>("u64.max") == std::numeric_limits<std::uint64_t>::max());
  CHECK(*r->get<std::int64_t>("i64.min") == std::numeric_limits<std::int64_t>::min());
  CHECK(std::isnan(*r->get<float>("f32.nan")));
  CHECK(*r->get<double>("f64.tiny") == 4.9406564584124654e-324);
  CHECK(*r->get<std::vector<std::uint64_t>>("arr.u64") ==
        std::vector<std::uint64_t>{0, 1ull << 63});
  CHECK(*r->get<std::vector<std::int16_t>>("arr.i16") == std::vector<std::int16_t>{-32768, 32767});
  auto f = *r->get<std::vector<double>>("arr.f64");
  CHECK(std::signbit(f[0]));
  CHECK(f[1] == 1e308);
  // With no tensors the header is still padded to the alignment (§4).
  CHECK(s.bytes().size() % 32 == 0);
}

TEST_CASE("gguf writer: GGUFv2 input and bool bytes other than 0/1 are normalised like ggml") {
  eqtest::GgufBytes b;
  b.header(1, 1, 2)
      .key("flag", 7)
      .u8(2)
      .tensor("w", {4}, 0, 0)
      .pad(32)
      .f32(1)
      .f32(2)
      .f32(3)
      .f32(4)
      .pad(32);
  auto r = eqtest::parse(b.bytes());
  REQUIRE(r);
  CHECK(*r->get<bool>("flag"));
  MemorySink s;
  REQUIRE(gg::write_copy(*r, s));
  auto expect = b.bytes();
  expect[4] = std::byte{3};   // version 3
  expect[40] = std::byte{1};  // the bool value byte (after key length, key, type)
  CHECK(s.bytes() == expect);
}

TEST_CASE("gguf writer: trailing 1-sized dims are kept as given, or dropped like ggml") {
  auto t = gg::TensorSpec::make("w", GgmlType::kF32, {4096, 1});
  CHECK(t.n_dims == 2);
  CHECK(t.ggml_dims().n_dims == 1);
  auto u = gg::TensorSpec::make("u", GgmlType::kF32, {1, 1, 1});
  CHECK(u.ggml_dims().n_dims == 1);
  auto v = gg::TensorSpec::make("v", GgmlType::kF32, {2, 1, 3, 1});
  CHECK(v.ggml_dims().n_dims == 3);
}

TEST_CASE("gguf writer: non-default alignment needs a matching general.alignment key") {
  gg::Layout l;
  l.alignment = 64;
  l.tensors.push_back(gg::TensorSpec::make("a", GgmlType::kF32, {3}));
  l.tensors.push_back(gg::TensorSpec::make("b", GgmlType::kF32, {5}));
  CHECK(gg::plan(l).error().code == Errc::kInvalid);  // readers would assume 32
  l.metadata.set("general.alignment", std::uint32_t{32});
  CHECK(gg::plan(l).error().what.find("misplace") != std::string::npos);
  l.metadata.set("general.alignment", std::uint64_t{64});
  CHECK(gg::plan(l).error().code == Errc::kTypeMismatch);
  l.metadata.set("general.alignment", std::uint32_t{64});
  MemorySink s;
  auto w = gg::Writer<MemorySink&>::begin(s, l);
  REQUIRE(w);
  const float a[3] = {1, 2, 3}, b[5] = {4, 5, 6, 7, 8};
  REQUIRE(w->write_tensor(bytes_of(a, 12)));
  REQUIRE(w->write_tensor(bytes_of(b, 20)));
  REQUIRE(w->finish());
  auto r = eqtest::parse(s.bytes());
  REQUIRE(r);
  CHECK(r->alignment() == 64);
  CHECK(r->data_offset() % 64 == 0);
  CHECK(r->tensors()[1].offset == 64);
  CHECK(s.bytes().size() == r->data_offset() + 128);
  CHECK((*r->tensor("b")->view<float, 1>())(4) == 8.0f);
  l.alignment = 48;
  CHECK(gg::plan(l).error().code == Errc::kInvalid);
}

TEST_CASE("gguf writer: refuses layouts that ggml or the reader would reject") {
  auto fails = [](gg::Layout l, Errc code, const char* text, gg::WriterOptions o = {}) {
    auto p = gg::plan(l, o);
    REQUIRE_FALSE(p);
    CHECK(p.error().code == code);
    CHECK_MESSAGE(p.error().what.find(text) != std::string::npos, p.error().what);
  };
  gg::Layout dup;
  dup.tensors = {gg::TensorSpec::make("w", GgmlType::kF32, {4}),
                 gg::TensorSpec::make("w", GgmlType::kF32, {4})};
  fails(dup, Errc::kInvalid, "duplicate tensor name");
  gg::Layout longname;
  longname.tensors = {gg::TensorSpec::make(std::string(64, 'n'), GgmlType::kF32, {4})};
  fails(longname, Errc::kInvalid, "63 bytes");
  gg::Layout dims5;
  dims5.tensors = {gg::TensorSpec::make("w", GgmlType::kF32, {1, 1, 1, 1, 1})};
  fails(dims5, Errc::kInvalid, "more than 4");
  gg::Layout zero;
  zero.tensors = {gg::TensorSpec::make("w", GgmlType::kF32, {4, 0})};
  fails(zero, Errc::kInvalid, "dimension 1 is 0");
  gg::Layout block;
  block.tensors = {gg::TensorSpec::make("w", GgmlType::kQ4_0, {48})};
  fails(block, Errc::kInvalid, "block size 32");
  gg::Layout removed;
  removed.tensors = {gg::TensorSpec::make("w", static_cast<GgmlType>(4), {32})};
  fails(removed, Errc::kInvalid, "not a ggml type");
  gg::Layout big;
  big.tensors = {gg::TensorSpec::make("w", GgmlType::kF32, {1ull << 40, 1ull << 30})};
  fails(big, Errc::kOverflow, "overflows");
  gg::Layout nested;
  nested.metadata.set("n", gg::Value::arrays({gg::Value::array<std::int32_t>({1})}));
  fails(nested, Errc::kUnsupported, "array of arrays");
  gg::WriterOptions allow;
  allow.allow_nested_arrays = true;
  CHECK(gg::plan(nested, allow));
  gg::Layout empty_key;
  empty_key.metadata.set("", std::uint8_t{1});
  fails(empty_key, Errc::kInvalid, "empty metadata key");
}

TEST_CASE("gguf writer: streaming checks sizes; an unfinished file never appears") {
  const auto dir = temp_dir();
  const auto out = (dir / "partial.gguf").string();
  gg::Layout l;
  l.tensors = {gg::TensorSpec::make("a", GgmlType::kF32, {4}),
               gg::TensorSpec::make("b", GgmlType::kF32, {2})};
  const float v[4] = {1, 2, 3, 4};
  {
    auto f = AtomicFile::create(out);
    REQUIRE(f);
    auto w = gg::Writer<AtomicFile>::begin(std::move(*f), l);
    REQUIRE(w);
    CHECK(w->write_tensor(bytes_of(v, 12)).error().code == Errc::kBadArgument);  // 16 needed
    CHECK(w->write(bytes_of(v, 20)).error().what.find("overruns tensor 'a'") != std::string::npos);
    REQUIRE(w->write(bytes_of(v, 10)));
    CHECK(w->current_remaining() == 6);
    REQUIRE(w->write(bytes_of(v, 6)));
    CHECK(w->current() == 1);
    auto st = w->finish();
    REQUIRE_FALSE(st);
    CHECK(st.error().what.find("'b' (2 of 2) has not been written") != std::string::npos);
  }  // the writer (and its AtomicFile) dies uncommitted
  CHECK_FALSE(fs::exists(out));
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 0);  // no temp file left either

  MemorySink s;
  auto w = gg::Writer<MemorySink&>::begin(s, l);
  REQUIRE(w);
  REQUIRE(w->write_tensor(bytes_of(v, 16)));
  REQUIRE(w->write_tensor(bytes_of(v, 8)));
  CHECK(w->write(bytes_of(v, 1)).error().what.find("more tensor data") != std::string::npos);
  REQUIRE(w->finish());
  CHECK(s.bytes().size() == w->layout_plan().file_bytes());
  fs::remove_all(dir);
}

}  // namespace eqtest_formats_gguf_writer_test
