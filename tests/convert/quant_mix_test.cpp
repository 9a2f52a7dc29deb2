// llama.cpp mix rules: the per-tensor types of specs/llama-quant-mixes.md §7's
// table for a dense 32-layer LLaMA, written out by hand, plus fallback, imatrix
// and ordering rules.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "edgequant/convert/quant_mix.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_convert_quant_mix_test {

using namespace edgequant;
using namespace edgequant::llama;
using G = GgmlType;

namespace {

// A LLaMA-2-7B-like shape (n_head 32, n_head_kv as given) in llama output order.
std::vector<TensorDesc> llama_tensors(int n_layer, bool tied, std::uint64_t n_kv_rows = 1024) {
  std::vector<TensorDesc> v;
  auto add = [&](std::string n, std::uint64_t a, std::uint64_t b = 1) {
    v.push_back(TensorDesc{std::move(n), {a, b, 1, 1}, G::kF32});
  };
  add("token_embd.weight", 4096, 32000);
  if (!tied) add("output.weight", 4096, 32000);
  add("output_norm.weight", 4096);
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", 4096);
    add(p + "attn_q.weight", 4096, 4096);
    add(p + "attn_k.weight", 4096, n_kv_rows);
    add(p + "attn_v.weight", 4096, n_kv_rows);
    add(p + "attn_output.weight", 4096, 4096);
    add(p + "ffn_norm.weight", 4096);
    add(p + "ffn_gate.weight", 4096, 11008);
    add(p + "ffn_up.weight", 4096, 11008);
    add(p + "ffn_down.weight", 11008, 4096);
  }
  std::vector<std::string> names;
  for (auto& t : v) names.push_back(t.name);
  std::vector<TensorDesc> ordered;
  for (auto i : llama_tensor_order(names)) ordered.push_back(v[i]);
  return ordered;
}

std::map<std::string, G> plan_all(Ftype ft, bool imatrix, bool tied = false, std::uint32_t n_head_kv = 8,
                                  int n_layer = 32) {
  ModelInfo m{"llama", static_cast<std::uint32_t>(n_layer), 32, n_head_kv, 0};
  MixOptions o;
  o.ftype = ft;
  o.has_imatrix = imatrix;
  const auto ts = llama_tensors(n_layer, tied, 4096 / 32 * n_head_kv);
  auto planner = MixPlanner::create(m, o, ts);
  REQUIRE(planner);
  std::map<std::string, G> out;
  for (const auto& t : ts) {
    auto p = planner->plan(t);
    REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
    out[t.name] = p->type;
  }
  return out;
}

std::string L(int i, const char* what) { return "blk." + std::to_string(i) + "." + what + ".weight"; }

// mb(i) for n = 32, from the spec: {0..3, 6, 9, ..., 27, 28..31}.
bool mb32(int i) {
  if (i <= 3 || i >= 28) return true;
  return (i - 4) % 3 == 2;
}

}  // namespace

TEST_CASE("use_more_bits matches the spec's worked values") {
  for (int i = 0; i < 32; ++i) CHECK(use_more_bits(i, 32) == mb32(i));
  CHECK_FALSE(use_more_bits(0, 2));
  CHECK(use_more_bits(1, 2));
}

