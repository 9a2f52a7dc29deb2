// safetensors reader/writer: the reference crate's golden bytes, MLX-written
// golden files, one bad file per validation rule, streaming writes, and an
// independent Python oracle for the reference layout.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgequant/formats/safetensors.hpp"
#include "format_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_safetensors_test {

using namespace edgequant;
using namespace edgequant::safetensors;
using eqfmt::bytes_of;
using eqfmt::st_file;
using eqfmt::str_of;

namespace {

Expected<Header> parse(const std::vector<std::byte>& b, const Limits& l = {}) {
  return parse_header(b, l, "t.safetensors");
}

std::vector<std::byte> f32_bytes(std::initializer_list<float> v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.begin(), b.size());
  return b;
}

// Checks that `file` is rejected with `code` at `offset`, and that the
// message says `why`.
void expect_error(const std::vector<std::byte>& file, Errc code, std::uint64_t offset,
                  const std::string& why, const Limits& l = {}) {
  auto h = parse(file, l);
  REQUIRE_FALSE(h);
  CHECK(errc_name(h.error().code) == errc_name(code));
  CHECK(h.error().offset == offset);
  CHECK_MESSAGE(h.error().what.find(why) != std::string::npos, h.error().message());
  CHECK(h.error().file == "t.safetensors");
}

// 8 + position of `needle` in `header` (+ `past` bytes).
std::uint64_t at(const std::string& header, const std::string& needle, std::size_t past = 0) {
  const auto p = header.find(needle);
  REQUIRE(p != std::string::npos);
  return 8 + p + past;
}

}  // namespace

TEST_CASE("dtype table: names, sizes and the reference enum order") {
  CHECK(kDtypeCount == 22);
  CHECK(dtype_name(Dtype::kBF16) == "BF16");
  CHECK(dtype_bits(Dtype::kF4) == 4);
  CHECK(dtype_bits(Dtype::kF6E3M2) == 6);
  CHECK(dtype_bits(Dtype::kC64) == 64);
  CHECK(dtype_bits(Dtype::kF8E8M0) == 8);
  // §1.3, ascending.
  const char* order[] = {"BOOL",    "F4",      "F6_E2M3", "F6_E3M2",     "U8",          "I8",
                         "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16",
                         "U16",     "F16",     "BF16",    "I32",         "U32",         "F32",
                         "C64",     "F64",     "I64",     "U64"};
  for (std::size_t i = 0; i < kDtypeCount; ++i) {
    auto d = parse_dtype(order[i]);
    REQUIRE(d);
    CHECK(static_cast<std::size_t>(*d) == i);
  }
  CHECK_FALSE(parse_dtype("f32"));  // case-sensitive
  CHECK_FALSE(parse_dtype("F8_E4M3FN"));
}

