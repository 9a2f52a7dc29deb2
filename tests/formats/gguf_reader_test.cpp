// GGUF reader on the golden files: every KV and tensor as the golden README
// describes them, tensor bytes against the golden quantizations, typed access.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "edgequant/schemes/all.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_gguf_reader_test {

using namespace edgequant;
namespace gg = edgequant::gguf;

namespace {

// The tiny_llama tensor table of golden/README.md: name, type, ne, offset, bytes.
struct GoldenTensor {
  const char* name;
  GgmlType type;
  std::uint64_t ne0, ne1;
  std::uint64_t offset, bytes;
};
constexpr GoldenTensor kTinyLlama[] = {
    {"token_embd.weight", GgmlType::kQ4_K, 256, 300, 0, 43200},
    {"blk.0.attn_norm.weight", GgmlType::kF32, 256, 1, 43200, 1024},
    {"blk.0.attn_q.weight", GgmlType::kQ4_K, 256, 256, 44224, 36864},
    {"blk.0.attn_k.weight", GgmlType::kQ4_K, 256, 128, 81088, 18432},
    {"blk.0.attn_v.weight", GgmlType::kQ4_K, 256, 128, 99520, 18432},
    {"blk.0.attn_output.weight", GgmlType::kQ4_K, 256, 256, 117952, 36864},
    {"blk.0.ffn_norm.weight", GgmlType::kF32, 256, 1, 154816, 1024},
    {"blk.0.ffn_gate.weight", GgmlType::kQ4_K, 256, 512, 155840, 73728},
    {"blk.0.ffn_up.weight", GgmlType::kQ4_K, 256, 512, 229568, 73728},
    {"blk.0.ffn_down.weight", GgmlType::kQ4_K, 512, 256, 303296, 73728},
    {"blk.1.attn_norm.weight", GgmlType::kF32, 256, 1, 377024, 1024},
    {"blk.1.attn_q.weight", GgmlType::kQ4_K, 256, 256, 378048, 36864},
    {"blk.1.attn_k.weight", GgmlType::kQ4_K, 256, 128, 414912, 18432},
    {"blk.1.attn_v.weight", GgmlType::kQ6_K, 256, 128, 433344, 26880},
    {"blk.1.attn_output.weight", GgmlType::kQ4_K, 256, 256, 460224, 36864},
    {"blk.1.ffn_norm.weight", GgmlType::kF32, 256, 1, 497088, 1024},
    {"blk.1.ffn_gate.weight", GgmlType::kQ4_K, 256, 512, 498112, 73728},
    {"blk.1.ffn_up.weight", GgmlType::kQ4_K, 256, 512, 571840, 73728},
    {"blk.1.ffn_down.weight", GgmlType::kQ6_K, 512, 256, 645568, 107520},
    {"output_norm.weight", GgmlType::kF32, 256, 1, 753088, 1024},
    {"output.weight", GgmlType::kQ6_K, 256, 300, 754112, 63000},
};

// README: ids 259..299 in order.
const char* const kTinyNormalTokens[] = {"\xE2\x96\x81the",
                                         "\xE2\x96\x81"
                                         "a",
                                         "\xE2\x96\x81of",
                                         "\xE2\x96\x81"
                                         "and",
                                         "\xE2\x96\x81to",
                                         "\xE2\x96\x81in",
                                         "\xE2\x96\x81is",
                                         "\xE2\x96\x81it",
                                         "e",
                                         "t",
                                         "a",
                                         "o",
                                         "i",
                                         "n",
                                         "s",
                                         "h",
                                         "r",
                                         "d",
                                         "l",
                                         "u",
                                         "\xE2\x96\x81",
                                         "c",
                                         "m",
                                         "f",
                                         "w",
                                         "g",
                                         "y",
                                         "p",
                                         "b",
                                         "v",
                                         "k",
                                         "x",
                                         "j",
                                         "q",
                                         "z",
                                         "\xE2\x96\x81model",
                                         "\xE2\x96\x81"
                                         "edge",
                                         "\xE2\x96\x81quant",
                                         "er",
                                         "in",
                                         "on"};

bool bytes_equal(std::span<const std::byte> a, const std::uint8_t* b, std::size_t n) {
  return a.size() >= n && std::memcmp(a.data(), b, n) == 0;
}

}  // namespace

