// Per-tensor type choice of llama.cpp's quantization mixes: candidates,
// categories, the rule function, shape fallback, imatrix requirement and the
// output tensor order (specs/llama-quant-mixes.md §2–§6).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
// GCC 12 with -fsanitize=address reports -Wmaybe-uninitialized inside
// libstdc++'s regex compiler (a false positive, GCC bug 105562); silence it
// for the std::regex code instantiated from this header only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/convert/llama_ftype.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/schemes/ggml_type.hpp"

namespace edgequant::llama {

// What the rules need to know about the model (from the GGUF/HF metadata).
struct ModelInfo {
  std::string arch = "llama";
  std::uint32_t n_layer = 0;    // [arch].block_count
  std::uint32_t n_head = 0;     // layer 0
  std::uint32_t n_head_kv = 0;  // layer 0
  std::uint32_t n_expert = 0;   // [arch].expert_count, 0 if absent
};

struct MixOptions {
  Ftype ftype = Ftype::kQ4_K_M;
  bool has_imatrix = false;
  bool pure = false;                 // --pure: default type everywhere (plus fallback)
  bool leave_output_tensor = false;  // --leave-output-tensor
  bool only_copy = false;            // COPY
  std::optional<GgmlType> token_embedding_type;  // --token-embedding-type
  std::optional<GgmlType> output_tensor_type;    // --output-tensor-type
  // --tensor-type REGEX=TYPE, first match wins (std::regex_search, ECMAScript).
  std::vector<std::pair<std::string, GgmlType>> tensor_types;
};

// A tensor as the planner sees it: name, ggml dims (ne[0] = row length) and
// its current storage type.
struct TensorDesc {
  std::string name;
  std::array<std::uint64_t, 4> ne{1, 1, 1, 1};
  GgmlType type = GgmlType::kF32;
};

struct TensorPlan {
  GgmlType type;               // what to write
  bool quantize = false;       // false: copy the input bytes unchanged
  bool fell_back = false;      // shape fallback changed the wanted type
  GgmlType wanted = GgmlType::kF32;  // before the fallback
  std::string reason;          // why (rule, override, fallback), for --dry-run
};

enum class Category { kOutput, kTokenEmbd, kQkv, kKvB, kV, kK, kQ, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOther };

inline Category tensor_category(std::string_view name) {
  auto has = [&](std::string_view s) { return name.find(s) != std::string_view::npos; };
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (has("attn_qkv.weight")) return Category::kQkv;
  if (has("attn_kv_b.weight")) return Category::kKvB;
  if (has("attn_v.weight")) return Category::kV;
  if (has("attn_k.weight")) return Category::kK;
  if (has("attn_q.weight")) return Category::kQ;
  if (has("attn_output.weight")) return Category::kAttnOutput;
  if (has("ffn_up")) return Category::kFfnUp;
  if (has("ffn_gate")) return Category::kFfnGate;
  if (has("ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

inline bool is_attn_v_like(Category c) {
  return c == Category::kV || c == Category::kQkv || c == Category::kKvB;
}

// ggml_n_dims: trailing 1-sized dimensions do not count.
inline int ggml_n_dims(const std::array<std::uint64_t, 4>& ne) {
  for (int i = 3; i >= 1; --i) {
    if (ne[static_cast<std::size_t>(i)] > 1) return i + 1;
  }
  return 1;
}

// Layer number of "blk.N.…", or -1.
inline int layer_of(std::string_view name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  std::size_t i = 4;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return -1;
  long v = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && v < 1'000'000'000) {
    v = v * 10 + (name[i] - '0');
    ++i;
  }
  return static_cast<int>(v);
}

// §2 tensor_allows_quantization.
inline bool is_quantization_candidate(const TensorDesc& t, const MixOptions& o) {
  static constexpr std::string_view kExcluded[] = {
      "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
      "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
      "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
      "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
      "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
      "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
      "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
      ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd"};
  const std::string_view n = t.name;
  if (o.only_copy) return false;
  if (ggml_n_dims(t.ne) < 2) return false;
  if (n.size() < 6 || n.substr(n.size() - 6) != "weight") return false;
  if (n.find("_norm.weight") != std::string_view::npos) return false;
  if (o.leave_output_tensor && n == "output.weight") return false;
  for (auto e : kExcluded) {
    if (n.find(e) != std::string_view::npos) return false;
  }
  return n != "position_embd.weight" && n != "token_types.weight";
}

inline bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// §5: the type used when ne[0] is not a multiple of `t`'s block size, or nullopt
// when llama.cpp has none ("no tensor type fallback is defined").
inline std::optional<GgmlType> shape_fallback(GgmlType t) {
  switch (t) {
    case GgmlType::kIQ1_S:
    case GgmlType::kIQ1_M:
    case GgmlType::kIQ2_XXS:
    case GgmlType::kIQ2_XS:
    case GgmlType::kIQ2_S:
    case GgmlType::kIQ3_XXS:
    case GgmlType::kIQ3_S:
    case GgmlType::kIQ4_XS: return GgmlType::kIQ4_NL;
    case GgmlType::kQ2_0:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kTQ1_0:
    case GgmlType::kTQ2_0: return GgmlType::kQ4_0;
    case GgmlType::kQ4_K: return GgmlType::kQ5_0;
    case GgmlType::kQ5_K: return GgmlType::kQ5_1;
    case GgmlType::kQ6_K: return GgmlType::kQ8_0;
    default: return std::nullopt;
  }
}

// §6.1: llama-quantize refuses these targets without an imatrix.
inline bool requires_imatrix(std::string_view name, GgmlType t, Ftype ftype) {
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight") {
    return false;
  }
  switch (t) {
    case GgmlType::kIQ3_XXS:
    case GgmlType::kIQ2_XXS:
    case GgmlType::kIQ2_XS:
    case GgmlType::kIQ2_S:
    case GgmlType::kIQ1_M:
    case GgmlType::kIQ1_S: return true;
    case GgmlType::kQ2_K: return ftype == Ftype::kQ2_K_S;
    default: return false;
  }
}

// §6: output order — by layer (non-layer tensors first), then byte-wise name.
inline std::vector<std::size_t> llama_tensor_order(const std::vector<std::string>& names) {
  std::vector<std::size_t> idx(names.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    const int la = layer_of(names[a]), lb = layer_of(names[b]);
    if (la != lb) return la < lb;
    return names[a] < names[b];
  });
  return idx;
}

// Chooses each tensor's type like llama_tensor_get_type. Call plan() for the
// tensors in output order (llama_tensor_order): the rule counters advance then.
class MixPlanner {
 public:
  // `tensors`: all tensors of the model (for n_attention_wv and tied embeddings).
  static Expected<MixPlanner> create(ModelInfo model, MixOptions opt,
                                     const std::vector<TensorDesc>& tensors) {
    MixPlanner p;
    p.model_ = std::move(model);
    p.opt_ = std::move(opt);
    p.has_output_ = false;
    for (const auto& t : tensors) {
      if (t.name == "output.weight") p.has_output_ = true;
      if (is_attn_v_like(tensor_category(t.name))) ++p.n_attention_wv_;
    }
    for (const auto& [pattern, type] : p.opt_.tensor_types) {
      try {
        p.regexes_.emplace_back(std::regex(pattern), type);
      } catch (const std::regex_error& e) {
        return make_error(Errc::kBadArgument, "--tensor-type: bad regex '" + pattern + "': " + e.what());
      }
    }
    return p;
  }

  bool tied_embeddings() const { return !has_output_; }
  int n_attention_wv() const { return n_attention_wv_; }

  // Type for one tensor. Errors: no fallback exists for a shape, or the target
  // needs an imatrix that was not given.
  Expected<TensorPlan> plan(const TensorDesc& t) {
    TensorPlan p;
    p.type = t.type;
    p.wanted = t.type;
    if (!is_quantization_candidate(t, opt_)) {
      p.reason = opt_.only_copy ? "copy" : "not quantized (1-D, norm, or excluded name)";
      return p;
    }
    const Category cat = tensor_category(t.name);
    GgmlType nt;
    bool forced = false;
    if (opt_.token_embedding_type && cat == Category::kTokenEmbd) {
      nt = *opt_.token_embedding_type;
      forced = true;
      p.reason = "--token-embedding-type";
    } else if (opt_.output_tensor_type && cat == Category::kOutput) {
      nt = *opt_.output_tensor_type;
      forced = true;
      p.reason = "--output-tensor-type";
    } else {
      const GgmlType def = ftype_default_type(opt_.ftype);
      if (!ggml_type_info(def).quantized) {
        nt = def;
        p.reason = "mix base type";
      } else {
        bool manual = false;
        for (const auto& [re, type] : regexes_) {
          if (std::regex_search(t.name, re)) {
            nt = type;
            manual = true;
            p.reason = "--tensor-type override";
            break;
          }
        }
        if (!manual) {
          if (opt_.pure) {
            nt = def;
            p.reason = "--pure";
          } else {
            nt = rule(t, cat, def);
            p.reason = nt == def ? "mix base type" : "llama.cpp rule";
          }
        }
      }
    }
    p.wanted = nt;
    const auto& info = ggml_type_info(nt);
    if (!forced && info.block_elems > 1 && t.ne[0] % info.block_elems != 0) {
      auto fb = shape_fallback(nt);
      if (!fb) {
        return make_error(Errc::kUnsupported,
                          t.name + ": row length " + std::to_string(t.ne[0]) +
                              " is not a multiple of the " + std::string(info.name) +
                              " block size and llama.cpp defines no fallback for it");
      }
      GgmlType f = *fb;
      if (t.ne[0] % ggml_type_info(f).block_elems != 0) f = GgmlType::kF16;
      p.fell_back = true;
      p.reason = "fallback: row length " + std::to_string(t.ne[0]) + " not a multiple of " +
                 std::to_string(info.block_elems) + " (" + std::string(info.name) + ")";
      nt = f;
    }
    p.type = nt;
    p.quantize = nt != t.type;
    if (p.quantize && !opt_.has_imatrix && requires_imatrix(t.name, nt, opt_.ftype)) {
      return make_error(Errc::kNeedsImportance,
                        t.name + ": type " + std::string(ggml_type_name(nt)) +
                            " requires an imatrix (--imatrix), as in llama.cpp");
    }
    return p;
  }

 private:
  static bool in(Ftype f, std::initializer_list<Ftype> s) {
    return std::find(s.begin(), s.end(), f) != s.end();
  }

  int gqa() const { return model_.n_head_kv ? static_cast<int>(model_.n_head / model_.n_head_kv) : 0; }
  bool is_falcon() const { return model_.arch == "falcon"; }
  bool is_70b() const {
    return model_.arch == "llama" && model_.n_layer == 80 && model_.n_head != model_.n_head_kv;
  }

  // llama_tensor_get_type_impl's rule function (§4 A–J).
  GgmlType rule(const TensorDesc& t, Category cat, GgmlType def) {
    using F = Ftype;
    using G = GgmlType;
    const F ft = opt_.ftype;
    const bool gqa4 = gqa() >= 4;
    const int n_expert = static_cast<int>(model_.n_expert);
    const int n = static_cast<int>(model_.n_layer);
    const bool imat = opt_.has_imatrix;
    const bool iq12 = in(ft, {F::kIQ2_XXS, F::kIQ2_XS, F::kIQ1_S, F::kIQ2_S, F::kIQ2_M, F::kIQ1_M});
    auto layer_or = [&](int counter) { return n_expert > 1 ? layer_of(t.name) : counter; };

    // A. output (and tied token embeddings)
    if (cat == Category::kOutput || (cat == Category::kTokenEmbd && !has_output_)) {
      if (opt_.output_tensor_type) return *opt_.output_tensor_type;
      const auto bs = ggml_type_info(def).block_elems;
      if (ft == F::kMXFP4_MOE) return G::kQ8_0;
      if (is_falcon() || t.ne[0] % bs != 0) return G::kQ8_0;
      if (iq12 || ft == F::kIQ3_XXS) return G::kQ5_K;
      if (def != G::kQ8_0) return G::kQ6_K;
      return G::kQ8_0;
    }
    // B. MXFP4 MoE
    if (ft == F::kMXFP4_MOE) {
      const bool expert = t.ne[2] > 1 && (model_.arch != "bailingmoe3" || t.name.find("ffn_") != std::string::npos);
      return expert ? G::kMXFP4 : G::kQ8_0;
    }
    // C. untied token embeddings
    if (cat == Category::kTokenEmbd) {
      if (opt_.token_embedding_type) return *opt_.token_embedding_type;
      if (in(ft, {F::kIQ2_XXS, F::kIQ2_XS, F::kIQ1_S, F::kIQ1_M})) return G::kQ2_K;
      if (in(ft, {F::kIQ2_S, F::kIQ2_M, F::kIQ3_XXS})) return G::kIQ3_S;
      if (in(ft, {F::kTQ1_0, F::kTQ2_0, F::kQ2_0})) return G::kQ4_K;
      return def;
    }
    // D. the 1–2 bit I-quant mixes
    if (iq12) {
      const bool iq2sm = ft == F::kIQ2_S || ft == F::kIQ2_M;
      if (is_attn_v_like(cat)) {
        ++i_attention_wv_;
        if (gqa4 || n_expert >= 4) return G::kQ4_K;
        return iq2sm ? G::kIQ3_S : G::kQ2_K;
      }
      if (n_expert == 8 && cat == Category::kK) return G::kQ4_K;
      if (cat == Category::kFfnDown) {
        const int i = i_ffn_down_++;
        if (i < n / 8) return iq2sm ? G::kIQ3_S : G::kQ2_K;
        return def;
      }
      if (cat == Category::kAttnOutput) {
        if (n_expert == 8) return G::kQ5_K;
        if (ft == F::kIQ1_S || ft == F::kIQ1_M) return G::kIQ2_XXS;
        if (iq2sm) return G::kIQ3_S;
      }
      return def;
    }
    // E. attn_v-like
    if (is_attn_v_like(cat)) {
      const int i = i_attention_wv_;
      G r = def;
      if (ft == F::kQ2_K) r = gqa4 ? G::kQ4_K : G::kQ3_K;
      else if (ft == F::kQ2_K_S && gqa4) r = G::kQ4_K;
      else if (ft == F::kIQ3_XXS) r = gqa4 ? G::kQ4_K : (!imat ? G::kIQ3_S : G::kIQ3_XXS);
      else if ((ft == F::kIQ3_XS || ft == F::kIQ3_S) && gqa4) r = G::kQ4_K;
      else if (ft == F::kIQ3_M) r = G::kQ4_K;
      else if (ft == F::kQ3_K_M) r = i < 2 ? G::kQ5_K : G::kQ4_K;
      else if (ft == F::kQ3_K_L) r = G::kQ5_K;
      else if ((ft == F::kIQ4_NL || ft == F::kIQ4_XS) && gqa4) r = G::kQ5_K;
      else if ((ft == F::kQ4_K_M || ft == F::kQ5_K_M) && use_more_bits(i, n_attention_wv_)) r = G::kQ6_K;
      else if (ft == F::kQ4_K_S && i < 4) r = G::kQ5_K;
      if (is_70b() && (r == G::kQ3_K || r == G::kQ4_K)) r = G::kQ5_K;
      if (n_expert == 8) r = G::kQ8_0;
      ++i_attention_wv_;
      return r;
    }
    // F. attn_k
    if (cat == Category::kK) {
      if (n_expert == 8) return G::kQ8_0;
      if (ft == F::kIQ3_XS) return G::kIQ3_XXS;
      if (ft == F::kIQ3_XXS) return G::kIQ2_S;
      return def;
    }
    // G. attn_q
    if (cat == Category::kQ) {
      if (ft == F::kIQ3_XS) return G::kIQ3_XXS;
      if (ft == F::kIQ3_XXS) return G::kIQ2_S;
      return def;
    }
    // H. ffn_down
    if (cat == Category::kFfnDown) {
      const int i = layer_or(i_ffn_down_);
      G r = def;
      if (ft == F::kQ2_K) r = G::kQ3_K;
      else if (ft == F::kQ2_K_S) r = i < n / 8 ? G::kQ4_K : def;
      else if (ft == F::kIQ3_XXS && !imat) r = i < n / 8 ? G::kQ4_K : G::kQ3_K;
      else if (ft == F::kQ3_K_M) {
        r = i < n / 16 ? G::kQ5_K : (!is_falcon() || use_more_bits(i, n)) ? G::kQ4_K : G::kQ3_K;
      } else if (ft == F::kIQ3_M && (i < n / 8 || (n_expert == 8 && use_more_bits(i, n)))) {
        r = G::kQ4_K;
      } else if (ft == F::kQ3_K_L) {
        r = is_falcon() ? G::kQ4_K : G::kQ5_K;
      } else if (ft == F::kQ4_K_M) {
        if (is_falcon()) r = i < n / 16 ? G::kQ6_K : use_more_bits(i, n) ? G::kQ5_K : G::kQ4_K;
        else if (use_more_bits(i, n)) r = G::kQ6_K;
      } else if (i < n / 8 && (ft == F::kIQ4_NL || ft == F::kIQ4_XS) && !imat) {
        r = G::kQ5_K;
      } else if (ft == F::kQ5_K_M && use_more_bits(i, n)) {
        r = G::kQ6_K;
      } else if (ft == F::kQ4_K_S && !is_falcon() && i < n / 8) {
        r = G::kQ5_K;
      } else if ((ft == F::kQ4_0 || ft == F::kQ5_0) && imat && i < n / 8) {
        r = ft == F::kQ4_0 ? G::kQ4_1 : G::kQ5_1;
      }
      ++i_ffn_down_;
      return r;
    }
    // I. attn_output
    if (cat == Category::kAttnOutput) {
      if (!is_falcon()) {
        if (n_expert == 8 && in(ft, {F::kQ2_K, F::kIQ3_XS, F::kIQ3_XXS, F::kQ3_K_S, F::kQ3_K_M, F::kIQ4_NL,
                                     F::kQ4_K_S, F::kQ4_K_M, F::kIQ3_S, F::kIQ3_M, F::kIQ4_XS})) {
          return G::kQ5_K;
        }
        if (ft == F::kQ2_K) return G::kQ3_K;
        if (ft == F::kIQ3_XXS) return G::kIQ3_S;
        if (ft == F::kQ3_K_M) return G::kQ4_K;
        if (ft == F::kQ3_K_L) return G::kQ5_K;
        if (ft == F::kIQ3_M) return G::kQ4_K;
      } else if (ft == F::kQ3_K_L) {
        return G::kQ4_K;
      }
      return def;
    }
    // J. ffn_gate / ffn_up
    if (cat == Category::kFfnGate || cat == Category::kFfnUp) {
      int& counter = cat == Category::kFfnGate ? i_ffn_gate_ : i_ffn_up_;
      const int i = layer_or(counter);
      G r = def;
      if (ft == F::kIQ3_XS && i >= n / 8 && i < 7 * n / 8) r = G::kIQ3_XXS;
      ++counter;
      return r;
    }
    return def;
  }

  ModelInfo model_;
  MixOptions opt_;
  std::vector<std::pair<std::regex, GgmlType>> regexes_;
  bool has_output_ = false;
  int n_attention_wv_ = 0;
  int i_attention_wv_ = 0, i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
};

}  // namespace edgequant::llama

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
