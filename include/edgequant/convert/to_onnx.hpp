// A llama-family decoder (Hugging Face folder or GGUF file) → a runnable ONNX
// model: input_ids → logits (full sequence, or with a KV cache), RMSNorm / RoPE / GQA /
// SiLU-gated MLP from standard ops, linear weights as com.microsoft
// MatMulNBits (or float), GGUF Q4_0/Q8_0 re-packed without re-quantizing
// (docs/convert.md, "To ONNX"; specs/onnx.md §6).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/convert/gguf_to_hf.hpp"
#include "edgequant/convert/hf_config.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/convert/hf_to_mlx.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/formats/onnx.hpp"
#include "edgequant/formats/onnx/quantize.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"
#include "edgequant/transcode.hpp"

namespace edgequant::convert {

// IR 10 / ai.onnx 21 / com.microsoft 1: every op used here exists at these
// versions (tested with onnxruntime-node 1.30.0).
inline constexpr std::int64_t kOnnxExportIrVersion = 10;
inline constexpr std::int64_t kOnnxExportOpset = 21;

struct OnnxOptions {
  bool quantize = true;    // false: every weight float (--no-quantize)
  int bits = 4;            // MatMulNBits bits: 4 or 8
  std::size_t block = 32;  // MatMulNBits block_size: 32, 64 or 128
  bool symmetric = true;   // false: with zero points (--asym)
  // Storage type of the float weights (embedding, lm_head, and the linear
  // weights with --no-quantize): f32 or f16 (cast to f32 in the graph).
  FloatType float_type = FloatType::kF32;
  // Also past_key_values.N.key/value inputs [batch, kv_heads, past, head_dim]
  // and present.N.key/value outputs (past + new positions); positions then
  // start at `past`. Without it: a full-sequence graph (positions 0..S-1).
  bool kv_cache = false;
  unsigned threads = 0;  // 0: all hardware threads; bytes never depend on it
};

struct OnnxExportResult {
  std::size_t repacked = 0;       // GGUF Q4_0/Q8_0 weights carried into MatMulNBits as they are
  std::size_t quantized = 0;      // float weights quantized into MatMulNBits
  std::size_t float_weights = 0;  // linear / embedding matrices stored as float
  std::size_t nodes = 0;
  std::uint64_t weight_bytes = 0;   // initializer payloads
  std::vector<std::string> copied;  // config and tokenizer files copied (GGUF: rebuilt)
};

// One weight of the source in Hugging Face layout (rows in HF order).
struct OnnxSourceWeight {
  std::string name;                                 // Hugging Face name
  std::vector<std::uint64_t> shape;                 // Hugging Face shape
  GgmlType stored = GgmlType::kF32;                 // GGUF storage type (F32 for a model folder)
  std::function<Status(std::vector<float>&)> load;  // float32, row-major, HF row order
  std::function<Expected<GgmlTensor>()> blocks;     // GGUF Q4_0/Q8_0 only: HF row order
};

namespace onnx_export {

using onnx::DataType;
namespace ob = onnx::build;

inline Status check_options(const OnnxOptions& o) {
  if (o.quantize) {
    if (o.bits != 4 && o.bits != 8) {
      return make_error(Errc::kBadArgument,
                        "--to onnx: --bits must be 4 or 8 (got " + std::to_string(o.bits) + ")");
    }
    if (o.block != 32 && o.block != 64 && o.block != 128) {
      return make_error(Errc::kBadArgument, "--to onnx: --block must be 32, 64 or 128 (got " +
                                                std::to_string(o.block) + ")");
    }
  }
  if (o.float_type != FloatType::kF32 && o.float_type != FloatType::kF16) {
    return make_error(Errc::kBadArgument, "--to onnx: float weights are f32 or f16");
  }
  return {};
}

// The decoder shapes the graph supports: llama, mistral (full causal
// attention), qwen2 (q/k/v biases); rope scaling none or linear.
inline Status check_config(const hf::Config& c, const std::string& file) {
  if (c.arch == hf::Arch::kPhi3) {
    return make_error(
        Errc::kUnsupported,
        "--to onnx supports LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM "
        "(Phi3ForCausalLM: fused qkv / partial rotary not written yet)",
        kNoOffset, file);
  }
  if (!c.rope.type.empty() && c.rope.type != "linear") {
    return make_error(
        Errc::kUnsupported,
        "--to onnx: rope scaling \"" + c.rope.type + "\" is not supported (none or linear)",
        kNoOffset, file);
  }
  if (c.partial_rotary_factor != 1.0) {
    return make_error(Errc::kUnsupported, "--to onnx: partial rotary embeddings are not supported",
                      kNoOffset, file);
  }
  if (c.n_vocab == 0) return make_error(Errc::kInvalid, "vocabulary size unknown", kNoOffset, file);
  if (c.n_head == 0 || c.n_head_kv == 0 || c.n_head % c.n_head_kv != 0 || c.head_dim == 0 ||
      c.head_dim % 2 != 0) {
    return make_error(Errc::kInvalid, "heads / kv heads / head dimension do not fit a GQA decoder",
                      kNoOffset, file);
  }
  return {};
}

// Rows × cols of a weight (1-D: one row).
inline std::pair<std::uint64_t, std::uint64_t> matrix_shape(const OnnxSourceWeight& w) {
  if (w.shape.size() == 2) return {w.shape[0], w.shape[1]};
  return {1, w.shape.empty() ? 1 : w.shape[0]};
}

inline std::vector<std::byte> encode_floats(const std::vector<float>& v, FloatType t) {
  std::vector<std::byte> out(v.size() * float_type_bytes(t));
  for (std::size_t i = 0; i < v.size(); ++i) {
    store_float(t, v[i], reinterpret_cast<std::uint8_t*>(out.data()) + i * float_type_bytes(t));
  }
  return out;
}

inline Status check_finite(const std::vector<float>& v, const std::string& name) {
  const std::size_t bad = edgequant::first_non_finite(v.data(), v.size());
  if (bad != v.size()) {
    return make_error(Errc::kNonFinite,
                      "tensor \"" + name + "\" holds NaN or Inf at element " + std::to_string(bad));
  }
  return {};
}

// Builds the decoder graph; weights become lazy initializers produced while
// the model is written (one weight in memory at a time).
class DecoderBuilder {
 public:
  using Progress = std::function<void(const std::string&)>;

