// ONNX messages from hand-encoded bytes: every tensor encoding (typed fields,
// raw, sub-byte packing of the types python onnx 1.12 lacks), malformed
// tensors, error paths, depth limits, lazy payloads.
#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "formats/onnx/onnx_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_model_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {
std::vector<std::byte> model_bytes(std::initializer_list<int> v) {
  std::vector<std::byte> o;
  for (int x : v) o.push_back(static_cast<std::byte>(x));
  return o;
}
Expected<Tensor> tensor_from(const std::vector<std::byte>& bytes) {
  return parse_message<Tensor>(bytes);
}
std::vector<std::byte> bytes_of(const Tensor& t) {
  auto v = serialize_to_bytes(t);
  REQUIRE(v);
  return *v;
}
std::vector<int> ints(std::span<const std::byte> b) {
  std::vector<int> o;
  for (auto x : b) o.push_back(static_cast<int>(x));
  return o;
}
}  // namespace

TEST_CASE("4-bit and 2-bit elements pack low bits first over the flattened tensor") {
  // INT4 [-8, 7, -1, 0, 3]: codes 8, 7, 15, 0, 3 -> 0x78, 0x0f, 0x03 (padding nibble 0).
  const std::vector<std::uint8_t> i4{8, 7, 15, 0, 3};
  CHECK(ints(pack_bits(i4, 4)) == std::vector<int>{0x78, 0x0f, 0x03});
  // INT2 [-2, 1, -1, 0, 1]: codes 2, 1, 3, 0, 1 -> 2 | 1<<2 | 3<<4 = 0x36, then 0x01.
  const std::vector<std::uint8_t> i2{2, 1, 3, 0, 1};
  CHECK(ints(pack_bits(i2, 2)) == std::vector<int>{0x36, 0x01});
  Tensor t = b::tensor("q", DataType::kInt4, {5}, Bytes::own(pack_bits(i4, 4)));
  CHECK(*to_int64s(t) == std::vector<std::int64_t>{-8, 7, -1, 0, 3});
  t.data_type = static_cast<std::int32_t>(DataType::kUint4);
  CHECK(*to_int64s(t) == std::vector<std::int64_t>{8, 7, 15, 0, 3});
  Tensor t2 = b::tensor("q2", DataType::kInt2, {5}, Bytes::own(pack_bits(i2, 2)));
  CHECK(*to_int64s(t2) == std::vector<std::int64_t>{-2, 1, -1, 0, 1});
  CHECK(*packed_bytes(static_cast<std::int32_t>(DataType::kInt4), 5) == 3);
  CHECK(*packed_bytes(static_cast<std::int32_t>(DataType::kUint2), 5) == 2);
  CHECK(*packed_bytes(static_cast<std::int32_t>(DataType::kFloat4E2M1), 0) == 0);
  CHECK(!packed_bytes(static_cast<std::int32_t>(DataType::kFloat), ~std::uint64_t{0}));
  // FLOAT4E2M1 [0.5, -6, 1.5]: codes 0b0001, 0b1111, 0b0011 -> 0xf1, 0x03.
  Tensor f4 = b::tensor("f4", DataType::kFloat4E2M1, {3}, Bytes::own(model_bytes({0xf1, 0x03})));
  CHECK(*to_floats(f4) == std::vector<float>{0.5f, -6.0f, 1.5f});
}