TEST_CASE("gguf: small_all_kv.gguf header, every KV and its type as the README lists them") {
  auto path = eqtest::golden_file("small_all_kv.gguf");
  if (!path) return;
  auto r = GgufReader<>::open_file(*path);
  REQUIRE_MESSAGE(r, eqtest::why(r));
  CHECK(r->version() == 3);
  CHECK(r->file_size() == 1280);
  CHECK(r->alignment() == 32);
  CHECK(r->metadata_end() == 845);
  CHECK(r->data_offset() == 864);
  REQUIRE(r->metadata().size() == 20);

  const char* order[] = {"t.u8",
                         "t.i8",
                         "t.u16",
                         "t.i16",
                         "t.u32",
                         "t.i32",
                         "t.f32",
                         "t.bool",
                         "t.str",
                         "t.empty",
                         "t.u64",
                         "t.i64",
                         "t.f64",
                         "t.arr.i32",
                         "t.arr.f32",
                         "t.arr.str",
                         "t.arr.empty",
                         "t.arr.bool",
                         "general.architecture",
                         "general.alignment"};
  for (std::size_t i = 0; i < 20; ++i) CHECK(r->metadata()[i].key == order[i]);

  CHECK(*r->get<std::uint8_t>("t.u8") == 200);
  CHECK(*r->get<std::int8_t>("t.i8") == -100);
  CHECK(*r->get<std::uint16_t>("t.u16") == 60000);
  CHECK(*r->get<std::int16_t>("t.i16") == -30000);
  CHECK(*r->get<std::uint32_t>("t.u32") == 4000000000u);
  CHECK(*r->get<std::int32_t>("t.i32") == -2000000000);
  CHECK(*r->get<float>("t.f32") == 3.14159f);
  CHECK(*r->get<bool>("t.bool") == true);
  CHECK(*r->get<std::string_view>("t.str") == "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93");
  CHECK(r->get<std::string_view>("t.str")->size() == 17);
  CHECK(*r->get<std::string>("t.empty") == "");
  CHECK(*r->get<std::uint64_t>("t.u64") == 18000000000000000000ull);
  CHECK(*r->get<std::int64_t>("t.i64") == -9000000000000000000ll);
  CHECK(*r->get<double>("t.f64") == 2.718281828459045);
  CHECK(*r->get<std::vector<std::int32_t>>("t.arr.i32") ==
        std::vector<std::int32_t>{1, -2, 3, -4, 5});
  CHECK(*r->get<std::vector<float>>("t.arr.f32") == std::vector<float>{0.5f, -1.25f, 1e-30f});
  CHECK(*r->get<std::vector<std::string>>("t.arr.str") ==
        std::vector<std::string>{"a", "",
                                 "\xC3\xBCn\xC3\xAF"
                                 "code",
                                 "the quick brown fox"});
  auto empty = r->get<gg::ArrayView>("t.arr.empty");
  REQUIRE(empty);
  CHECK(empty->element_type() == gg::Type::kUint8);
  CHECK(empty->size() == 0);
  CHECK(*r->get<std::vector<bool>>("t.arr.bool") == std::vector<bool>{true, false, true});
  CHECK(*r->get<std::string_view>("general.architecture") == "test");
  CHECK(*r->get<std::uint32_t>("general.alignment") == 32);

  // Value types as stored.
  const gg::Type types[] = {
      gg::Type::kUint8,   gg::Type::kInt8,   gg::Type::kUint16,  gg::Type::kInt16,
      gg::Type::kUint32,  gg::Type::kInt32,  gg::Type::kFloat32, gg::Type::kBool,
      gg::Type::kString,  gg::Type::kString, gg::Type::kUint64,  gg::Type::kInt64,
      gg::Type::kFloat64, gg::Type::kArray,  gg::Type::kArray,   gg::Type::kArray,
      gg::Type::kArray,   gg::Type::kArray,  gg::Type::kString,  gg::Type::kUint32};
  for (std::size_t i = 0; i < 20; ++i) CHECK(r->metadata()[i].value.type() == types[i]);
  CHECK(r->get<gg::ArrayView>("t.arr.str")->element_type() == gg::Type::kString);
  CHECK(r->get<gg::ArrayView>("t.arr.bool")->element_type() == gg::Type::kBool);

  // The first KV record starts right after the 24-byte header; its value
  // (after the 8-byte length, 4-byte key and 4-byte type) at 40.
  CHECK(r->metadata()[0].offset == 24);
  CHECK(r->metadata()[0].value.offset() == 40);
}