TEST_CASE("writer reproduces the reference crate's golden bytes (§1.2)") {
  SUBCASE("empty file, no metadata") {
    auto b = serialize({});
    REQUIRE(b);
    CHECK(str_of(*b) == std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
    CHECK(parse(*b));
  }
  SUBCASE("empty, metadata framework=pt") {
    auto b = serialize({}, Metadata::of({{"framework", "pt"}}));
    REQUIRE(b);
    CHECK(str_of(*b) ==
          std::string("\x28\0\0\0\0\0\0\0", 8) + "{\"__metadata__\":{\"framework\":\"pt\"}}     ");
    auto h = parse(*b);
    REQUIRE(h);
    CHECK(h->metadata.form == Metadata::Form::kObject);
    REQUIRE(h->metadata.find("framework"));
    CHECK(*h->metadata.find("framework") == "pt");
  }
  const auto data = f32_bytes({0, 1, 2, 3, 4, 5});
  SUBCASE("attn.0 F32 [1,2,3]: exactly 64 header bytes, no padding") {
    const TensorData t[] = {{"attn.0", Dtype::kF32, {1, 2, 3}, data}};
    auto b = serialize(t);
    REQUIRE(b);
    const std::string expect_header =
        "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
    REQUIRE(expect_header.size() == 64);
    CHECK(
        str_of(*b) ==
        std::string("\x40\0\0\0\0\0\0\0", 8) + expect_header +
            std::string("\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40\0\0\xa0\x40", 24));
    CHECK(b->size() == 96);
  }
  SUBCASE("attn0 [1,1,2,3]: 65-byte JSON padded with 7 spaces") {
    const TensorData t[] = {{"attn0", Dtype::kF32, {1, 1, 2, 3}, data}};
    auto b = serialize(t);
    REQUIRE(b);
    CHECK(str_of(*b).substr(0, 80) ==
          std::string("\x48\0\0\0\0\0\0\0", 8) +
              "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ");
    auto f = File::from_mapped(MappedFile::from_bytes(*b));
    REQUIRE(f);
    auto v = f->view<float, 4>(f->tensors()[0]);  // 8-aligned data: typed view works
    REQUIRE(v);
    CHECK((*v)(0, 0, 1, 2) == 5.0f);
  }
  SUBCASE("F4 [1,2] takes one byte; 60-byte JSON padded to 64") {
    const std::byte one[] = {std::byte{0x21}};
    const TensorData t[] = {{"f4test", Dtype::kF4, {1, 2}, one}};
    auto b = serialize(t);
    REQUIRE(b);
    CHECK(str_of(*b).substr(0, 72) ==
          std::string("\x40\0\0\0\0\0\0\0", 8) +
              "{\"f4test\":{\"dtype\":\"F4\",\"shape\":[1,2],\"data_offsets\":[0,1]}}    ");
    auto h = parse(*b);
    REQUIRE(h);
    float out[2];
    REQUIRE(decode_to_f32(Dtype::kF4, std::span(one), out));
    CHECK(out[0] == 0.5f);  // low nibble 0x1 first (E2M1 0b0001 = 0.5)
    CHECK(out[1] == 1.0f);  // 0x2 = 1.0
  }
}

TEST_CASE("writer orders tensors by dtype (descending enum order), then name (§1.3)") {
  const std::vector<std::byte> b2(2), b4(4), b8(8), b1(1), b3(3);
  const TensorData t[] = {{"b", Dtype::kF16, {1}, b2}, {"a", Dtype::kF32, {1}, b4},
                          {"z", Dtype::kU8, {3}, b3},  {"d", Dtype::kF32, {1}, b4},
                          {"c", Dtype::kI64, {1}, b8}, {"e", Dtype::kBool, {1}, b1},
                          {"Z", Dtype::kF32, {1}, b4}};
  auto b = serialize(t, Metadata::of({{"format", "pt"}}));
  REQUIRE(b);
  const std::string expect =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"Z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]},"
      "\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
      "\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[20,22]},"
      "\"z\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[22,25]},"
      "\"e\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[25,26]}}";
  const std::string got = str_of(*b).substr(8, expect.size());
  CHECK(got == expect);
  CHECK((b->size() - 26 - 8) % 8 == 0);
}

TEST_CASE("writer escapes names like serde_json") {
  const std::vector<std::byte> b4(4);
  const TensorData t[] = {{std::string("q\"\\/\n\x01\x7f\xc3\xa9", 9), Dtype::kF32, {1}, b4}};
  auto b = serialize(t);
  REQUIRE(b);
  CHECK(str_of(*b).find("\"q\\\"\\\\/\\n\\u0001\x7f\xc3\xa9\":") == 8 + 1);
  auto h = parse(*b);
  REQUIRE(h);
  CHECK(h->tensors[0].name == t[0].name);
}

TEST_CASE("MLX-written golden files read as the MLX README says") {
  for (const char* name : {"mlx/io/mlx_nometa.safetensors", "mlx/io/mlx_meta.safetensors"}) {
    CAPTURE(name);
    auto path = eqtest::golden_file(name);
    if (!path) return;
    auto f = File::open(*path);
    REQUIRE(f);
    const bool meta = std::string(name).find("_meta") != std::string::npos;
    CHECK(f->header().header_len == (meta ? 201u : 189u));  // no padding (§6)
    CHECK(f->metadata().form == (meta ? Metadata::Form::kObject : Metadata::Form::kNull));
    if (meta) {
      REQUIRE(f->metadata().find("format"));
      CHECK(*f->metadata().find("format") == "mlx");
    }
    REQUIRE(f->tensors().size() == 3);
    const TensorInfo* z = f->find("Z");
    const TensorInfo* a = f->find("a.weight");
    const TensorInfo* b = f->find("b");
    REQUIRE((z && a && b));
    CHECK(z->dtype == Dtype::kBF16);
    CHECK(z->shape == std::vector<std::uint64_t>{1});
    CHECK(a->dtype == Dtype::kU32);
    CHECK(b->dtype == Dtype::kF32);
    CHECK(b->shape == std::vector<std::uint64_t>{2});
    float zf[1], af[1], bf[2];
    REQUIRE(decode_to_f32(z->dtype, f->data(*z), zf));
    REQUIRE(decode_to_f32(a->dtype, f->data(*a), af));
    REQUIRE(decode_to_f32(b->dtype, f->data(*b), bf));
    CHECK(zf[0] == 1.0f);
    CHECK(af[0] == 7.0f);
    CHECK(bf[0] == 1.0f);
    CHECK(bf[1] == 2.0f);
    // b's data starts at 8 + N + 6: not 4-aligned, so no typed view (§6).
    auto v = f->view<float, 1>(*b);
    REQUIRE_FALSE(v);
    CHECK(v.error().code == Errc::kInvalid);
    auto u = f->view<std::uint16_t, 1>(*z);  // bf16 bits at an even offset
    if (u) CHECK((*u)(0) == 0x3f80);
    // Rewriting with MLX's layout in the file's data order gives the same bytes.
    std::vector<TensorSpec> specs;
    for (const auto& t : f->tensors()) specs.push_back({t.name, t.dtype, t.shape});
    MemorySink sink;
    auto w = Writer<MemorySink>::start(sink, specs, f->metadata(),
                                       {HeaderStyle::kMlx, TensorOrder::kAsGiven});
    REQUIRE(w);
    for (const auto& t : f->tensors()) REQUIRE(w->write_tensor(t.name, f->data(t)));
    REQUIRE(w->finish());
    CHECK(eqfmt::hex(sink.bytes()) == eqfmt::hex(f->mapped().bytes()));
  }
}

TEST_CASE("reader accepts what the reference accepts") {
  SUBCASE("leading and trailing JSON whitespace; __metadata__ null; extra fields ignored") {
    const std::string h =
        "\n\t "
        "{\"__metadata__\":null,\"w\":{\"extra\":[{\"x\":[1,2,{}]},null,true,1.5,-3],\"dtype\":"
        "\"F32\","
        "\"shape\":[2],\"data_offsets\":[0,8],\"more\":\"s\"}} \r\n\t";
    auto r = parse(st_file(h, std::string(8, '\0')));
    REQUIRE(r);
    CHECK(r->metadata.form == Metadata::Form::kNull);
    REQUIRE(r->tensors.size() == 1);
    CHECK(r->tensors[0].header_offset == 8 + h.find("\"w\""));
  }
  SUBCASE("zero-size tensors sharing an offset, a 0-rank scalar, header order != data order") {
    const std::string h =
        "{\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
        "\"e2\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[8,8]},"
        "\"tail\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]},"
        "\"e1\":{\"dtype\":\"F16\",\"shape\":[2,0],\"data_offsets\":[8,8]}}";
    auto r = parse(st_file(h, std::string(10, '\x07')));
    REQUIRE(r);
    REQUIRE(r->tensors.size() == 4);
    CHECK(r->tensors[0].name == "s");
    CHECK(r->tensors[0].numel() == 1);
    CHECK(r->tensors[3].name == "tail");
    CHECK(r->find("e1"));
    CHECK(r->find("e1")->nbytes() == 0);
    CHECK_FALSE(r->find("e3"));
  }
  SUBCASE("N == 100,000,000 is not too large (only too long for this file)") {
    std::string s;
    eqfmt::put_u64(s, 100'000'000);
    s += "{}";
    auto r = parse(bytes_of(s));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::kTruncated);
  }
}