  DecoderBuilder(const hf::Config& c, std::map<std::string, OnnxSourceWeight, std::less<>> weights,
                 const OnnxOptions& opt, Progress progress)
      : c_(c), w_(std::move(weights)), opt_(opt), progress_(std::move(progress)) {}

  Expected<onnx::Model> build(OnnxExportResult& res) {
    res_ = &res;
    const std::int64_t H = c_.n_embd, hd = c_.head_dim, nh = c_.n_head, nkv = c_.n_head_kv;
    const std::int64_t rep = nh / nkv;

    // Constants shared by the layers.
    const std::string axes_last = i64("axes_last", {-1});
    const std::string axes0 = i64("axes_0", {0});
    const std::string axes1 = i64("axes_1", {1});
    const std::string eps = f32("rms_eps", {static_cast<float>(c_.rms_eps)}, {1});
    const std::string q_shape = i64("q_shape", {0, 0, nkv, rep, hd});
    const std::string kv_shape = i64("kv_shape", {0, 0, nkv, hd});
    const std::string axes2 = i64("axes_2", {2});
    const std::string o_shape = i64("attn_out_shape", {0, 0, nh * hd});
    const std::string scale =
        f32("attn_scale", {static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))}, {1});

    // Sequence length S, past length P (KV cache; else 0), positions P..P+S-1,
    // RoPE tables [S, hd], causal mask [S, P+S].
    const std::string shape = op("Shape", {"input_ids"}, {}, "ids_shape");
    const std::string one_idx = i64s_scalar("idx_1", 1);
    const std::string one = i64s_scalar("one", 1);
    const std::string seq = op("Gather", {shape, one_idx}, {ob::attr("axis", 0)}, "seq_len");
    std::string past = i64s_scalar("zero", 0), total = seq;
    if (opt_.kv_cache) {
      const std::string ps = op("Shape", {"past_key_values.0.key"}, {}, "past_shape");
      past = op("Gather", {ps, i64s_scalar("idx_2", 2)}, {ob::attr("axis", 0)}, "past_len");
      total = op("Add", {past, seq}, {}, "total_len");
    }
    const std::string pos = op("Range", {past, total, one}, {}, "positions");
    const std::string posf =
        op("Cast", {pos}, {ob::attr("to", static_cast<std::int64_t>(DataType::kFloat))},
           "positions_f");
    const std::string posc = op("Unsqueeze", {posf, axes1}, {}, "positions_col");
    std::vector<float> inv(static_cast<std::size_t>(hd / 2));
    for (std::size_t i = 0; i < inv.size(); ++i) {
      // HF: 1 / theta^(2i / hd); linear scaling divides the positions by factor.
      double f =
          1.0 / std::pow(c_.rope_theta, static_cast<double>(2 * i) / static_cast<double>(hd));
      if (c_.rope.type == "linear" && c_.rope.factor > 0) f /= c_.rope.factor;
      inv[i] = static_cast<float>(f);
    }
    const std::string invf = f32("rope_inv_freq", inv, {static_cast<std::int64_t>(inv.size())});
    const std::string freqs = op("Mul", {posc, invf}, {}, "rope_freqs");
    const std::string emb = op("Concat", {freqs, freqs}, {ob::attr("axis", -1)}, "rope_angles");
    cos_ = op("Cos", {emb}, {}, "rope_cos");
    sin_ = op("Sin", {emb}, {}, "rope_sin");
    const std::string seq1 = op("Unsqueeze", {seq, axes0}, {}, "seq_len_1");
    const std::string tot1 =
        opt_.kv_cache ? op("Unsqueeze", {total, axes0}, {}, "total_len_1") : seq1;
    const std::string sq = op("Concat", {seq1, tot1}, {ob::attr("axis", 0)}, "mask_shape");
    const float lowest = std::numeric_limits<float>::lowest();  // HF: finfo(float32).min
    const std::string full = op("ConstantOfShape", {sq},
                                {ob::attr("value", ob::tensor("mask_value", DataType::kFloat, {1},
                                                              std::vector<float>{lowest}))},
                                "mask_full");
    // Query i (position P+i) sees keys 0..P+i: mask the entries above diagonal P.
    const std::string mask_k = opt_.kv_cache ? op("Add", {past, one}, {}, "mask_k") : one;
    const std::string mask = op("Trilu", {full, mask_k}, {ob::attr("upper", 1)}, "causal_mask");

