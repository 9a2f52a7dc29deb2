// Protobuf wire codec: hand-encoded vectors, malformed input, packed/unpacked,
// groups, encoder bytes.
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "edgequant/formats/onnx/protobuf.hpp"
#include "edgequant/io/atomic_file.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_protobuf_test {

using namespace edgequant;
using namespace edgequant::pb;

namespace {
std::vector<std::byte> B(std::initializer_list<int> v) {
  std::vector<std::byte> o;
  for (int x : v) o.push_back(static_cast<std::byte>(x));
  return o;
}
std::vector<int> ints(const std::vector<std::byte>& b) {
  std::vector<int> o;
  for (auto x : b) o.push_back(static_cast<int>(x));
  return o;
}
template <class F>
std::vector<int> encode(F&& f) {
  MemorySink s;
  Encoder<MemorySink> e(s);
  REQUIRE(f(e));
  return ints(s.bytes());
}
}  // namespace

TEST_CASE("varints decode per the wire format, and over-long ones are refused") {
  std::uint64_t v = 0;
  auto one = B({0x01});
  CHECK(decode_varint(one.data(), one.size(), v) == 1);
  CHECK(v == 1);
  auto v300 = B({0xac, 0x02});  // 300 = 0b10_0101100
  CHECK(decode_varint(v300.data(), v300.size(), v) == 2);
  CHECK(v == 300);
  // -1 as int64: ten bytes, the last holding bit 63 only.
  auto m1 = B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  CHECK(decode_varint(m1.data(), m1.size(), v) == 10);
  CHECK(v == ~std::uint64_t{0});
  // Non-minimal but within 10 bytes: accepted, as protobuf does.
  auto nonmin = B({0x80, 0x80, 0x00});
  CHECK(decode_varint(nonmin.data(), nonmin.size(), v) == 3);
  CHECK(v == 0);
  // Tenth byte with bits beyond 64: overflow.
  auto over = B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
  CHECK(decode_varint(over.data(), over.size(), v) == -1);
  // Eleven bytes: over-long.
  auto eleven = B({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
  CHECK(decode_varint(eleven.data(), eleven.size(), v) == -1);
  // Ends inside the varint: truncated.
  auto cut = B({0x80, 0x80});
  CHECK(decode_varint(cut.data(), cut.size(), v) == 0);
  CHECK(varint_size(0) == 1);
  CHECK(varint_size(127) == 1);
  CHECK(varint_size(128) == 2);
  CHECK(varint_size(~std::uint64_t{0}) == 10);
}

TEST_CASE("Decoder reads every wire type with offsets and records") {
  // field 1 varint 150; field 2 LEN "hi"; field 3 I32 1.0f; field 4 I64 -2.0
  auto buf = B({0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i', 0x1d, 0x00, 0x00, 0x80,
                0x3f, 0x21, 0,    0,    0,    0,   0,   0,    0,    0xc0});
  const Path root;
  Decoder d(buf, 100, root);
  auto f1 = d.next();
  REQUIRE(f1);
  CHECK(f1->number == 1);
  CHECK(f1->wire == WireType::kVarint);
  CHECK(f1->value == 150);
  CHECK(f1->offset == 100);
  CHECK(f1->record.size() == 3);
  auto f2 = d.next();
  REQUIRE(f2);
  CHECK(f2->number == 2);
  CHECK(f2->payload_offset == 105);
  CHECK(*as_bytes(*f2, root) == "hi");
  auto f3 = d.next();
  REQUIRE(f3);
  CHECK(*as_float(*f3, root) == 1.0f);
  auto f4 = d.next();
  REQUIRE(f4);
  CHECK(*as_double(*f4, root) == -2.0);
  CHECK(d.done());
  // Wrong wire type for the accessor: an error naming the field.
  auto bad = as_float(*f1, root);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().what.find("expected I32") != std::string::npos);
}

TEST_CASE("Decoder refuses malformed records with the offset and the path") {
  const Path root;
  const Path g = root.child("graph");
  const Path n = g.child("node", 3);
  const Path a = n.child("attribute", 1);
  const Path t = a.child("t");
  const Path dims = t.child("dims");
  CHECK(dims.str() == "graph.node[3].attribute[1].t.dims");
  CHECK(root.str() == "<root>");

  struct Case {
    std::vector<std::byte> bytes;
    Errc code;
    std::uint64_t offset;
    const char* text;
  };
  const Case cases[] = {
      {B({0x12, 0x05, 'a'}), Errc::kTruncated, 12, "runs past the end"},  // LEN past end
      {B({0x12}), Errc::kTruncated, 11, "varint truncated"},              // no length
      {B({0x00, 0x01}), Errc::kInvalid, 10, "field number 0"},
      {B({0x0e, 0x01}), Errc::kInvalid, 10, "invalid wire type 6"},
      {B({0x0f}), Errc::kInvalid, 10, "invalid wire type 7"},
      {B({0x0c}), Errc::kInvalid, 10, "end-group without"},                   // EGROUP alone
      {B({0x0d, 0x00, 0x00}), Errc::kTruncated, 11, "fixed-width"},           // I32 short
      {B({0x09, 0, 0, 0, 0, 0, 0, 0}), Errc::kTruncated, 11, "fixed-width"},  // I64 short
      {B({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), Errc::kInvalid, 11,
       "over 64 bits"},
      {B({0x80, 0x80, 0x80, 0x80, 0x10}), Errc::kInvalid, 10, "exceeds 32 bits"},  // key > 2^32
      {B({0x0b, 0x08, 0x01}), Errc::kTruncated, 13, "group without"},  // unterminated group
      {B({0x0b, 0x14}), Errc::kInvalid, 11, "does not match"},         // group 1 closed by 2
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.text));
    Decoder d(c.bytes, 10, dims);
    auto f = d.next();
    REQUIRE_FALSE(f);
    CHECK(f.error().code == c.code);
    CHECK(f.error().offset == c.offset);
    CHECK(f.error().what.find(c.text) != std::string::npos);
    CHECK(f.error().what.rfind("graph.node[3].attribute[1].t.dims: ", 0) == 0);
  }
}