TEST_CASE("one bad file per validation rule: code and offset") {
  const std::string ok_entry = "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
  const std::string d8(8, '\0');
  SUBCASE("1 shorter than 8 bytes") {
    expect_error(bytes_of("1234567"), Errc::kTruncated, 0, "shorter than");
  }
  SUBCASE("2 header length over 100,000,000") {
    std::string s;
    eqfmt::put_u64(s, 100'000'001);
    s += "{}";
    expect_error(bytes_of(s), Errc::kLimit, 0, "exceeds the limit");
    std::string huge;
    eqfmt::put_u64(huge, ~std::uint64_t{0});
    expect_error(bytes_of(huge), Errc::kLimit, 0, "exceeds the limit");
  }
  SUBCASE("3 header runs past EOF") {
    std::string s;
    eqfmt::put_u64(s, 10);
    s += "{}";
    expect_error(bytes_of(s), Errc::kTruncated, 0, "runs past the end");
  }
  SUBCASE("4 header is not UTF-8") {
    const std::string h = "{\"a\xff\":1}";
    expect_error(st_file(h), Errc::kInvalid, 8 + 3, "not valid UTF-8");
    const std::string overlong = "{\"\xc0\xaf\":1}";
    expect_error(st_file(overlong), Errc::kInvalid, 8 + 2, "not valid UTF-8");
    const std::string surrogate = "{\"\xed\xa0\x80\":1}";
    expect_error(st_file(surrogate), Errc::kInvalid, 8 + 2, "not valid UTF-8");
    expect_error(st_file("\xef\xbb\xbf{}"), Errc::kInvalid, 8, "byte-order mark");
  }
  SUBCASE("5 JSON syntax") {
    expect_error(st_file("{"), Errc::kInvalid, 8 + 1, "malformed JSON");  // at the end of input
    expect_error(st_file("{\"a\":}"), Errc::kInvalid, 8 + 5, "malformed JSON");
    expect_error(st_file(""), Errc::kInvalid, 8, "malformed JSON");
    expect_error(st_file("{} x"), Errc::kInvalid, 8 + 3, "malformed JSON");
    expect_error(st_file("{}{}"), Errc::kInvalid, 8 + 2, "malformed JSON");
  }
  SUBCASE("5 structure and types") {
    expect_error(st_file("[]"), Errc::kTypeMismatch, 8 + 1, "not a JSON object");
    expect_error(st_file("7"), Errc::kTypeMismatch, 8 + 1, "not a JSON object");
    std::string h = "{\"w\":[]}";
    expect_error(st_file(h), Errc::kTypeMismatch, at(h, "[", 1), "is not an object");
    h = "{\"w\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kUnsupported, at(h, "\"F31\"", 5), "unknown dtype \"F31\"");
    h = "{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, "7", 1),
                 "dtype of tensor \"w\" is not a string");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, "2.0", 3), "not an unsigned integer");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, "-2", 2), "not an unsigned integer");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, "1e0", 3), "not an unsigned integer");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, ":2", 2),
                 "shape of tensor \"w\" is not an array");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551616]}}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, "18446744073709551616", 20),
                 "not an unsigned integer");
  }
  SUBCASE("5 data_offsets arity, missing and duplicate fields") {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, at(h, "8,8", 3), "more than 2 entries");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, at(h, "[0]", 3), "fewer than 2 entries");
    h = "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, at(h, "\"w\""), "has no \"shape\" field");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, 8 + h.rfind("\"dtype\""),
                 "duplicate field \"dtype\"");
  }
  SUBCASE("5 __metadata__ must be a string map") {
    std::string h = "{\"__metadata__\":{\"step\":3}," + ok_entry + "}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, ":3", 2), "\"step\" is not a string");
    h = "{\"__metadata__\":[\"a\"]," + ok_entry + "}";
    expect_error(st_file(h, d8), Errc::kTypeMismatch, at(h, "[", 1),
                 "__metadata__ must be an object");
    h = "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}";
    expect_error(st_file(h), Errc::kTypeMismatch, at(h, ":{\"b", 2), "\"a\" is not a string");
  }
  SUBCASE("3.1 duplicate names (even with identical offsets, which serde would accept)") {
    std::string h = "{" + ok_entry + "," + ok_entry + "}";
    expect_error(st_file(h, d8), Errc::kInvalid, 8 + h.rfind("\"w\""),
                 "duplicate tensor name \"w\"");
    h = "{\"__metadata__\":{},\"__metadata__\":null}";
    expect_error(st_file(h), Errc::kInvalid, 8 + h.rfind("\"__metadata__\""),
                 "duplicate key \"__metadata__\"");
    h = "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}";
    expect_error(st_file(h), Errc::kInvalid, 8 + h.rfind("\"k\""),
                 "duplicate __metadata__ key \"k\"");
  }
  SUBCASE("6 hole, overlap, reversed range, size mismatch, overflow, misaligned") {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, at(h, "\"w\""), "leaves a hole");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, at(h, "\"b\""), "overlaps the previous tensor");
    h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}";
    expect_error(st_file(h, d8), Errc::kInvalid, at(h, "\"b\""), "ends before it begins");
    h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}";
    expect_error(st_file(h), Errc::kInvalid, at(h, "\"a\""), "ends before it begins");
    h = "{\"w\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,4]}}";
    expect_error(st_file(h, "1234"), Errc::kInvalid, at(h, "\"w\""), "needs 16");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,18446744073709551614],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kOverflow, at(h, "\"w\""), "overflows");
    h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kOverflow, at(h, "\"w\""),
                 "overflows");  // elements ok, bits not
    h = "{\"w\":{\"dtype\":\"F4\",\"shape\":[1,3],\"data_offsets\":[0,2]}}";
    expect_error(st_file(h, "12"), Errc::kInvalid, at(h, "\"w\""), "not a whole number of bytes");
    h = "{\"w\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}";
    CHECK(parse(st_file(h, "123")));  // 4 x 6 bits = 3 bytes
  }
  SUBCASE("7 the data buffer is covered exactly") {
    const std::string h = "{" + ok_entry + "}";
    expect_error(st_file(h, d8 + "junk"), Errc::kInvalid, 8 + h.size() + 8, "4 trailing bytes");
    expect_error(st_file(h, "1234"), Errc::kTruncated, 8 + h.size() + 4, "needs 8 bytes");
    expect_error(st_file("{}", "x"), Errc::kInvalid, 8 + 2, "1 trailing bytes");
    const std::string big =
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[1152921504606846976],"
        "\"data_offsets\":[0,1152921504606846976]}}";
    expect_error(st_file(big), Errc::kTruncated, 8 + big.size(), "needs 1152921504606846976");
  }
  SUBCASE("3.1 resource limits") {
    Limits l;
    l.max_tensors = 1;
    const std::string two =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    expect_error(st_file(two, d8), Errc::kLimit, at(two, "\"b\"", 3), "more than 1 tensors", l);
    l = {};
    l.max_rank = 2;
    std::string h = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,8],\"data_offsets\":[0,8]}}";
    expect_error(st_file(h, d8), Errc::kLimit, at(h, "1,8", 3), "more than 2 dimensions", l);
    l = {};
    l.max_header_bytes = 16;
    expect_error(st_file("{" + ok_entry + "}", d8), Errc::kLimit, 0, "exceeds the limit of 16", l);
    // serde_json's recursion limit, inside an ignored field.
    h = "{\"w\":{\"x\":" + std::string(200, '[') + std::string(200, ']') + "}}";
    expect_error(st_file(h), Errc::kLimit, at(h, "[", 127), "nested too deeply");
  }
}