    // Embedding.
    auto emb_w = take("model.embed_tokens.weight");
    if (!emb_w) return std::move(emb_w).error();
    const auto [V, He] = matrix_shape(**emb_w);
    if (He != static_cast<std::uint64_t>(H) || (*emb_w)->shape.size() != 2) {
      return make_error(Errc::kInvalid, "model.embed_tokens.weight is not [vocab, hidden_size]");
    }
    const std::string table = float_init(**emb_w, false);
    std::string x = op("Gather", {table, "input_ids"}, {ob::attr("axis", 0)}, "embeddings");
    if (opt_.float_type != FloatType::kF32) x = cast_f32(x);

    for (std::uint32_t l = 0; l < c_.n_layer; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      tag_ = "l" + std::to_string(l) + ".";
      auto h = rms_norm(x, p + "input_layernorm.weight", axes_last, eps);
      if (!h) return std::move(h).error();
      auto q = linear(*h, p + "self_attn.q_proj", nh * hd);
      auto k = linear(*h, p + "self_attn.k_proj", nkv * hd);
      auto v = linear(*h, p + "self_attn.v_proj", nkv * hd);
      if (!q) return std::move(q).error();
      if (!k) return std::move(k).error();
      if (!v) return std::move(v).error();
      // [B, S, heads·hd] → [B, nkv, rep, S, hd]: query head h = g·rep + r uses
      // key/value head g (HF repeat_kv); K/V [B, nkv, T, hd] get a rep axis of
      // 1 that MatMul broadcasts.
      const std::vector<Attribute> perm5{ob::attr_ints("perm", {0, 2, 3, 1, 4})};
      const std::vector<Attribute> perm4{ob::attr_ints("perm", {0, 2, 1, 3})};
      std::string q5 = op("Transpose", {op("Reshape", {*q, q_shape}, {}, "q_heads")}, perm5, "q_t");
      std::string k4 =
          op("Transpose", {op("Reshape", {*k, kv_shape}, {}, "k_heads")}, perm4, "k_t");
      std::string v4 =
          op("Transpose", {op("Reshape", {*v, kv_shape}, {}, "v_heads")}, perm4, "v_t");
      q5 = rope(q5, "q");
      k4 = rope(k4, "k");
      if (opt_.kv_cache) {
        const std::string ls = std::to_string(l);
        for (auto [t, what] : {std::pair{&k4, "key"}, std::pair{&v4, "value"}}) {
          const std::string present = "present." + ls + "." + what;
          nodes_.push_back(ob::node("Concat", {"past_key_values." + ls + "." + what, *t}, {present},
                                    {ob::attr("axis", 2)}, tag_ + "present_" + what));
          *t = present;
        }
      }
      const std::string k5 = op("Unsqueeze", {k4, axes2}, {}, "k_rep");
      const std::string v5 = op("Unsqueeze", {v4, axes2}, {}, "v_rep");
      const std::string kt =
          op("Transpose", {k5}, {ob::attr_ints("perm", {0, 1, 2, 4, 3})}, "k_tt");
      const std::string s0 = op("MatMul", {q5, kt}, {}, "scores");
      const std::string s1 = op("Mul", {s0, scale}, {}, "scores_scaled");
      const std::string s2 = op("Add", {s1, mask}, {}, "scores_masked");
      const std::string pr = op("Softmax", {s2}, {ob::attr("axis", -1)}, "probs");
      const std::string ctx = op("MatMul", {pr, v5}, {}, "context");
      const std::string ct =
          op("Transpose", {ctx}, {ob::attr_ints("perm", {0, 3, 1, 2, 4})}, "context_t");
      const std::string cm = op("Reshape", {ct, o_shape}, {}, "context_merged");
      auto o = linear(cm, p + "self_attn.o_proj", H);
      if (!o) return std::move(o).error();
      x = op("Add", {x, *o}, {}, "attn_residual");
      auto h2 = rms_norm(x, p + "post_attention_layernorm.weight", axes_last, eps);
      if (!h2) return std::move(h2).error();
      auto g = linear(*h2, p + "mlp.gate_proj", c_.n_ff);
      auto u = linear(*h2, p + "mlp.up_proj", c_.n_ff);
      if (!g) return std::move(g).error();
      if (!u) return std::move(u).error();
      const std::string sg =
          op("Mul", {*g, op("Sigmoid", {*g}, {}, "gate_sigmoid")}, {}, "gate_silu");
      const std::string gu = op("Mul", {sg, *u}, {}, "gate_up");
      auto d = linear(gu, p + "mlp.down_proj", H);
      if (!d) return std::move(d).error();
      x = op("Add", {x, *d}, {}, "mlp_residual");
    }
    tag_.clear();
    auto fn = rms_norm(x, "model.norm.weight", axes_last, eps);
    if (!fn) return std::move(fn).error();
    std::string head_t;
    if (auto it = w_.find("lm_head.weight"); it != w_.end()) {
      auto lm = take("lm_head.weight");
      if (!lm) return std::move(lm).error();
      if (matrix_shape(**lm) !=
          std::pair<std::uint64_t, std::uint64_t>{V, static_cast<std::uint64_t>(H)}) {
        return make_error(Errc::kInvalid, "lm_head.weight is not [vocab, hidden_size]");
      }
      head_t = float_init(**lm, true);
      if (opt_.float_type != FloatType::kF32) head_t = cast_f32(head_t);
    } else {
      // Tied: the embedding table, transposed in the graph (stored once).
      head_t = op("Transpose", {table}, {ob::attr_ints("perm", {1, 0})}, "lm_head_t");
      if (opt_.float_type != FloatType::kF32) head_t = cast_f32(head_t);
    }
    nodes_.push_back(ob::node("MatMul", {*fn, head_t}, {"logits"}, {}, "lm_head"));