TEST_CASE("gguf: typed access errors name the key and both types") {
  auto path = eqtest::golden_file("small_all_kv.gguf");
  if (!path) return;
  auto r = GgufReader<>::open_file(*path);
  REQUIRE(r);
  auto missing = r->get<std::uint32_t>("llama.block_count");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kNotFound);
  CHECK(missing.error().message().find("llama.block_count") != std::string::npos);
  CHECK(missing.error().message().find("small_all_kv.gguf") != std::string::npos);

  auto wrong = r->get<std::uint32_t>("t.u64");  // no silent narrowing
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().code == Errc::kTypeMismatch);
  CHECK(wrong.error().what.find("u64") != std::string::npos);
  CHECK(wrong.error().what.find("u32") != std::string::npos);
  CHECK(wrong.error().offset == r->find("t.u64")->value.offset());

  CHECK(r->get<std::string_view>("t.u8").error().code == Errc::kTypeMismatch);
  CHECK(r->get<std::vector<std::int32_t>>("t.arr.f32").error().code == Errc::kTypeMismatch);
  CHECK(r->get<std::vector<std::string>>("t.str").error().code == Errc::kTypeMismatch);
  CHECK(r->get<gg::ArrayView>("t.f64").error().code == Errc::kTypeMismatch);
  CHECK(*r->get_or<std::uint32_t>("absent.key", 7) == 7);
  CHECK(r->get_or<std::uint32_t>("t.u64", 7).error().code == Errc::kTypeMismatch);
}

TEST_CASE("gguf: small_all_kv.gguf tensors and their bytes equal the golden quantizations") {
  auto path = eqtest::golden_file("small_all_kv.gguf");
  auto input = eqtest::golden_file("input.f32");
  auto q40 = eqtest::golden_file("Q4_0.q");
  auto q80 = eqtest::golden_file("Q8_0.q");
  auto f16 = eqtest::golden_file("F16.q");
  if (!path || !input || !q40 || !q80 || !f16) return;
  auto r = GgufReader<>::open_file(*path);
  REQUIRE(r);
  REQUIRE(r->tensors().size() == 4);
  struct Row {
    const char* name;
    GgmlType type;
    std::uint32_t n_dims;
    std::uint64_t ne0, ne1, offset, bytes;
  };
  const Row rows[] = {{"vec.f32", GgmlType::kF32, 1, 7, 1, 0, 28},
                      {"mat.q4_0", GgmlType::kQ4_0, 2, 64, 3, 32, 108},
                      {"mat.q8_0", GgmlType::kQ8_0, 2, 96, 2, 160, 204},
                      {"mat.f16", GgmlType::kF16, 2, 5, 2, 384, 20}};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& t = r->tensors()[i];
    CAPTURE(rows[i].name);
    CHECK(t.name == rows[i].name);
    CHECK(t.type == rows[i].type);
    CHECK(t.n_dims == rows[i].n_dims);
    CHECK(t.ne[0] == rows[i].ne0);
    CHECK(t.ne[1] == rows[i].ne1);
    CHECK(t.offset == rows[i].offset);
    CHECK(t.nbytes == rows[i].bytes);
    CHECK(r->find_tensor(rows[i].name) == &t);
  }

  const auto x = eqtest::read_file<float>(*input);
  const auto gq4 = eqtest::read_file(*q40);
  const auto gq8 = eqtest::read_file(*q80);
  const auto gf16 = eqtest::read_file(*f16);
  REQUIRE(x.size() == 64 * 4096);

  // vec.f32 = input row 0, cols 0..6, as a typed 1-D view.
  auto vec = r->tensor("vec.f32");
  REQUIRE(vec);
  CHECK(vec->file_offset() == 864);
  auto v = vec->view<float, 1>();
  REQUIRE(v);
  REQUIRE(v->size(0) == 7);
  for (std::size_t c = 0; c < 7; ++c) CHECK(eqtest::same_bits((*v)(c), x[c]));
  auto v2 = vec->view<float, 2>();  // leading 1 added
  REQUIRE(v2);
  CHECK(v2->size(0) == 1);
  CHECK(v2->size(1) == 7);
  CHECK(vec->view<std::uint16_t, 1>().error().code == Errc::kTypeMismatch);

  // mat.q4_0 row i = Q4_0 of input row 1+i, cols 0..63: the first two blocks
  // of row 1+i of Q4_0.q (blocks are independent without an imatrix).
  auto q4 = r->tensor("mat.q4_0");
  REQUIRE(q4);
  auto b4 = q4->blocks<Q4_0>();
  REQUIRE(b4);
  CHECK(b4->rows() == 3);
  CHECK(b4->cols() == 64);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(bytes_equal(std::as_bytes(b4->row(i)), gq4.data() + (1 + i) * 2304, 36));
  }
  CHECK(q4->blocks<Q8_0>().error().code == Errc::kTypeMismatch);
  CHECK(q4->view<float, 2>().error().code == Errc::kTypeMismatch);

  auto q8 = r->tensor("mat.q8_0");
  REQUIRE(q8);
  auto b8 = q8->blocks<Q8_0>();
  REQUIRE(b8);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(bytes_equal(std::as_bytes(b8->row(i)), gq8.data() + (4 + i) * 4352, 102));
  }

  auto h = r->tensor("mat.f16");
  REQUIRE(h);
  auto hv = h->view<std::uint16_t, 2>();
  REQUIRE(hv);
  CHECK(hv->size(0) == 2);
  CHECK(hv->size(1) == 5);
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t c = 0; c < 5; ++c) {
      std::uint16_t g;
      std::memcpy(&g, gf16.data() + (6 + i) * 8192 + c * 2, 2);
      CHECK((*hv)(i, c) == g);
    }
  }
  auto hb = h->blocks<F16>();
  REQUIRE(hb);
  CHECK(hb->rows() == 2);

  CHECK(r->tensor("nope").error().code == Errc::kNotFound);
}