TEST_CASE("typed views and float decoding") {
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.5f};
  std::vector<std::uint16_t> bf;
  for (float x : f) bf.push_back(f32_to_bf16(x));
  const std::vector<std::int32_t> ints = {-7, 9};
  const TensorData t[] = {{"f", Dtype::kF32, {2, 3}, eqfmt::as_bytes_of(f)},
                          {"bf", Dtype::kBF16, {6}, eqfmt::as_bytes_of(bf)},
                          {"i", Dtype::kI32, {2}, eqfmt::as_bytes_of(ints)}};
  auto b = serialize(t);
  REQUIRE(b);
  auto file = File::from_mapped(MappedFile::from_bytes(*b));
  REQUIRE(file);
  auto v = file->view<float, 2>(*file->find("f"));
  REQUIRE(v);
  CHECK((*v)(1, 0) == 0.0f);
  CHECK((*v)(0, 2) == 3.25f);
  CHECK(file->view<float, 1>(*file->find("f")).error().code == Errc::kTypeMismatch);   // rank
  CHECK(file->view<double, 2>(*file->find("f")).error().code == Errc::kTypeMismatch);  // dtype
  CHECK(file->view<std::int32_t, 2>(*file->find("f")).error().code == Errc::kTypeMismatch);
  auto iv = file->view<std::int32_t, 1>(*file->find("i"));
  REQUIRE(iv);
  CHECK((*iv)(0) == -7);
  CHECK_FALSE(file->view<std::uint32_t, 1>(*file->find("i")));  // signedness differs
  std::vector<float> out(6);
  REQUIRE(decode_to_f32(Dtype::kBF16, file->data(*file->find("bf")), out));
  CHECK(out == f);
  CHECK(decode_to_f32(Dtype::kC64, file->data(*file->find("f")), std::span(out).first(1))
            .error()
            .code == Errc::kUnsupported);
  CHECK(decode_to_f32(Dtype::kF32, file->data(*file->find("i")), out).error().code ==
        Errc::kBadArgument);
  auto missing = file->data("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kNotFound);
}