    for (const auto& [name, w] : w_) {
      if (!used_.count(name)) {
        return make_error(Errc::kUnsupported, "tensor \"" + name +
                                                  "\" has no place in the ONNX decoder graph "
                                                  "(no weight is dropped silently)");
      }
    }
    res.nodes = nodes_.size();
    for (const auto& t : inits_) res.weight_bytes += t.payload_size();
    std::vector<onnx::ValueInfo> inputs{
        ob::value_info("input_ids", DataType::kInt64, std::vector<ob::Dim>{"batch", "sequence"})};
    std::vector<onnx::ValueInfo> outputs{
        ob::value_info("logits", DataType::kFloat,
                       std::vector<ob::Dim>{"batch", "sequence", static_cast<std::int64_t>(V)})};
    if (opt_.kv_cache) {
      for (std::uint32_t l = 0; l < c_.n_layer; ++l) {
        for (const char* what : {"key", "value"}) {
          const std::string suffix = std::to_string(l) + "." + what;
          inputs.push_back(ob::value_info("past_key_values." + suffix, DataType::kFloat,
                                          std::vector<ob::Dim>{"batch", nkv, "past_sequence", hd}));
          outputs.push_back(
              ob::value_info("present." + suffix, DataType::kFloat,
                             std::vector<ob::Dim>{"batch", nkv, "total_sequence", hd}));
        }
      }
    }
    onnx::Graph g = ob::graph(std::move(nodes_), "edgequant_decoder", std::move(inputs),
                              std::move(outputs), std::move(inits_));
    std::vector<onnx::OperatorSetId> opsets{ob::opset("", kOnnxExportOpset)};
    if (uses_nbits_) opsets.push_back(ob::opset("com.microsoft", 1));
    onnx::Model m = ob::model(std::move(g), kOnnxExportIrVersion, std::move(opsets));
    m.producer_name = "edgequant";
    m.mark(2);
    return m;
  }

 private:
  using Attribute = onnx::Attribute;

  std::string op(const std::string& type, std::vector<std::string> in, std::vector<Attribute> attrs,
                 const std::string& hint) {
    const std::string out = tag_ + hint + "_" + std::to_string(counter_++);
    nodes_.push_back(ob::node(type, std::move(in), {out}, std::move(attrs), out));
    return out;
  }
  std::string i64(const std::string& name, std::vector<std::int64_t> v) {
    const auto n = static_cast<std::int64_t>(v.size());
    inits_.push_back(ob::tensor(name, DataType::kInt64, {n}, v));
    return name;
  }
  std::string i64s_scalar(const std::string& name, std::int64_t v) {
    inits_.push_back(ob::tensor(name, DataType::kInt64, {}, std::vector<std::int64_t>{v}));
    return name;
  }
  std::string f32(const std::string& name, std::vector<float> v, std::vector<std::int64_t> dims) {
    inits_.push_back(ob::tensor(name, DataType::kFloat, std::move(dims), v));
    return name;
  }
  std::string cast_f32(const std::string& x) {
    return op("Cast", {x}, {ob::attr("to", static_cast<std::int64_t>(DataType::kFloat))}, "to_f32");
  }