TEST_CASE("gguf: tiny_llama.gguf KVs, vocabulary and tensor table as the README lists them") {
  auto path = eqtest::golden_file("tiny_llama.gguf");
  if (!path) return;
  auto r = GgufReader<>::open_file(*path);
  REQUIRE_MESSAGE(r, eqtest::why(r));
  CHECK(r->file_size() == 825696);
  CHECK(r->data_offset() == 8576);
  REQUIRE(r->metadata().size() == 21);
  CHECK(*r->get<std::string_view>("general.architecture") == "llama");
  CHECK(*r->get<std::string_view>("general.name") == "tiny-llama-golden");
  CHECK(*r->get<std::uint32_t>("general.file_type") == 15);
  CHECK(*r->get<std::uint32_t>("general.quantization_version") == 2);
  CHECK(*r->get<std::uint32_t>("llama.context_length") == 256);
  CHECK(*r->get<std::uint32_t>("llama.embedding_length") == 256);
  CHECK(*r->get<std::uint32_t>("llama.block_count") == 2);
  CHECK(*r->get<std::uint32_t>("llama.feed_forward_length") == 512);
  CHECK(*r->get<std::uint32_t>("llama.attention.head_count") == 4);
  CHECK(*r->get<std::uint32_t>("llama.attention.head_count_kv") == 2);
  CHECK(*r->get<std::uint32_t>("llama.rope.dimension_count") == 64);
  CHECK(*r->get<float>("llama.attention.layer_norm_rms_epsilon") == 1e-5f);
  CHECK(*r->get<float>("llama.rope.freq_base") == 10000.0f);
  CHECK(*r->get<std::uint32_t>("llama.vocab_size") == 300);
  CHECK(*r->get<std::string_view>("tokenizer.ggml.model") == "llama");
  CHECK(*r->get<std::uint32_t>("tokenizer.ggml.bos_token_id") == 1);
  CHECK(*r->get<std::uint32_t>("tokenizer.ggml.eos_token_id") == 2);
  CHECK(*r->get<std::uint32_t>("tokenizer.ggml.unknown_token_id") == 0);

  auto tokens = r->get<std::vector<std::string_view>>("tokenizer.ggml.tokens");
  auto scores = r->get<std::vector<float>>("tokenizer.ggml.scores");
  auto ttype = r->get<std::vector<std::int32_t>>("tokenizer.ggml.token_type");
  REQUIRE(tokens);
  REQUIRE(scores);
  REQUIRE(ttype);
  REQUIRE(tokens->size() == 300);
  REQUIRE(scores->size() == 300);
  REQUIRE(ttype->size() == 300);
  CHECK((*tokens)[0] == "<unk>");
  CHECK((*tokens)[1] == "<s>");
  CHECK((*tokens)[2] == "</s>");
  CHECK((*ttype)[0] == 2);
  CHECK((*ttype)[1] == 3);
  CHECK((*ttype)[2] == 3);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    CHECK((*tokens)[3 + b] == name);
    CHECK((*ttype)[3 + b] == 6);
  }
  for (int id = 259; id < 300; ++id) {
    CHECK((*tokens)[id] == kTinyNormalTokens[id - 259]);
    CHECK((*ttype)[id] == 1);
    CHECK((*scores)[id] == static_cast<float>(-id));
  }
  for (int id = 0; id < 259; ++id) CHECK((*scores)[id] == 0.0f);

  REQUIRE(r->tensors().size() == 21);
  for (std::size_t i = 0; i < 21; ++i) {
    const auto& g = kTinyLlama[i];
    const auto& t = r->tensors()[i];
    CAPTURE(g.name);
    CHECK(t.name == g.name);
    CHECK(t.type == g.type);
    CHECK(t.n_dims == (g.ne1 == 1 ? 1u : 2u));
    CHECK(t.ne[0] == g.ne0);
    CHECK(t.ne[1] == g.ne1);
    CHECK(t.offset == g.offset);
    CHECK(t.nbytes == g.bytes);
  }
  // Norms are F32 1 + 0.01·normal(): all within a few percent of 1.
  auto norm = r->tensor("output_norm.weight");
  REQUIRE(norm);
  auto nv = norm->view<float, 1>();
  REQUIRE(nv);
  for (std::size_t i = 0; i < 256; ++i) CHECK(std::abs((*nv)(i)-1.0f) < 0.06f);
}