TEST_CASE("streaming writer: chunks, order, sizes, atomic output") {
  std::vector<TensorSpec> specs = {
      {"b", Dtype::kU8, {5}}, {"a", Dtype::kU8, {3}}, {"e", Dtype::kF32, {0}}};
  MemorySink sink;
  auto w = Writer<MemorySink>::start(sink, specs, Metadata::of({{"format", "pt"}}));
  REQUIRE(w);
  REQUIRE(w->next());
  CHECK(w->next()->name == "a");  // same dtype: by name; empty "e" is skipped
  CHECK(w->write_tensor("b", bytes_of("12345")).error().code == Errc::kBadArgument);  // not next
  CHECK(w->write(bytes_of("abcd")).error().code == Errc::kBadArgument);               // overruns a
  REQUIRE(w->write(bytes_of("a")));
  REQUIRE(w->write(bytes_of("bc")));
  CHECK(w->next()->name == "b");
  CHECK(w->finish().error().code == Errc::kBadArgument);
  REQUIRE(w->write_tensor("e", {}));  // empty tensors need no bytes
  REQUIRE(w->write(bytes_of("12345")));
  CHECK(w->next() == nullptr);
  CHECK(w->write(bytes_of("x")).error().code == Errc::kBadArgument);
  REQUIRE(w->finish());
  auto f = File::from_mapped(MappedFile::from_bytes(sink.bytes()));
  REQUIRE(f);
  CHECK(str_of(f->data(*f->find("a"))) == "abc");
  CHECK(str_of(f->data(*f->find("b"))) == "12345");

  // Bad specs.
  CHECK(plan({{"__metadata__", Dtype::kU8, {1}}}).error().code == Errc::kBadArgument);
  CHECK(plan({{"x", Dtype::kU8, {1}}, {"x", Dtype::kF32, {1}}}).error().code == Errc::kBadArgument);
  CHECK(plan({{"x", Dtype::kF4, {3}}}).error().code == Errc::kBadArgument);
  CHECK(plan({{"\xff", Dtype::kU8, {1}}}).error().code == Errc::kBadArgument);
  CHECK(plan({}, Metadata::of({{"k", "1"}, {"k", "2"}})).error().code == Errc::kBadArgument);
  WriteOptions small;
  small.max_header_bytes = 10;
  CHECK(plan({{"x", Dtype::kU8, {1}}}, {}, small).error().code == Errc::kLimit);

  // save_file: nothing is left behind on failure, the file appears on success.
  eqfmt::TempDir dir("st_atomic");
  const std::string path = dir.file("m.safetensors");
  const std::vector<std::byte> wrong(3);
  const TensorData bad[] = {{"x", Dtype::kF32, {1}, wrong}};
  CHECK_FALSE(save_file(path, bad));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 0);
  const std::vector<std::byte> right(4);
  const TensorData good[] = {{"x", Dtype::kF32, {1}, right}};
  REQUIRE(save_file(path, good));
  CHECK(File::open(path));
}

