// Writes a small llama-architecture GGUF from scratch with edgequant (random
// weights, SentencePiece-style vocabulary with scores and token types as in
// the golden tiny_llama), streaming one tensor at a time.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "edgequant/quantize.hpp"

namespace eqtest {

struct TinyLlamaOptions {
  // Tensor types: one line each to change (Q4_K once the K-quants are in).
  edgequant::GgmlType matrix_type = edgequant::GgmlType::kQ4_0;     // attention and FFN
  edgequant::GgmlType embedding_type = edgequant::GgmlType::kQ8_0;  // token_embd, output
  // attn_output and ffn_down all zero: every block then adds nothing to the
  // residual stream, so the last position's logits are
  // output · (rms_norm(token_embd[last]) ⊙ output_norm): a closed form the
  // test computes itself.
  bool zero_block_outputs = false;
  std::uint64_t seed = 20260821;
};

struct TinyLlamaShape {
  static constexpr std::uint32_t n_embd = 64, n_ff = 128, n_head = 4, n_head_kv = 2, n_layer = 2,
                                 n_ctx = 128;
  static constexpr std::uint32_t head_dim = n_embd / n_head;
  static constexpr float eps = 1e-5f;
};

// id 0 <unk> (unknown), 1 <s>, 2 </s> (control), 3..258 <0xXX> (byte), then
// "▁", a..z and every prefix of "▁edge", "▁quant", "▁model", "▁gguf" (normal;
// the prefixes let SentencePiece's merges reach the whole words).
struct TinyVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  std::int32_t id(const std::string& t) const {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] == t) return static_cast<std::int32_t>(i);
    }
    return -1;
  }
};

inline TinyVocab tiny_vocab() {
  TinyVocab v;
  auto add = [&](std::string t, std::int32_t type, float score) {
    v.tokens.push_back(std::move(t));
    v.types.push_back(type);
    v.scores.push_back(score);
  };
  add("<unk>", 2, 0);
  add("<s>", 3, 0);
  add("</s>", 3, 0);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    add(name, 6, 0);
  }
  const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  add(sp, 1, -1);
  for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c), 1, -1);
  for (const char* word : {"edge", "quant", "model", "gguf"}) {
    const std::string w = word;
    for (std::size_t n = 1; n <= w.size(); ++n) add(sp + w.substr(0, n), 1, static_cast<float>(n));
  }
  return v;
}

namespace detail {
struct SplitMix {
  std::uint64_t s;
  std::uint64_t next() {
    s += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double u() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u1 = 1 - u(), u2 = u();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2);
  }
};
}  // namespace detail

// The tensor list in llama.cpp's naming, ggml order ne = [in, out].
inline edgequant::gguf::Layout tiny_llama_layout(const TinyLlamaOptions& o, const TinyVocab& v) {
  using edgequant::GgmlType;
  using S = TinyLlamaShape;
  namespace gg = edgequant::gguf;
  gg::Layout l;
  auto& m = l.metadata;
  m.set("general.architecture", "llama");
  m.set("general.name", "edgequant-tiny-llama");
  m.set("general.quantization_version", std::uint32_t{2});
  m.set("llama.context_length", S::n_ctx);
  m.set("llama.embedding_length", S::n_embd);
  m.set("llama.block_count", S::n_layer);
  m.set("llama.feed_forward_length", S::n_ff);
  m.set("llama.attention.head_count", S::n_head);
  m.set("llama.attention.head_count_kv", S::n_head_kv);
  m.set("llama.rope.dimension_count", S::head_dim);
  m.set("llama.attention.layer_norm_rms_epsilon", S::eps);
  m.set("llama.rope.freq_base", 10000.0f);
  m.set("llama.vocab_size", static_cast<std::uint32_t>(v.tokens.size()));
  m.set("tokenizer.ggml.model", "llama");
  m.set("tokenizer.ggml.tokens", gg::Value::strings(v.tokens));
  m.set("tokenizer.ggml.scores", gg::Value::array<float>(v.scores));
  m.set("tokenizer.ggml.token_type", gg::Value::array<std::int32_t>(v.types));
  m.set("tokenizer.ggml.bos_token_id", std::uint32_t{1});
  m.set("tokenizer.ggml.eos_token_id", std::uint32_t{2});
  m.set("tokenizer.ggml.unknown_token_id", std::uint32_t{0});
  const std::uint64_t nv = v.tokens.size(), kv = S::n_head_kv * S::head_dim;
  auto add = [&](std::string name, GgmlType t, std::initializer_list<std::uint64_t> ne) {
    l.tensors.push_back(gg::TensorSpec::make(std::move(name), t, ne));
  };
  add("token_embd.weight", o.embedding_type, {S::n_embd, nv});
  for (std::uint32_t i = 0; i < S::n_layer; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", GgmlType::kF32, {S::n_embd});
    add(b + "attn_q.weight", o.matrix_type, {S::n_embd, S::n_embd});
    add(b + "attn_k.weight", o.matrix_type, {S::n_embd, kv});
    add(b + "attn_v.weight", o.matrix_type, {S::n_embd, kv});
    add(b + "attn_output.weight", o.matrix_type, {S::n_embd, S::n_embd});
    add(b + "ffn_norm.weight", GgmlType::kF32, {S::n_embd});
    add(b + "ffn_gate.weight", o.matrix_type, {S::n_embd, S::n_ff});
    add(b + "ffn_up.weight", o.matrix_type, {S::n_embd, S::n_ff});
    add(b + "ffn_down.weight", o.matrix_type, {S::n_ff, S::n_embd});
  }
  add("output_norm.weight", GgmlType::kF32, {S::n_embd});
  add("output.weight", o.embedding_type, {S::n_embd, nv});
  return l;
}

// Streams the model to `path` (atomically): each tensor is generated,
// quantized and written before the next one exists.
inline edgequant::Status write_tiny_llama(const std::string& path, const TinyLlamaOptions& o = {}) {
  namespace gg = edgequant::gguf;
  const TinyVocab v = tiny_vocab();
  const gg::Layout l = tiny_llama_layout(o, v);
  auto f = edgequant::AtomicFile::create(path);
  if (!f) return std::move(f).error();
  auto w = gg::Writer<edgequant::AtomicFile>::begin(std::move(*f), l);
  if (!w) return std::move(w).error();
  detail::SplitMix rng{o.seed};
  for (const auto& t : l.tensors) {
    const std::size_t cols = t.ne[0], rows = t.ne[1];
    std::vector<float> x(cols * rows);
    const bool norm = t.type == edgequant::GgmlType::kF32;
    const bool zero = o.zero_block_outputs && (t.name.find("attn_output") != std::string::npos ||
                                               t.name.find("ffn_down") != std::string::npos);
    const double scale = t.name == "output.weight"       ? 0.5
                         : t.name == "token_embd.weight" ? 1.0
                                                         : 0.02;
    for (auto& e : x)
      e = zero ? 0.0f : static_cast<float>(norm ? 1 + 0.01 * rng.normal() : scale * rng.normal());
    std::vector<std::byte> q(rows * edgequant::ggml_row_bytes(t.type, cols));
    EDGEQUANT_TRY(edgequant::quantize(t.type, x, cols, q));
    EDGEQUANT_TRY(w->write_tensor(q));
  }
  return w->finish();
}

}  // namespace eqtest