TEST_CASE("gguf: array views iterate strings and nested arrays in order") {
  gg::Layout l;
  l.metadata.set("a.nested", gg::Value::arrays({gg::Value::array<std::int32_t>({1, 2}),
                                                gg::Value::strings({"x", "yz"}),
                                                gg::Value::empty_array(gg::Type::kFloat32)}));
  l.metadata.set("a.str", gg::Value::strings({"one", "", "three"}));
  MemorySink s;
  gg::WriterOptions opt;
  opt.allow_nested_arrays = true;
  auto w = gg::Writer<MemorySink&>::begin(s, l, opt);
  REQUIRE(w);
  REQUIRE(w->finish());
  auto r = eqtest::parse(s.bytes());
  REQUIRE_MESSAGE(r, eqtest::why(r));
  auto nested = r->get<gg::ArrayView>("a.nested");
  REQUIRE(nested);
  CHECK(nested->element_type() == gg::Type::kArray);
  REQUIRE(nested->size() == 3);
  auto it = nested->begin();
  auto first = (*it).array();
  CHECK(first.element_type() == gg::Type::kInt32);
  CHECK(first.at<std::int32_t>(0) == 1);
  CHECK(first.at<std::int32_t>(1) == 2);
  ++it;
  CHECK(*(*it).as<std::vector<std::string>>() == std::vector<std::string>{"x", "yz"});
  ++it;
  CHECK((*it).array().size() == 0);
  CHECK((*it).array().element_type() == gg::Type::kFloat32);
  ++it;
  CHECK(it == nested->end());
  std::vector<std::string> strs;
  const auto str_array = r->get<gg::ArrayView>("a.str");
  REQUIRE(str_array);
  for (gg::ValueView v : *str_array) strs.emplace_back(v.string());
  CHECK(strs == std::vector<std::string>{"one", "", "three"});
}

TEST_CASE("gguf: memory and mmap sources read the same; n_dims 0 is a scalar") {
  // ggml's reader accepts n_dims = 0 (shape [1,1,1,1], §3).
  eqtest::GgufBytes b;
  b.header(1, 0).str("s").u32(0).u32(0).u64(0).pad(32).f32(42.0f).pad(32);
  auto r = eqtest::parse(b.bytes());
  REQUIRE_MESSAGE(r, eqtest::why(r));
  const auto& t = r->tensors()[0];
  CHECK(t.n_dims == 0);
  CHECK(t.n_elements() == 1);
  CHECK(t.nbytes == 4);
  auto v = r->tensor(t).view<float, 1>();
  REQUIRE(v);
  CHECK((*v)(0) == 42.0f);

  auto m = GgufReader<>::open(MappedFile::from_bytes(b.bytes(), "mem.gguf"));
  REQUIRE(m);
  CHECK(m->path() == "mem.gguf");
  CHECK(m->tensors()[0].nbytes == 4);
}

}  // namespace eqtest_formats_gguf_reader_test