  Expected<const OnnxSourceWeight*> take(const std::string& name) {
    auto it = w_.find(name);
    if (it == w_.end())
      return make_error(Errc::kNotFound, "the model has no tensor \"" + name + "\"");
    used_.insert(name);
    return &it->second;
  }
  std::optional<const OnnxSourceWeight*> maybe(const std::string& name) {
    auto it = w_.find(name);
    if (it == w_.end()) return std::nullopt;
    used_.insert(name);
    return &it->second;
  }

  void done(const std::string& name) {
    if (progress_) progress_(name);
  }

  // A float initializer: the weight as stored ([rows, cols]), or transposed
  // ([cols, rows], the MatMul B of y = x·Wᵀ); float_type, f32 for 1-D.
  std::string float_init(const OnnxSourceWeight& w, bool transpose, bool force_f32 = false) {
    const auto shape = matrix_shape(w);
    const std::uint64_t rows = shape.first, cols = shape.second;
    const FloatType ft = force_f32 ? FloatType::kF32 : opt_.float_type;
    std::vector<std::int64_t> dims;
    if (w.shape.size() == 2) {
      dims = transpose ? std::vector<std::int64_t>{static_cast<std::int64_t>(cols),
                                                   static_cast<std::int64_t>(rows)}
                       : std::vector<std::int64_t>{static_cast<std::int64_t>(rows),
                                                   static_cast<std::int64_t>(cols)};
    } else {
      dims = {static_cast<std::int64_t>(cols)};
    }
    const std::string name = transpose ? w.name + "_T" : w.name;
    const auto load = w.load;
    const std::string src = w.name;
    auto self = this;
    inits_.push_back(ob::lazy_tensor(
        name, ft == FloatType::kF16 ? DataType::kFloat16 : DataType::kFloat, dims,
        rows * cols * float_type_bytes(ft),
        [load, src, transpose, rows, cols, ft, self](const onnx::ChunkSink& sink) -> Status {
          std::vector<float> v;
          EDGEQUANT_TRY(load(v));
          if (v.size() != rows * cols)
            return make_error(Errc::kInvalid, "tensor \"" + src + "\": wrong element count");
          EDGEQUANT_TRY(check_finite(v, src));
          if (transpose) {
            std::vector<float> t(v.size());
            for (std::uint64_t r = 0; r < rows; ++r)
              for (std::uint64_t k = 0; k < cols; ++k) t[k * rows + r] = v[r * cols + k];
            v.swap(t);
          }
          const auto bytes = encode_floats(v, ft);
          EDGEQUANT_TRY(sink(std::span<const std::byte>(bytes)));
          self->done(src);
          return {};
        }));
    if (w.shape.size() == 2) ++res_->float_weights;
    return name;
  }

  Expected<std::string> rms_norm(const std::string& x, const std::string& wname,
                                 const std::string& axes, const std::string& eps) {
    auto w = take(wname);
    if (!w) return std::move(w).error();
    if ((*w)->shape.size() != 1 || (*w)->shape[0] != c_.n_embd) {
      return make_error(Errc::kInvalid, "tensor \"" + wname + "\" is not [hidden_size]");
    }
    const std::string wi = float_init(**w, false, true);
    // HF LlamaRMSNorm in float32: x · rsqrt(mean(x²) + eps) · w.
    const std::string sq = op("Mul", {x, x}, {}, "rms_sq");
    const std::string ms = op("ReduceMean", {sq, axes}, {ob::attr("keepdims", 1)}, "rms_mean");
    const std::string ve = op("Add", {ms, eps}, {}, "rms_var_eps");
    const std::string rs = op("Sqrt", {ve}, {}, "rms_root");
    const std::string n = op("Div", {x, rs}, {}, "rms_normed");
    return op("Mul", {n, wi}, {}, "rms_out");
  }

  // HF rotate-half RoPE on [..., S, hd]: t·cos + concat(−t₂, t₁)·sin.
  std::string rope(const std::string& t, const std::string& what) {
    const std::string h1 = tag_ + what + "_half1_" + std::to_string(counter_);
    const std::string h2 = tag_ + what + "_half2_" + std::to_string(counter_++);
    nodes_.push_back(ob::node("Split", {t}, {h1, h2},
                              {ob::attr("axis", -1), ob::attr("num_outputs", 2)}, h1 + "_split"));
    const std::string neg = op("Neg", {h2}, {}, what + "_neg_half2");
    const std::string rot = op("Concat", {neg, h1}, {ob::attr("axis", -1)}, what + "_rotated");
    const std::string a = op("Mul", {t, cos_}, {}, what + "_cos");
    const std::string b = op("Mul", {rot, sin_}, {}, what + "_sin");
    return op("Add", {a, b}, {}, what + "_rope");
  }