TEST_CASE("unknown groups are skipped whole, nested ones included, within a depth bound") {
  // field 5 start-group { field 1 varint 7; field 2 start-group { field 3 LEN "" } end 2 } end 5;
  // field 6 varint 1
  auto buf = B({0x2b, 0x08, 0x07, 0x13, 0x1a, 0x00, 0x14, 0x2c, 0x30, 0x01});
  const Path root;
  Decoder d(buf, 0, root);
  auto g = d.next();
  REQUIRE(g);
  CHECK(g->number == 5);
  CHECK(g->wire == WireType::kStartGroup);
  CHECK(g->record.size() == 8);
  auto f = d.next();
  REQUIRE(f);
  CHECK(f->number == 6);
  CHECK(d.done());
  // 40 nested groups exceed the bound of 32: an error, not a deep recursion.
  std::vector<std::byte> deep;
  for (int i = 0; i < 40; ++i) deep.push_back(std::byte{0x0b});
  for (int i = 0; i < 40; ++i) deep.push_back(std::byte{0x0c});
  Decoder dd(deep, 0, root);
  auto e = dd.next();
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kLimit);
}

TEST_CASE("repeated scalars are read packed and unpacked alike") {
  const Path root;
  // int64 field 1: unpacked 1, -1; then packed [2, 300].
  auto buf = B({0x08, 0x01, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0a,
                0x03, 0x02, 0xac, 0x02});
  Decoder d(buf, 0, root);
  std::vector<std::int64_t> v;
  while (!d.done()) {
    auto f = d.next();
    REQUIRE(f);
    REQUIRE(append_repeated(*f, v, root));
  }
  CHECK(v == std::vector<std::int64_t>{1, -1, 2, 300});
  // floats: unpacked 1.5 then packed [2.0, -0.5]
  auto fb = B({0x15, 0x00, 0x00, 0xc0, 0x3f, 0x12, 0x08, 0, 0, 0, 0x40, 0, 0, 0, 0xbf});
  Decoder df(fb, 0, root);
  std::vector<float> fv;
  while (!df.done()) {
    auto f = df.next();
    REQUIRE(f);
    REQUIRE(append_repeated(*f, fv, root));
  }
  CHECK(fv == std::vector<float>{1.5f, 2.0f, -0.5f});
  // Packed floats whose length is not a multiple of 4; packed varint cut short.
  auto odd = B({0x12, 0x03, 0, 0, 0});
  Decoder dodd(odd, 0, root);
  auto fo = dodd.next();
  REQUIRE(fo);
  CHECK_FALSE(append_repeated(*fo, fv, root));
  auto cut = B({0x0a, 0x01, 0x80});
  Decoder dcut(cut, 0, root);
  auto fc = dcut.next();
  REQUIRE(fc);
  auto st = append_repeated(*fc, v, root);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kTruncated);
  // A fixed-width record for a varint field is a type error.
  auto wrong = B({0x0d, 0, 0, 0, 0});
  Decoder dw(wrong, 0, root);
  auto fw = dw.next();
  REQUIRE(fw);
  CHECK_FALSE(append_repeated(*fw, v, root));
}