TEST_CASE("typed payload fields decode to the raw encoding and re-encode to the same bytes") {
  struct Case {
    const char* what;
    std::vector<std::byte> wire;
    std::vector<int> raw;
  };
  const Case cases[] = {
      // dims [5], INT4, int32_data packed [0x78, 0x0f, 0x03]: one packed byte per entry.
      {"int4 int32_data",
       model_bytes({0x08, 0x05, 0x10, 0x16, 0x2a, 0x03, 0x78, 0x0f, 0x03}),
       {0x78, 0x0f, 0x03}},
      // dims [3], FLOAT8E4M3FN bit patterns 0x38 (1), 0xc0 (-2), 0x7e (448).
      {"fp8 int32_data",
       model_bytes({0x08, 0x03, 0x10, 0x11, 0x2a, 0x04, 0x38, 0xc0, 0x01, 0x7e}),
       {0x38, 0xc0, 0x7e}},
      // dims [1], INT8 -1: sign-extended ten-byte varint.
      {"int8 negative",
       model_bytes({0x08, 0x01, 0x10, 0x03, 0x2a, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01}),
       {0xff}},
      // dims [1], UINT16 65535.
      {"uint16", model_bytes({0x08, 0x01, 0x10, 0x04, 0x2a, 0x03, 0xff, 0xff, 0x03}), {0xff, 0xff}},
      // dims [1], UINT32 in uint64_data.
      {"uint32 uint64_data",
       model_bytes({0x08, 0x01, 0x10, 0x0c, 0x5a, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f}),
       {0xff, 0xff, 0xff, 0xff}},
      // dims [2], FLOAT16 1.0 (0x3c00) and -2.0 (0xc000) in int32_data.
      {"f16 int32_data",
       model_bytes({0x08, 0x02, 0x10, 0x0a, 0x2a, 0x05, 0x80, 0x78, 0x80, 0x80, 0x03}),
       {0x00, 0x3c, 0x00, 0xc0}},
      // dims [2], INT64 -1 and 1 in int64_data.
      {"int64",
       model_bytes({0x08, 0x02, 0x10, 0x07, 0x3a, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
          0x01, 0x01}),
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.what));
    auto t = tensor_from(c.wire);
    REQUIRE_MESSAGE(t, (t ? "" : t.error().message()));
    CHECK(t->storage == Storage::kTyped);
    CHECK(ints(t->data.span()) == c.raw);
    CHECK(bytes_of(*t) == c.wire);
  }
  auto fp8 = tensor_from(cases[1].wire);
  CHECK(*to_floats(*fp8) == std::vector<float>{1.0f, -2.0f, 448.0f});
  auto f16 = tensor_from(cases[5].wire);
  CHECK(*to_floats(*f16) == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("raw payloads of the newer types decode exactly") {
  // FLOAT8E5M2 0x3c = 1.0, 0xfc = -Inf; E8M0 0x7f = 1, 0x80 = 2, 0xff = NaN; BF16 0x3f80 = 1.
  Tensor e5 = b::tensor("e5", DataType::kFloat8E5M2, {2}, Bytes::own(model_bytes({0x3c, 0xfc})));
  auto f = to_floats(e5);
  REQUIRE(f);
  CHECK((*f)[0] == 1.0f);
  CHECK((*f)[1] == -INFINITY);
  Tensor e8 = b::tensor("e8", DataType::kFloat8E8M0, {3}, Bytes::own(model_bytes({0x7f, 0x80, 0xff})));
  auto g = to_floats(e8);
  REQUIRE(g);
  CHECK((*g)[0] == 1.0f);
  CHECK((*g)[1] == 2.0f);
  CHECK(std::isnan((*g)[2]));
  Tensor bf = b::tensor("bf", DataType::kBfloat16, {1}, Bytes::own(model_bytes({0x80, 0x3f})));
  CHECK(*to_floats(bf) == std::vector<float>{1.0f});
}

TEST_CASE("malformed tensors are refused with the reason") {
  struct Case {
    const char* what;
    std::vector<std::byte> wire;
    const char* text;
  };
  const Case cases[] = {
      {"raw size", model_bytes({0x08, 0x02, 0x10, 0x01, 0x4a, 0x04, 0, 0, 0, 0}),
       "4 bytes, dims and FLOAT call for 8"},
      {"two payloads", model_bytes({0x08, 0x01, 0x10, 0x01, 0x22, 0x04, 0, 0, 0, 0, 0x4a, 0x04, 0, 0, 0, 0}),
       "more than one payload"},
      {"negative dim",
       model_bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01}),
       "is negative"},
      {"int8 range", model_bytes({0x08, 0x01, 0x10, 0x03, 0x2a, 0x02, 0xc8, 0x01}),
       "= 200 is out of range for INT8"},
      {"uint32 range", model_bytes({0x08, 0x01, 0x10, 0x0c, 0x5a, 0x05, 0x80, 0x80, 0x80, 0x80, 0x10}),
       "does not fit UINT32"},
      {"field for type", model_bytes({0x08, 0x01, 0x10, 0x06, 0x22, 0x04, 0, 0, 0, 0}),
       "float_data cannot hold data type 6"},
      {"entry count", model_bytes({0x08, 0x02, 0x10, 0x06, 0x2a, 0x01, 0x05}), "has 1 entries"},
      {"no payload", model_bytes({0x08, 0x02, 0x10, 0x01}), "no payload"},
      {"data_location", model_bytes({0x10, 0x01, 0x70, 0x05}), "data_location 5"},
      {"external no location", model_bytes({0x10, 0x01, 0x70, 0x01}), "without a location"},
      {"external + raw", model_bytes({0x10, 0x01, 0x4a, 0x04, 0, 0, 0, 0, 0x70, 0x01}),
       "also has an inline payload"},
      {"external offset",
       model_bytes({0x10, 0x01, 0x6a, 0x0c, 0x0a, 0x06, 'o', 'f', 'f', 's', 'e', 't', 0x12, 0x02, '-', '1',
          0x70, 0x01}),
       "is not a non-negative integer"},
      {"string raw", model_bytes({0x10, 0x08, 0x4a, 0x00}), "STRING tensor with a numeric payload"},
      {"strings count", model_bytes({0x08, 0x02, 0x10, 0x08, 0x32, 0x01, 'a'}), "string_data has 1 entries"},
      {"strings in float", model_bytes({0x10, 0x01, 0x32, 0x01, 'a'}),
       "string_data in a tensor of type FLOAT"},
      {"dims overflow", model_bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x08, 0xff, 0xff, 0xff, 0xff,
                           0x0f, 0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x01, 0x4a, 0x00}),
       "overflows"},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.what));
    auto t = tensor_from(c.wire);
    REQUIRE_FALSE(t);
    CHECK_MESSAGE(t.error().what.find(c.text) != std::string::npos, t.error().what);
  }
}