  // y = x·Wᵀ (+ b) for the HF Linear `module` ([n_out, K] weight).
  Expected<std::string> linear(const std::string& x, const std::string& module,
                               std::int64_t n_out) {
    auto wp = take(module + ".weight");
    if (!wp) return std::move(wp).error();
    const OnnxSourceWeight& w = **wp;
    const auto shape = matrix_shape(w);
    const std::uint64_t N = shape.first, K = shape.second;
    if (w.shape.size() != 2 || N != static_cast<std::uint64_t>(n_out)) {
      return make_error(Errc::kInvalid, "tensor \"" + w.name + "\" has " +
                                            std::to_string(w.shape.size()) + " dims / " +
                                            std::to_string(N) + " rows, want " +
                                            std::to_string(n_out));
    }
    std::string y;
    const bool repack =
        opt_.quantize && w.blocks && (w.stored == GgmlType::kQ4_0 || w.stored == GgmlType::kQ8_0);
    if (repack || opt_.quantize) {
      const int bits = repack ? (w.stored == GgmlType::kQ4_0 ? 4 : 8) : opt_.bits;
      const std::size_t block = repack ? 32 : opt_.block;
      const bool sym = repack || opt_.symmetric;
      const std::string sname = "ort:nbits" + std::to_string(bits) + ":b" + std::to_string(block) +
                                (sym ? ":sym" : ":asym");
      const PlaneSchemeInfo* s = find_plane_scheme(sname);
      if (!s) return make_error(Errc::kUnsupported, "no plane scheme " + sname);
      const auto specs =
          s->planes(static_cast<std::size_t>(N), static_cast<std::size_t>(K), FloatType::kF32);
      const std::size_t nb = (static_cast<std::size_t>(K) + block - 1) / block;
      const std::size_t blob = block * static_cast<std::size_t>(bits) / 8;
      auto job = std::make_shared<onnx::detail::PlaneJob>();
      const auto load = w.load;
      const auto blocks = w.blocks;
      const std::string src = w.name;
      const unsigned threads = opt_.threads;
      auto self = this;
      job->compute = [repack, blocks, load, src, s, K, threads,
                      self]() -> Expected<std::vector<std::vector<std::uint8_t>>> {
        std::vector<std::vector<std::uint8_t>> out;
        if (repack) {
          auto g = blocks();
          if (!g) return std::move(g).error();
          auto nbw = onnx::ggml_to_matmul_nbits(*g, FloatType::kF32);
          if (!nbw) {
            Error e = std::move(nbw).error();
            e.what = "tensor \"" + src + "\": " + e.what;
            return e;
          }
          out.push_back(std::move(nbw->planes.data[0]));
          out.push_back(std::move(nbw->planes.data[1]));
        } else {
          std::vector<float> v;
          EDGEQUANT_TRY(load(v));
          EDGEQUANT_TRY(check_finite(v, src));
          PlaneOptions po;
          po.dtype = FloatType::kF32;
          po.threads = threads;
          auto q = quantize_planes(*s, v, static_cast<std::size_t>(K), po);
          if (!q) {
            Error e = std::move(q).error();
            e.what = "tensor \"" + src + "\": " + e.what;
            return e;
          }
          for (std::size_t p = 0; p < kMaxPlanes; ++p) {
            if (q->specs[p].row_bytes) out.push_back(std::move(q->data[p]));
          }
        }
        self->done(src);
        return out;
      };
      const std::string qn = module + ".weight_Q" + std::to_string(bits);
      const std::string sn = module + ".weight_scales";
      inits_.push_back(
          onnx::detail::job_tensor(job, 0, qn, DataType::kUint8,
                                   {static_cast<std::int64_t>(N), static_cast<std::int64_t>(nb),
                                    static_cast<std::int64_t>(blob)},
                                   specs[0].file_bytes(static_cast<std::size_t>(N))));
      inits_.push_back(onnx::detail::job_tensor(job, 1, sn, DataType::kFloat,
                                                {static_cast<std::int64_t>(N * nb)},
                                                specs[1].file_bytes(static_cast<std::size_t>(N))));
      std::vector<std::string> in{x, qn, sn};
      if (!sym) {
        const std::uint64_t zb = specs[2].file_bytes(static_cast<std::size_t>(N));
        const std::string zn = module + ".weight_zero_points";
        inits_.push_back(onnx::detail::job_tensor(job, 2, zn, DataType::kUint8,
                                                  {static_cast<std::int64_t>(zb)}, zb));
        in.push_back(zn);
      }
      y = tag_ + module.substr(module.rfind('.') + 1) + "_" + std::to_string(counter_++);
      nodes_.push_back(ob::node(
          "MatMulNBits", std::move(in), {y},
          {ob::attr("K", static_cast<std::int64_t>(K)), ob::attr("N", static_cast<std::int64_t>(N)),
           ob::attr("bits", static_cast<std::int64_t>(bits)),
           ob::attr("block_size", static_cast<std::int64_t>(block))},
          y, "com.microsoft"));
      uses_nbits_ = true;
      ++(repack ? res_->repacked : res_->quantized);
    } else {
      std::string wt = float_init(w, true);
      if (opt_.float_type != FloatType::kF32) wt = cast_f32(wt);
      y = op("MatMul", {x, wt}, {}, module.substr(module.rfind('.') + 1));
    }
    if (auto b = maybe(module + ".bias")) {
      if ((*b)->shape.size() != 1 || (*b)->shape[0] != N) {
        return make_error(Errc::kInvalid,
                          "tensor \"" + (*b)->name + "\" does not match its weight");
      }
      const std::string bi = float_init(**b, false, true);
      y = op("Add", {y, bi}, {}, module.substr(module.rfind('.') + 1) + "_bias");
    }
    return y;
  }