TEST_CASE("int32 keeps the low 32 bits of the varint, as protobuf does") {
  const Path root;
  auto buf = B({0x10, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});  // field 2 = -2
  Decoder d(buf, 0, root);
  auto f = d.next();
  REQUIRE(f);
  CHECK(*as_int32(*f, root) == -2);
  CHECK(*as_int64(*f, root) == -2);
}

TEST_CASE("Encoder writes the bytes the wire format prescribes") {
  CHECK(encode([](auto& e) { return e.field_int64(1, 150); }) ==
        std::vector<int>{0x08, 0x96, 0x01});
  // Negative int64 and int32 both take ten bytes (no zigzag).
  CHECK(encode([](auto& e) { return e.field_int64(2, -1); }) ==
        std::vector<int>{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  CHECK(encode([](auto& e) { return e.field_int32(2, -1); }) ==
        std::vector<int>{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  CHECK(encode([](auto& e) { return e.field_float(2, 1.0f); }) ==
        std::vector<int>{0x15, 0, 0, 0x80, 0x3f});
  CHECK(encode([](auto& e) { return e.field_double(10, -2.0); }) ==
        std::vector<int>{0x51, 0, 0, 0, 0, 0, 0, 0, 0xc0});
  CHECK(encode([](auto& e) { return e.field_string(8, "W"); }) ==
        std::vector<int>{0x42, 0x01, 'W'});
  // Field 16 needs a two-byte key: (16 << 3) | 2 = 130.
  CHECK(encode([](auto& e) { return e.field_string(16, ""); }) ==
        std::vector<int>{0x82, 0x01, 0x00});
  const std::vector<std::int64_t> dims{2, 300};
  CHECK(encode([&](auto& e) {
          return e.unpacked_varint(1, std::span<const std::int64_t>(dims));
        }) == std::vector<int>{0x08, 0x02, 0x08, 0xac, 0x02});
  CHECK(encode([&](auto& e) { return e.packed_varint(7, std::span<const std::int64_t>(dims)); }) ==
        std::vector<int>{0x3a, 0x03, 0x02, 0xac, 0x02});
  const std::vector<float> fl{1.0f};
  CHECK(encode([&](auto& e) { return e.packed_fixed(4, std::span<const float>(fl)); }) ==
        std::vector<int>{0x22, 0x04, 0, 0, 0x80, 0x3f});
  // Sub-message: length measured by a counting pass.
  CHECK(encode([](auto& e) {
          return e.message(7, [](auto& s) { return s.field_string(2, "g"); });
        }) == std::vector<int>{0x3a, 0x03, 0x12, 0x01, 'g'});
}

TEST_CASE("a sub-message body that writes differently on its second pass is caught") {
  MemorySink s;
  Encoder<MemorySink> e(s);
  int calls = 0;
  auto st = e.message(1, [&](auto& sub) { return sub.field_int64(1, ++calls == 1 ? 1 : 1000); });
  REQUIRE_FALSE(st);
  CHECK(st.error().what.find("different size") != std::string::npos);
}

}  // namespace eqtest_formats_onnx_protobuf_test
