// Hugging Face config.json -> the hyper-parameters a GGUF needs, for the
// architectures the converter supports (LLaMA, Mistral, Qwen2, Phi-3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/core/error.hpp"

namespace edgequant::hf {

enum class Arch : std::uint8_t { kLlama, kMistral, kQwen2, kPhi3 };

struct ArchInfo {
  Arch arch;
  std::string_view hf_class;   // config.json "architectures"[0]
  std::string_view gguf_arch;  // general.architecture written by llama.cpp's converter
  bool permute_qk;             // HF rotate-half -> ggml interleaved RoPE (llama family)
};

inline constexpr ArchInfo kArchs[] = {
    {Arch::kLlama, "LlamaForCausalLM", "llama", true},
    {Arch::kMistral, "MistralForCausalLM", "llama", true},  // llama.cpp converts Mistral as llama
    {Arch::kQwen2, "Qwen2ForCausalLM", "qwen2", false},     // NEOX RoPE: no permutation
    {Arch::kPhi3, "Phi3ForCausalLM", "phi3", false},        // fused qkv / gate_up, NEOX RoPE
};

inline const ArchInfo& arch_info(Arch a) {
  for (const auto& i : kArchs) {
    if (i.arch == a) return i;
  }
  return kArchs[0];
}

inline std::string supported_architectures() {
  std::string s;
  for (const auto& i : kArchs) s += (s.empty() ? "" : ", ") + std::string(i.hf_class);
  return s;
}

// Rope scaling as the config gives it (rope_scaling / rope_parameters).
struct RopeScaling {
  std::string type;  // "linear", "yarn", "llama3", "longrope", ... (empty: none)
  double factor = 1.0;
  std::optional<std::uint32_t> original_context;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  std::vector<float> long_factor, short_factor;          // phi3 longrope
};

struct Config {
  Arch arch = Arch::kLlama;
  std::string hf_class;
  std::uint32_t n_layer = 0;
  std::uint32_t n_embd = 0;
  std::uint32_t n_ff = 0;
  std::uint32_t n_head = 0;
  std::uint32_t n_head_kv = 0;
  std::uint32_t head_dim = 0;       // n_embd / n_head unless given
  std::uint32_t n_ctx = 0;          // max_position_embeddings
  std::uint32_t n_vocab = 0;
  double rms_eps = 1e-5;
  double rope_theta = 10000.0;
  double partial_rotary_factor = 1.0;
  std::optional<std::uint32_t> sliding_window;
  bool tie_embeddings = false;
  std::string torch_dtype;  // "bfloat16", "float16", "float32" or empty
  std::optional<std::uint32_t> bos_token_id, eos_token_id, pad_token_id;
  RopeScaling rope;
  std::uint32_t rope_dims() const {
    return static_cast<std::uint32_t>(partial_rotary_factor * n_embd) / n_head;
  }
};

namespace detail {

inline Expected<std::uint32_t> get_u32(const nlohmann::json& j, std::initializer_list<const char*> keys,
                                       std::optional<std::uint32_t> fallback, const std::string& file) {
  for (const char* k : keys) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 0xffffffffLL) {
      return make_error(Errc::kInvalid, std::string("\"") + k + "\" must be a non-negative 32-bit integer",
                        kNoOffset, file);
    }
    return static_cast<std::uint32_t>(it->get<std::int64_t>());
  }
  if (fallback) return *fallback;
  std::string names;
  for (const char* k : keys) names += (names.empty() ? "\"" : " or \"") + std::string(k) + "\"";
  return make_error(Errc::kNotFound, "missing " + names, kNoOffset, file);
}

inline Expected<double> get_num(const nlohmann::json& j, const char* key, double fallback, const std::string& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) return make_error(Errc::kInvalid, std::string("\"") + key + "\" must be a number", kNoOffset, file);
  return it->get<double>();
}

// A token id field may be an integer or a list (generation_config eos lists): first entry.
inline std::optional<std::uint32_t> token_id(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  const nlohmann::json* v = &*it;
  if (v->is_array() && !v->empty()) v = &(*v)[0];
  if (v->is_number_integer() && v->get<std::int64_t>() >= 0 && v->get<std::int64_t>() <= 0xffffffffLL) {
    return static_cast<std::uint32_t>(v->get<std::int64_t>());
  }
  return std::nullopt;
}

}  // namespace detail