TEST_CASE("errors name the field path and byte offset inside nested messages") {
  // A model whose graph.node[3].attribute[1].t.dims holds a truncated packed varint.
  MemorySink s;
  pb::Encoder<MemorySink> e(s);
  const auto bad_tensor = [](auto& t) {
    return t.field_bytes(
        1, std::span<const std::byte>(model_bytes({0x80}).data(), 1));  // packed dims, cut short
  };
  REQUIRE(e.field_int64(1, 8));
  REQUIRE(e.message(7, [&](auto& g) -> Status {
    for (int i = 0; i < 3; ++i) {
      EDGEQUANT_TRY(g.message(1, [](auto& n) { return n.field_string(4, "Relu"); }));
    }
    return g.message(1, [&](auto& n) -> Status {
      EDGEQUANT_TRY(n.message(5, [](auto& a) { return a.field_string(1, "alpha"); }));
      return n.message(5, [&](auto& a) -> Status {
        EDGEQUANT_TRY(a.field_string(1, "value"));
        return a.message(5, bad_tensor);
      });
    });
  }));
  const auto bytes = s.take();
  auto m = parse_model(bytes, nullptr, {}, "bad.onnx");
  REQUIRE_FALSE(m);
  CHECK(m.error().code == Errc::kTruncated);
  CHECK(m.error().file == "bad.onnx");
  CHECK(m.error().what.rfind("graph.node[3].attribute[1].t.dims: ", 0) == 0);
  // The offset is the byte 0x80 itself: the last byte of the file.
  CHECK(m.error().offset == bytes.size() - 1);
  CHECK(m.error().message().find("bad.onnx: offset ") == 0);
}

TEST_CASE("nesting deeper than the limit is an error, not a deep recursion") {
  // 40 levels of If-in-If: each level is graph -> node -> attribute (3 messages).
  Graph g = b::graph({}, "leaf", {}, {});
  for (int i = 0; i < 40; ++i) {
    g = b::graph({b::node("If", {"c"}, {"o"}, {b::attr("then_branch", std::move(g))})}, "g", {},
                 {});
  }
  Model m = b::model(std::move(g), 8, {b::opset("", 17)});
  auto bytes = serialize_to_bytes(m);
  REQUIRE(bytes);
  auto r = parse_model(*bytes);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kLimit);
  CHECK(r.error().what.find("nested deeper than 100") != std::string::npos);
  ParseOptions deep;
  deep.max_depth = 200;
  auto ok = parse_model(*bytes, nullptr, deep);
  REQUIRE(ok);
  CHECK(*serialize_to_bytes(*ok) == *bytes);
}

TEST_CASE("unknown fields survive a rewrite, after the known ones") {
  // OperatorSetId: field 9 (unknown) varint 5 before the known fields.
  const auto wire = model_bytes({0x48, 0x05, 0x0a, 0x00, 0x10, 0x11});
  auto o = parse_message<OperatorSetId>(wire);
  REQUIRE(o);
  CHECK(o->version == 17);
  CHECK(o->has(1));  // explicit empty domain kept
  auto back = serialize_to_bytes(*o);
  REQUIRE(back);
  CHECK(ints(*back) == std::vector<int>{0x0a, 0x00, 0x10, 0x11, 0x48, 0x05});
}