TEST_CASE("random round trips: write -> read -> identical bytes and values -> rewrite identical") {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 40; ++iter) {
    CAPTURE(iter);
    const std::size_t n = rng() % 6;
    std::vector<std::vector<std::byte>> store;
    std::vector<TensorData> ts;
    for (std::size_t i = 0; i < n; ++i) {
      Dtype d = static_cast<Dtype>(rng() % kDtypeCount);
      std::vector<std::uint64_t> shape(rng() % 4);
      for (auto& s : shape) s = rng() % 5;
      auto nb = tensor_nbytes(d, shape);
      if (!nb) {
        d = Dtype::kU8;
        nb = tensor_nbytes(d, shape);
      }
      std::vector<std::byte> data(*nb);
      for (auto& x : data) x = static_cast<std::byte>(rng());
      store.push_back(std::move(data));
      ts.push_back({"t" + std::to_string(rng() % 1000) + "." + std::to_string(i), d, shape, {}});
    }
    for (std::size_t i = 0; i < n; ++i) ts[i].data = store[i];
    const Metadata md =
        rng() % 2 ? Metadata{} : Metadata::of({{"format", "pt"}, {"k", std::to_string(iter)}});
    for (auto style : {HeaderStyle::kReference, HeaderStyle::kMlx}) {
      auto b = serialize(ts, md, {style});
      REQUIRE(b);
      auto f = File::from_mapped(MappedFile::from_bytes(*b));
      REQUIRE(f);
      REQUIRE(f->tensors().size() == n);
      if (style == HeaderStyle::kReference) CHECK(f->header().data_offset % 8 == 0);
      for (const auto& t : ts) {
        const TensorInfo* g = f->find(t.name);
        REQUIRE(g);
        CHECK(g->dtype == t.dtype);
        CHECK(g->shape == t.shape);
        CHECK(eqfmt::hex(f->data(*g)) == eqfmt::hex(t.data));
        // Reference layout: each tensor starts at a multiple of its element size.
        if (style == HeaderStyle::kReference && dtype_bits(t.dtype) >= 8 && g->nbytes()) {
          CHECK((f->header().data_offset + g->begin) % (dtype_bits(t.dtype) / 8) == 0);
        }
      }
      std::vector<TensorData> again;
      for (const auto& t : f->tensors()) again.push_back({t.name, t.dtype, t.shape, f->data(t)});
      auto b2 = serialize(
          again, f->metadata(),
          {style, style == HeaderStyle::kMlx ? TensorOrder::kAsGiven : TensorOrder::kReference});
      REQUIRE(b2);
      CHECK(eqfmt::hex(*b2) == eqfmt::hex(*b));
    }
  }
}