// Parses config.json text. `file` names it in errors.
inline Expected<Config> parse_config(std::string_view text, const std::string& file = "config.json") {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::kInvalid, "not a JSON object", kNoOffset, file);
  }
  Config c;
  auto archs = j.find("architectures");
  if (archs == j.end() || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    return make_error(Errc::kNotFound, "missing \"architectures\" (supported: " + supported_architectures() + ")",
                      kNoOffset, file);
  }
  c.hf_class = (*archs)[0].get<std::string>();
  bool known = false;
  for (const auto& i : kArchs) {
    if (i.hf_class == c.hf_class) {
      c.arch = i.arch;
      known = true;
    }
  }
  if (!known) {
    return make_error(Errc::kUnsupported,
                      "architecture " + c.hf_class + " is not supported (supported: " + supported_architectures() + ")",
                      kNoOffset, file);
  }
  // Multimodal configs nest the text model (llama.cpp merges text_config first).
  nlohmann::json h = j;
  if (auto tc = j.find("text_config"); tc != j.end() && tc->is_object()) h.update(*tc);

  auto u32 = [&](std::initializer_list<const char*> keys, std::optional<std::uint32_t> fb) {
    return detail::get_u32(h, keys, fb, file);
  };
  auto n_layer = u32({"num_hidden_layers", "n_layers", "n_layer", "num_layers"}, std::nullopt);
  if (!n_layer) return n_layer.error();
  auto n_embd = u32({"hidden_size", "n_embd", "dim"}, std::nullopt);
  if (!n_embd) return n_embd.error();
  auto n_ff = u32({"intermediate_size", "n_inner", "hidden_dim"}, std::nullopt);
  if (!n_ff) return n_ff.error();
  auto n_head = u32({"num_attention_heads", "n_head", "n_heads"}, std::nullopt);
  if (!n_head) return n_head.error();
  auto n_head_kv = u32({"num_key_value_heads", "n_kv_heads", "n_head_kv"}, *n_head);
  if (!n_head_kv) return n_head_kv.error();
  auto n_ctx = u32({"max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length"}, 4096u);
  if (!n_ctx) return n_ctx.error();
  auto n_vocab = u32({"vocab_size"}, 0u);
  if (!n_vocab) return n_vocab.error();
  c.n_layer = *n_layer;
  c.n_embd = *n_embd;
  c.n_ff = *n_ff;
  c.n_head = *n_head;
  c.n_head_kv = *n_head_kv;
  c.n_ctx = *n_ctx;
  c.n_vocab = *n_vocab;
  if (c.n_layer == 0 || c.n_embd == 0 || c.n_head == 0 || c.n_head_kv == 0 || c.n_ff == 0) {
    return make_error(Errc::kInvalid, "layer count, hidden size, heads and intermediate size must be > 0",
                      kNoOffset, file);
  }
  if (c.n_head % c.n_head_kv != 0) {
    return make_error(Errc::kInvalid,
                      "num_attention_heads " + std::to_string(c.n_head) + " is not a multiple of num_key_value_heads " +
                          std::to_string(c.n_head_kv),
                      kNoOffset, file);
  }
  auto head_dim = u32({"head_dim"}, c.n_embd / c.n_head);
  if (!head_dim) return head_dim.error();
  c.head_dim = *head_dim;
  if (c.head_dim == 0 || c.head_dim % 2 != 0) {
    return make_error(Errc::kInvalid, "head dimension must be even and > 0", kNoOffset, file);
  }
  auto eps = detail::get_num(h, "rms_norm_eps", 1e-5, file);
  if (!eps) return eps.error();
  c.rms_eps = *eps;
  // rope_theta may sit in rope_parameters (newer transformers) or at the top level.
  const nlohmann::json* rp = nullptr;
  for (const char* k : {"rope_parameters", "rope_scaling"}) {
    auto it = h.find(k);
    if (it != h.end() && it->is_object()) {
      rp = &*it;
      break;
    }
  }
  double theta = 10000.0;
  if (rp) {
    auto t = detail::get_num(*rp, "rope_theta", 0.0, file);
    if (!t) return t.error();
    if (*t > 0) theta = *t;
  }
  auto top_theta = detail::get_num(h, "rope_theta", theta, file);
  if (!top_theta) return top_theta.error();
  c.rope_theta = *top_theta;
  auto prf = detail::get_num(h, "partial_rotary_factor", 1.0, file);
  if (!prf) return prf.error();
  c.partial_rotary_factor = *prf;
  if (rp) {
    std::string type;
    for (const char* k : {"rope_type", "type"}) {
      auto it = rp->find(k);
      if (it != rp->end() && it->is_string()) {
        type = it->get<std::string>();
        break;
      }
    }
    if (type != "default") c.rope.type = type;
    auto f = detail::get_num(*rp, "factor", 1.0, file);
    if (!f) return f.error();
    c.rope.factor = *f;
    auto lo = detail::get_num(*rp, "low_freq_factor", 1.0, file);
    auto hi = detail::get_num(*rp, "high_freq_factor", 4.0, file);
    if (!lo) return lo.error();
    if (!hi) return hi.error();
    c.rope.low_freq_factor = *lo;
    c.rope.high_freq_factor = *hi;
    if (auto o = detail::get_u32(*rp, {"original_max_position_embeddings"}, 0u, file); o && *o) {
      c.rope.original_context = *o;
    }
    for (auto [key, out] : {std::pair{"long_factor", &c.rope.long_factor}, std::pair{"short_factor", &c.rope.short_factor}}) {
      auto it = rp->find(key);
      if (it != rp->end() && it->is_array()) {
        for (const auto& v : *it) {
          if (!v.is_number()) return make_error(Errc::kInvalid, std::string("rope ") + key + " must hold numbers", kNoOffset, file);
          out->push_back(v.get<float>());
        }
      }
    }
  }
  if (auto o = detail::get_u32(h, {"original_max_position_embeddings"}, 0u, file); o && *o) {
    c.rope.original_context = *o;
  }
  if (auto it = h.find("sliding_window"); it != h.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    c.sliding_window = static_cast<std::uint32_t>(it->get<std::int64_t>());
  }
  if (auto it = h.find("tie_word_embeddings"); it != h.end() && it->is_boolean()) c.tie_embeddings = it->get<bool>();
  for (const char* k : {"torch_dtype", "dtype"}) {
    if (auto it = h.find(k); it != h.end() && it->is_string()) {
      c.torch_dtype = it->get<std::string>();
      break;
    }
  }
  c.bos_token_id = detail::token_id(h, "bos_token_id");
  c.eos_token_id = detail::token_id(h, "eos_token_id");
  c.pad_token_id = detail::token_id(h, "pad_token_id");
  return c;
}

}  // namespace edgequant::hf