TEST_CASE("singular sub-messages merge and oneofs switch as protobuf specifies") {
  // Two TypeProto.tensor_type records: elem_type from the first, shape from the second.
  const auto wire = model_bytes({0x0a, 0x02, 0x08, 0x01, 0x0a, 0x04, 0x12, 0x02, 0x0a, 0x00});
  auto t = parse_message<TypeProto>(wire);
  REQUIRE(t);
  CHECK(t->kind == TypeProto::Kind::kTensor);
  CHECK(t->elem_type == 1);
  REQUIRE(t->shape);
  CHECK(t->shape->dims.size() == 1);
  CHECK(t->shape->dims[0].kind == Dimension::Kind::kUnknown);
  // tensor_type then sequence_type: the oneof now holds the sequence only.
  const auto wire2 = model_bytes({0x0a, 0x02, 0x08, 0x01, 0x22, 0x04, 0x0a, 0x02, 0x0a, 0x00});
  auto s = parse_message<TypeProto>(wire2);
  REQUIRE(s);
  CHECK(s->kind == TypeProto::Kind::kSequence);
  CHECK(s->elem_type == 0);
  REQUIRE(s->elem);
  CHECK(s->elem->kind == TypeProto::Kind::kTensor);
  // Dimension: dim_value then dim_param -> param.
  auto d = parse_message<Dimension>(model_bytes({0x08, 0x03, 0x12, 0x01, 'n'}));
  REQUIRE(d);
  CHECK(d->kind == Dimension::Kind::kParam);
  CHECK(d->param == "n");
}

TEST_CASE("lazy payloads stream through the writer and are checked for size") {
  const std::vector<float> w{1.0f, -2.0f, 3.5f, 0.25f};
  int calls = 0;
  Tensor t =
      b::lazy_tensor("W", DataType::kFloat, {2, 2}, 16, [&](const ChunkSink& sink) -> Status {
        ++calls;
        EDGEQUANT_TRY(sink(std::as_bytes(std::span<const float>(w.data(), 2))));
        return sink(std::as_bytes(std::span<const float>(w.data() + 2, 2)));
      });
  Graph g = b::graph({b::node("Identity", {"W"}, {"y"})}, "g", {},
                     {b::value_info("y", DataType::kFloat, {})}, {t});
  Model m = b::model(std::move(g), 8, {b::opset("", 17)});
  auto bytes = serialize_to_bytes(m);
  REQUIRE(bytes);
  CHECK(calls == 1);  // the counting pass never calls the producer
  auto back = parse_model(*bytes);
  REQUIRE(back);
  CHECK(*to_floats(back->graph->initializer[0]) == w);
  // A producer that writes too little or too much is an error.
  Tensor shortt = b::lazy_tensor("S", DataType::kFloat, {2}, 8, [&](const ChunkSink& sink) {
    return sink(std::as_bytes(std::span<const float>(w.data(), 1)));
  });
  CHECK_FALSE(serialize_to_bytes(shortt));
  Tensor longt = b::lazy_tensor("L", DataType::kFloat, {1}, 4, [&](const ChunkSink& sink) {
    return sink(std::as_bytes(std::span<const float>(w.data(), 2)));
  });
  CHECK_FALSE(serialize_to_bytes(longt));
}

TEST_CASE("garbage and truncations of a valid model are errors, never crashes") {
  Graph g = b::graph({b::node("Relu", {"x"}, {"y"})}, "g",
                     {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{2})},
                     {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{2})},
                     {b::tensor("c", DataType::kFloat, {2}, std::vector<float>{1, 2})});
  auto bytes = serialize_to_bytes(b::model(std::move(g), 8, {b::opset("", 17)}));
  REQUIRE(bytes);
  REQUIRE(parse_model(*bytes));
  std::size_t failures = 0;
  for (std::size_t n = 0; n < bytes->size(); ++n) {
    auto r = parse_model(std::span<const std::byte>(bytes->data(), n));
    failures += r ? 0 : 1;
  }
  CHECK(failures > bytes->size() / 2);  // most prefixes cut a record
  auto text = model_bytes({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  CHECK_FALSE(parse_model(text));
}

}  // namespace eqtest_formats_onnx_model_test