TEST_CASE(
    "python oracle: our files match the reference layout rebuilt from the spec, and numpy reads "
    "the data") {
  if (!eqfmt::have_numpy()) return;
  eqfmt::TempDir dir("st_py");
  const std::vector<float> f = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f};
  std::vector<std::uint16_t> h16;
  for (float x : f) h16.push_back(f32_to_f16(x));
  const std::vector<std::int64_t> i64 = {-5, 1LL << 40};
  const std::vector<std::uint8_t> u8 = {1, 2, 3, 250, 0};
  const std::vector<double> f64 = {3.141592653589793, -2.5};
  const std::vector<std::uint8_t> bools = {1, 0, 1};
  const TensorData t[] = {{"model.layers.0.w\xc3\xa9", Dtype::kF32, {2, 3}, eqfmt::as_bytes_of(f)},
                          {"h", Dtype::kF16, {3, 2}, eqfmt::as_bytes_of(h16)},
                          {"ids", Dtype::kI64, {2}, eqfmt::as_bytes_of(i64)},
                          {"bytes", Dtype::kU8, {5}, eqfmt::as_bytes_of(u8)},
                          {"d", Dtype::kF64, {1, 2}, eqfmt::as_bytes_of(f64)},
                          {"mask", Dtype::kBool, {3}, eqfmt::as_bytes_of(bools)},
                          {"quo\"te", Dtype::kF32, {0}, {}}};
  const std::string path = dir.file("o.safetensors");
  REQUIRE(save_file(path, t, Metadata::of({{"format", "pt"}})));
  // The oracle rebuilds the header from the tensor list with Python's json
  // module and the spec's rules (§1.2, §1.3), then reads data with numpy.
  const std::string script = R"PY(