  const hf::Config& c_;
  std::map<std::string, OnnxSourceWeight, std::less<>> w_;
  OnnxOptions opt_;
  Progress progress_;
  OnnxExportResult* res_ = nullptr;
  std::vector<onnx::Node> nodes_;
  std::vector<onnx::Tensor> inits_;
  std::set<std::string, std::less<>> used_;
  std::string cos_, sin_, tag_;
  std::size_t counter_ = 0;
  bool uses_nbits_ = false;
};

// Writes model.onnx + model.onnx.data into out_dir (always external data:
// every initializer of 1 KiB or more, tensors of 1 MiB or more 4096-aligned).
inline Status write_decoder(const onnx::Model& m, const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create folder: " + ec.message(), kNoOffset, out_dir);
  onnx::WriteOptions wo;
  wo.external = onnx::WriteOptions::External::kExternal;
  wo.data_location = "model.onnx.data";
  return onnx::write_model(m, (std::filesystem::path(out_dir) / "model.onnx").string(), wo);
}

}  // namespace onnx_export

// The source weights of a Hugging Face model folder (config parsed into `cfg`).
// The returned loaders keep the mapped shards alive.
inline Expected<std::map<std::string, OnnxSourceWeight, std::less<>>> onnx_weights_from_hf(
    const std::string& in_dir, hf::Config& cfg) {
  auto c = hf::detail::read_folder_config(in_dir, "a Hugging Face model folder or a .gguf");
  if (!c) return std::move(c).error();
  cfg = *c;
  auto sm = safetensors::ShardedModel::open(in_dir);
  if (!sm) return std::move(sm).error();
  auto model = std::make_shared<safetensors::ShardedModel>(std::move(*sm));
  std::map<std::string, OnnxSourceWeight, std::less<>> out;
  for (const auto& e : model->tensors()) {
    const auto& t = *e.info;
    auto nm = map_tensor_name(t.name, cfg);
    if (nm && nm->skip) continue;  // rotary inv_freq buffers
    using safetensors::Dtype;
    if (t.dtype != Dtype::kF32 && t.dtype != Dtype::kF16 && t.dtype != Dtype::kBF16 &&
        t.dtype != Dtype::kF64) {
      return make_error(Errc::kUnsupported,
                        "tensor \"" + t.name + "\" is " +
                            std::string(safetensors::dtype_name(t.dtype)) +
                            " (F32, F16, BF16, F64 only)",
                        kNoOffset, in_dir);
    }
    OnnxSourceWeight w;
    w.name = t.name;
    w.shape = t.shape;
    const std::string name = t.name;
    w.load = [model, name](std::vector<float>& v) -> Status {
      const auto* en = model->find(name);
      if (!en) return make_error(Errc::kNotFound, "tensor \"" + name + "\" vanished");
      v.resize(static_cast<std::size_t>(en->info->numel()));
      EDGEQUANT_TRY(safetensors::decode_to_f32(en->info->dtype, model->data(*en), v));
      model->release(*en);
      return {};
    };
    out.emplace(t.name, std::move(w));
  }
  return out;
}