TEST_CASE("Q4_K_M on a 32-layer GQA llama") {
  const auto p = plan_all(Ftype::kQ4_K_M, false);
  CHECK(p.at("token_embd.weight") == G::kQ4_K);
  CHECK(p.at("output.weight") == G::kQ6_K);
  CHECK(p.at("output_norm.weight") == G::kF32);
  for (int i = 0; i < 32; ++i) {
    CAPTURE(i);
    const G hi = mb32(i) ? G::kQ6_K : G::kQ4_K;
    CHECK(p.at(L(i, "attn_v")) == hi);
    CHECK(p.at(L(i, "ffn_down")) == hi);
    for (auto n : {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"}) CHECK(p.at(L(i, n)) == G::kQ4_K);
    CHECK(p.at(L(i, "attn_norm")) == G::kF32);
  }
}

TEST_CASE("Q3_K_M, Q3_K_L, Q4_K_S, Q5_K_M, Q2_K, Q6_K, Q8_0 tables") {
  auto p = plan_all(Ftype::kQ3_K_M, false);
  CHECK(p.at("token_embd.weight") == G::kQ3_K);
  CHECK(p.at("output.weight") == G::kQ6_K);
  for (int i = 0; i < 32; ++i) {
    CAPTURE(i);
    CHECK(p.at(L(i, "attn_v")) == (i < 2 ? G::kQ5_K : G::kQ4_K));
    CHECK(p.at(L(i, "ffn_down")) == (i < 2 ? G::kQ5_K : G::kQ4_K));
    CHECK(p.at(L(i, "attn_output")) == G::kQ4_K);
    CHECK(p.at(L(i, "attn_q")) == G::kQ3_K);
    CHECK(p.at(L(i, "ffn_up")) == G::kQ3_K);
  }
  p = plan_all(Ftype::kQ3_K_L, false);
  CHECK(p.at(L(7, "attn_v")) == G::kQ5_K);
  CHECK(p.at(L(7, "ffn_down")) == G::kQ5_K);
  CHECK(p.at(L(7, "attn_output")) == G::kQ5_K);
  CHECK(p.at(L(7, "ffn_gate")) == G::kQ3_K);
  p = plan_all(Ftype::kQ4_K_S, false);
  for (int i = 0; i < 32; ++i) {
    CHECK(p.at(L(i, "attn_v")) == (i < 4 ? G::kQ5_K : G::kQ4_K));
    CHECK(p.at(L(i, "ffn_down")) == (i < 4 ? G::kQ5_K : G::kQ4_K));
  }
  p = plan_all(Ftype::kQ5_K_M, false);
  for (int i = 0; i < 32; ++i) CHECK(p.at(L(i, "ffn_down")) == (mb32(i) ? G::kQ6_K : G::kQ5_K));
  CHECK(p.at("token_embd.weight") == G::kQ5_K);
  p = plan_all(Ftype::kQ2_K, false);
  CHECK(p.at("token_embd.weight") == G::kQ2_K);
  CHECK(p.at(L(3, "attn_v")) == G::kQ4_K);  // gqa4 (32 / 8 heads)
  CHECK(p.at(L(3, "ffn_down")) == G::kQ3_K);
  CHECK(p.at(L(3, "attn_output")) == G::kQ3_K);
  CHECK(p.at(L(3, "attn_q")) == G::kQ2_K);
  p = plan_all(Ftype::kQ2_K, false, false, 32);  // no GQA
  CHECK(p.at(L(3, "attn_v")) == G::kQ3_K);
  p = plan_all(Ftype::kQ6_K, false);
  CHECK(p.at("output.weight") == G::kQ6_K);
  CHECK(p.at(L(0, "attn_v")) == G::kQ6_K);
  p = plan_all(Ftype::kQ8_0, false);
  CHECK(p.at("output.weight") == G::kQ8_0);
  CHECK(p.at("token_embd.weight") == G::kQ8_0);
}

TEST_CASE("legacy mixes: output Q6_K, imatrix bumps the first ffn_down layers") {
  auto p = plan_all(Ftype::kQ4_0, false);
  CHECK(p.at("output.weight") == G::kQ6_K);
  CHECK(p.at(L(0, "ffn_down")) == G::kQ4_0);
  p = plan_all(Ftype::kQ4_0, true);
  for (int i = 0; i < 32; ++i) CHECK(p.at(L(i, "ffn_down")) == (i < 4 ? G::kQ4_1 : G::kQ4_0));
  p = plan_all(Ftype::kQ5_0, true);
  CHECK(p.at(L(3, "ffn_down")) == G::kQ5_1);
  CHECK(p.at(L(4, "ffn_down")) == G::kQ5_0);
}

TEST_CASE("I-quant mixes") {
  auto p = plan_all(Ftype::kIQ2_M, true);
  CHECK(p.at("token_embd.weight") == G::kIQ3_S);
  CHECK(p.at("output.weight") == G::kQ5_K);
  for (int i = 0; i < 32; ++i) {
    CAPTURE(i);
    CHECK(p.at(L(i, "attn_v")) == G::kQ4_K);
    CHECK(p.at(L(i, "ffn_down")) == (i < 4 ? G::kIQ3_S : G::kIQ2_S));
    CHECK(p.at(L(i, "attn_output")) == G::kIQ3_S);
    CHECK(p.at(L(i, "attn_q")) == G::kIQ2_S);
  }
  p = plan_all(Ftype::kIQ2_S, true, false, 32);  // no GQA: attn_v IQ3_S; base type IQ2_XS
  CHECK(p.at(L(5, "attn_v")) == G::kIQ3_S);
  CHECK(p.at(L(5, "ffn_up")) == G::kIQ2_XS);
  p = plan_all(Ftype::kIQ1_S, true);
  CHECK(p.at("token_embd.weight") == G::kQ2_K);
  CHECK(p.at(L(9, "attn_output")) == G::kIQ2_XXS);
  CHECK(p.at(L(9, "ffn_down")) == G::kIQ1_S);
  CHECK(p.at(L(1, "ffn_down")) == G::kQ2_K);
  p = plan_all(Ftype::kIQ3_XS, true);  // its IQ3_XXS tensors need an imatrix (§6.1)
  CHECK(p.at("token_embd.weight") == G::kIQ3_S);
  CHECK(p.at("output.weight") == G::kQ6_K);
  for (int i = 0; i < 32; ++i) {
    CAPTURE(i);
    CHECK(p.at(L(i, "attn_q")) == G::kIQ3_XXS);
    CHECK(p.at(L(i, "attn_k")) == G::kIQ3_XXS);
    CHECK(p.at(L(i, "ffn_down")) == G::kIQ3_S);
    const G mid = (i >= 4 && i < 28) ? G::kIQ3_XXS : G::kIQ3_S;
    CHECK(p.at(L(i, "ffn_gate")) == mid);
    CHECK(p.at(L(i, "ffn_up")) == mid);
  }
  p = plan_all(Ftype::kIQ4_XS, false, false, 32);
  CHECK(p.at(L(3, "ffn_down")) == G::kQ5_K);  // no imatrix: i < L/8
  CHECK(p.at(L(4, "ffn_down")) == G::kIQ4_XS);
  CHECK(p.at(L(4, "attn_v")) == G::kIQ4_XS);
}

TEST_CASE("tied embeddings take the output rule; float mixes keep everything float") {
  auto p = plan_all(Ftype::kQ4_K_M, false, true);
  CHECK(p.at("token_embd.weight") == G::kQ6_K);
  p = plan_all(Ftype::kF16, false);
  CHECK(p.at("token_embd.weight") == G::kF16);
  CHECK(p.at(L(0, "attn_v")) == G::kF16);
  CHECK(p.at("output_norm.weight") == G::kF32);
}

TEST_CASE("shape fallback, overrides, imatrix refusal, candidates") {
  ModelInfo m{"llama", 2, 4, 4, 0};
  MixOptions o;
  o.ftype = Ftype::kQ4_K_M;
  std::vector<TensorDesc> ts = {{"blk.0.ffn_up.weight", {4000, 64, 1, 1}, G::kF32},
                                {"blk.0.ffn_gate.weight", {100, 64, 1, 1}, G::kF32},
                                {"blk.0.attn_q.weight", {256, 256, 1, 1}, G::kF32},
                                {"blk.0.bias", {256, 256, 1, 1}, G::kF32},
                                {"blk.0.attn_k.weight", {256, 1, 1, 1}, G::kF32}};
  o.tensor_types = {{"attn_q", G::kQ8_0}};
  auto planner = MixPlanner::create(m, o, ts);
  REQUIRE(planner);
  auto a = planner->plan(ts[0]);
  REQUIRE(a);
  CHECK(a->type == G::kQ5_0);  // Q4_K -> Q5_0
  CHECK(a->fell_back);
  auto b = planner->plan(ts[1]);
  REQUIRE(b);
  CHECK(b->type == G::kF16);  // 100 is not a multiple of 32 either
  auto c = planner->plan(ts[2]);
  REQUIRE(c);
  CHECK(c->type == G::kQ8_0);
  CHECK(c->reason == "--tensor-type override");
  auto d = planner->plan(ts[3]);
  REQUIRE(d);
  CHECK_FALSE(d->quantize);  // name does not end in "weight"
  auto e = planner->plan(ts[4]);
  REQUIRE(e);
  CHECK(e->type == G::kF32);  // [256, 1] counts as 1-D
  o.tensor_types = {{"ffn", G::kQ8_0}};
  auto p2 = MixPlanner::create(m, o, ts);
  REQUIRE(p2);
  auto nofb = p2->plan(ts[0]);  // Q8_0 has no fallback: 4000 % 32 == 0 though
  REQUIRE(nofb);
  CHECK(nofb->type == G::kQ8_0);
  auto err = p2->plan(ts[1]);  // 100 % 32 != 0 and Q8_0 has no fallback
  REQUIRE_FALSE(err);
  CHECK(err.error().code == Errc::kUnsupported);
  o.tensor_types = {{"(", G::kQ8_0}};
  CHECK_FALSE(MixPlanner::create(m, o, ts));

  MixOptions iq;
  iq.ftype = Ftype::kIQ2_XXS;
  auto p3 = MixPlanner::create(m, iq, ts);
  REQUIRE(p3);
  auto need = p3->plan(ts[2]);
  REQUIRE_FALSE(need);
  CHECK(need.error().code == Errc::kNeedsImportance);
}

TEST_CASE("tensor order and ftype names follow llama-quantize") {
  const std::vector<std::string> names = {"blk.10.attn_q.weight", "token_embd.weight", "blk.2.ffn_up.weight",
                                          "output.weight",        "blk.2.attn_k.weight", "rope_freqs.weight",
                                          "output_norm.weight"};
  std::vector<std::string> got;
  for (auto i : llama_tensor_order(names)) got.push_back(names[i]);
  const std::vector<std::string> want = {"output.weight",       "output_norm.weight",  "rope_freqs.weight",
                                         "token_embd.weight",   "blk.2.attn_k.weight", "blk.2.ffn_up.weight",
                                         "blk.10.attn_q.weight"};
  CHECK(got == want);
  CHECK(parse_ftype("q4_k_m") == Ftype::kQ4_K_M);
  CHECK(parse_ftype("Q4_K") == Ftype::kQ4_K_M);
  CHECK(parse_ftype("12") == Ftype::kQ3_K_M);
  CHECK(parse_ftype("0") == Ftype::kAllF32);
  CHECK(parse_ftype("IQ2_S").has_value());
  CHECK(ftype_default_type(Ftype::kIQ2_S) == G::kIQ2_XS);
  CHECK(ftype_default_type(Ftype::kIQ3_XS) == G::kIQ3_S);
  CHECK_FALSE(parse_ftype("4"));
  CHECK_FALSE(parse_ftype("Q4_K_X"));
}

}  // namespace eqtest_convert_quant_mix_test