import json, struct, sys
import numpy as np
order = ["BOOL","F4","F6_E2M3","F6_E3M2","U8","I8","F8_E5M2","F8_E4M3","F8_E8M0","F8_E4M3FNUZ",
         "F8_E5M2FNUZ","I16","U16","F16","BF16","I32","U32","F32","C64","F64","I64","U64"]
npt = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "U8": "u1", "F64": "<f8", "BOOL": "?"}
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n].decode("utf-8"))
meta = hdr.pop("__metadata__")
items = sorted(hdr.items(), key=lambda kv: (-order.index(kv[1]["dtype"]), kv[0].encode()))
rebuilt = {"__metadata__": meta}
off = 0
for k, v in items:
    size = int(np.prod(v["shape"])) * np.dtype(npt[v["dtype"]]).itemsize
    rebuilt[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + size]}
    off += size
text = json.dumps(rebuilt, separators=(",", ":"), ensure_ascii=False).encode()
text += b" " * ((8 - len(text) % 8) % 8)
assert raw[:8 + n] == struct.pack("<Q", len(text)) + text, "header differs from the reference layout"
assert len(raw) == 8 + n + off, "file size"
for k, v in sorted(hdr.items()):
    b, e = v["data_offsets"]
    a = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=npt[v["dtype"]]).reshape(v["shape"])
    print(k.encode("unicode_escape").decode(), v["dtype"], list(a.shape), repr(a.ravel().tolist()))
)PY";
  bool ok = false;
  const std::string out = eqfmt::run_python(script, {path}, ok);
  REQUIRE_MESSAGE(ok, out);
  CHECK(out.find("bytes U8 [5] [1, 2, 3, 250, 0]") != std::string::npos);
  CHECK(out.find("d F64 [1, 2] [3.141592653589793, -2.5]") != std::string::npos);
  CHECK(out.find("h F16 [3, 2] [0.5, -1.25, 3.0, 0.0010004043579101562, -0.0, 65504.0]") !=
        std::string::npos);
  CHECK(out.find("ids I64 [2] [-5, 1099511627776]") != std::string::npos);
  CHECK(out.find("mask BOOL [3] [True, False, True]") != std::string::npos);
  CHECK(out.find("model.layers.0.w\\xe9 F32 [2, 3] [0.5, -1.25, 3.0, 0.0010000000474974513, -0.0, "
                 "65504.0]") != std::string::npos);
  CHECK(out.find("quo\"te F32 [0] []") != std::string::npos);
}

#if defined(__linux__)
namespace {
// Resident pages of this process (/proc/self/statm, second field).
long resident_pages() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident;
}
}  // namespace

TEST_CASE("streaming: release() drops a tensor's pages from the resident set") {
  eqfmt::TempDir dir("st_rss");
  const std::string path = dir.file("big.safetensors");
  const std::vector<std::byte> block(32u << 20, std::byte{1});  // 32 MiB
  const TensorData t[] = {{"a", Dtype::kU8, {block.size()}, block},
                          {"b", Dtype::kU8, {block.size()}, block}};
  REQUIRE(save_file(path, t));
  auto f = File::open(path, {}, MappedFile::Mode::kMmap);
  REQUIRE(f);
  const long page = ::sysconf(_SC_PAGESIZE);
  const long before = resident_pages();
  REQUIRE(before > 0);
  std::uint64_t sum = 0;
  for (const auto& info : f->tensors()) {
    const auto d = f->data(info);
    for (std::size_t i = 0; i < d.size(); i += static_cast<std::size_t>(page))
      sum += static_cast<unsigned>(d[i]);
  }
  CHECK(sum == 2 * block.size() / static_cast<std::uint64_t>(page));
  const long touched = resident_pages();
  CHECK(touched - before >= (48l << 20) / page);  // most of the 64 MiB became resident
  for (const auto& info : f->tensors()) f->release(info);
  const long released = resident_pages();
  CHECK(touched - released >= (48l << 20) / page);     // and left again
  CHECK(f->data(*f->find("b"))[123] == std::byte{1});  // still readable
}
#endif

}  // namespace eqtest_formats_safetensors_test