// The source weights of a llama-family GGUF, in Hugging Face names and row
// order (llama.cpp's Q/K permutation undone); Q4_0/Q8_0 also as raw blocks.
inline Expected<std::map<std::string, OnnxSourceWeight, std::less<>>> onnx_weights_from_gguf(
    const std::string& path, hf::Config& cfg, unsigned threads) {
  auto r = gguf::Reader<>::open_file(path);
  if (!r) return std::move(r).error();
  auto reader = std::make_shared<gguf::Reader<>>(std::move(*r));
  auto c = detail::config_from_gguf(*reader);
  if (!c) return std::move(c).error();
  cfg = *c;
  if (const auto* e = reader->find_tensor("token_embd.weight"); e && e->n_dims == 2) {
    cfg.n_vocab = static_cast<std::uint32_t>(e->ne[1]);
  }
  // Rope scaling as llama.cpp's converter writes it (linear only is exported).
  const std::string arch = reader->template get<std::string>("general.architecture").value_or("");
  if (auto st = reader->template get<std::string>(arch + ".rope.scaling.type");
      st && *st != "none") {
    cfg.rope.type = *st;
    auto f = reader->template get_or<float>(arch + ".rope.scaling.factor", 1.0f);
    if (!f) return std::move(f).error();
    cfg.rope.factor = *f;
  }
  std::map<std::string, OnnxSourceWeight, std::less<>> out;
  for (const auto& t : reader->tensors()) {
    auto nm = unmap_tensor_name(t.name, cfg);
    if (!nm) {
      return make_error(Errc::kUnsupported,
                        "tensor \"" + std::string(t.name) + "\" has no Hugging Face name",
                        kNoOffset, path);
    }
    if (!ggml_type_supported(t.type)) {
      return make_error(Errc::kUnsupported,
                        "tensor \"" + std::string(t.name) + "\": cannot dequantize " +
                            std::string(ggml_type_name(t.type)),
                        kNoOffset, path);
    }
    if (t.n_dims < 1 || t.n_dims > 2) {
      return make_error(
          Errc::kUnsupported,
          "tensor \"" + std::string(t.name) + "\" is " + std::to_string(t.n_dims) + "-D", kNoOffset,
          path);
    }
    const std::uint64_t rows = t.n_dims == 1 ? t.ne[0] : t.ne[1];
    const std::uint32_t heads = nm->permute_heads;
    if (heads && rows % (2ull * heads) != 0) {
      return make_error(Errc::kInvalid,
                        "tensor \"" + std::string(t.name) + "\": rows do not split into heads",
                        kNoOffset, path);
    }
    OnnxSourceWeight w;
    w.name = nm->gguf;
    for (std::uint32_t d = t.n_dims; d-- > 0;) w.shape.push_back(t.ne[d]);
    w.stored = t.type;
    const gguf::TensorInfo* info = &t;
    w.load = [reader, info, heads, threads](std::vector<float>& v) -> Status {
      v.resize(static_cast<std::size_t>(info->n_elements()));
      EDGEQUANT_TRY(dequantize(info->type, reader->tensor_data(*info),
                               static_cast<std::size_t>(info->ne[0]), v, threads));
      if (heads) {
        std::vector<float> tmp;
        detail::unpermute_rows(v, info->n_dims == 1 ? info->ne[0] : info->ne[1], heads, tmp);
      }
      return {};
    };
    if (t.n_dims == 2 && (t.type == GgmlType::kQ4_0 || t.type == GgmlType::kQ8_0)) {
      w.blocks = [reader, info, heads]() -> Expected<GgmlTensor> {
        GgmlTensor g;
        g.type = info->type;
        g.rows = static_cast<std::size_t>(info->ne[1]);
        g.cols = static_cast<std::size_t>(info->ne[0]);
        const std::size_t rb = static_cast<std::size_t>(info->row_bytes());
        const auto src = reader->tensor_data(*info);
        if (src.size() != rb * g.rows)
          return make_error(Errc::kInvalid, "tensor data size does not match its shape");
        g.data.resize(src.size());
        for (std::size_t row = 0; row < g.rows; ++row) {
          const std::size_t dst =
              heads ? static_cast<std::size_t>(permuted_source_row(row, g.rows, heads)) : row;
          std::memcpy(g.data.data() + dst * rb, src.data() + row * rb, rb);
        }
        return g;
      };
    }
    out.emplace(w.name, std::move(w));
  }
  return out;
}

// Converts a Hugging Face model folder or a GGUF file (by its .gguf suffix)
// into out_dir: model.onnx + model.onnx.data, plus config.json and the
// tokenizer files of a model folder. `progress(done, total, name)` is called
// as each weight is written.
template <class Progress = std::nullptr_t>
Expected<OnnxExportResult> to_onnx(const std::string& src, const std::string& out_dir,
                                   const OnnxOptions& opt, Progress progress = nullptr) {
  EDGEQUANT_TRY(onnx_export::check_options(opt));
  const bool from_gguf = src.ends_with(".gguf");
  hf::Config cfg;
  auto weights =
      from_gguf ? onnx_weights_from_gguf(src, cfg, opt.threads) : onnx_weights_from_hf(src, cfg);
  if (!weights) return std::move(weights).error();
  EDGEQUANT_TRY(onnx_export::check_config(cfg, src));
  const std::size_t total = weights->size();
  auto done = std::make_shared<std::size_t>(0);
  onnx_export::DecoderBuilder::Progress cb;
  if constexpr (!std::is_same_v<Progress, std::nullptr_t>) {
    cb = [progress, done, total](const std::string& name) mutable {
      progress(++*done, total, name);
    };
  }
  OnnxExportResult res;
  onnx_export::DecoderBuilder b(cfg, std::move(*weights), opt, cb);
  auto m = b.build(res);
  if (!m) return std::move(m).error().in_file(src);
  EDGEQUANT_TRY(onnx_export::write_decoder(*m, out_dir));
  // Config and tokenizer: copied from a folder, rebuilt from a GGUF.
  Expected<std::vector<std::string>> side = [&]() -> Expected<std::vector<std::string>> {
    if (!from_gguf) return mlx_export::copy_folder_files(src, out_dir, true);
    auto r = gguf::Reader<>::open_file(src);
    if (!r) return std::move(r).error();
    return detail::write_gguf_side_files(*r, cfg, out_dir);
  }();
  if (!side) return std::move(side).error();
  res.copied = std::move(*side);
  return res;
}

}  // namespace edgequant::convert
