// One-step native converter: a Hugging Face model folder (config.json,
// safetensors single or sharded, tokenizer) → a quantized GGUF that llama.cpp
// loads, streaming tensor by tensor with llama.cpp's quantization mixes
// (docs/convert.md; specs/llama-quant-mixes.md, specs/gguf.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/convert/hf_config.hpp"
#include "edgequant/convert/hf_tokenizer.hpp"
#include "edgequant/convert/imatrix.hpp"
#include "edgequant/convert/llama_ftype.hpp"
#include "edgequant/convert/quant_mix.hpp"
#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/quantize.hpp"

namespace edgequant::convert {

// llama.cpp's LlamaModel.permute: HF stores Q/K rows as [head][half][pair]
// ("rotate half" RoPE); ggml's interleaved RoPE wants [head][pair][half].
// Output row r = (h, j, i) with i ∈ {0,1}, j < half, comes from input row
// (h, i, j). Returns the source row of output row `r`.
inline std::uint64_t permuted_source_row(std::uint64_t r, std::uint64_t rows, std::uint32_t n_head) {
  const std::uint64_t head = rows / n_head, half = head / 2;
  const std::uint64_t h = r / head, w = r % head;
  const std::uint64_t j = w / 2, i = w % 2;
  return h * head + i * half + j;
}
// Inverse: the output row that source row `s` lands on.
inline std::uint64_t permuted_target_row(std::uint64_t s, std::uint64_t rows, std::uint32_t n_head) {
  const std::uint64_t head = rows / n_head, half = head / 2;
  const std::uint64_t h = s / head, w = s % head;
  const std::uint64_t i = w / half, j = w % half;
  return h * head + j * 2 + i;
}

// A HF tensor's GGUF name and the head count to permute its rows by (0: none).
struct NameMap {
  std::string gguf;
  std::uint32_t permute_heads = 0;
  bool skip = false;  // not a model weight (rotary inv_freq buffers)
};

// HF → llama.cpp names for the supported architectures; nullopt for a name
// the converter does not know (an error: no data is dropped silently).
inline std::optional<NameMap> map_tensor_name(std::string_view hf, const hf::Config& c) {
  const bool permute = hf::arch_info(c.arch).permute_qk;
  if (hf == "model.embed_tokens.weight") return NameMap{"token_embd.weight"};
  if (hf == "model.norm.weight") return NameMap{"output_norm.weight"};
  if (hf == "lm_head.weight") return NameMap{"output.weight"};
  constexpr std::string_view kLayers = "model.layers.";
  if (!hf.starts_with(kLayers)) return std::nullopt;
  std::string_view rest = hf.substr(kLayers.size());
  std::size_t k = 0;
  while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9' && k < 9) ++k;
  if (k == 0 || k >= rest.size() || rest[k] != '.') return std::nullopt;
  const std::string layer(rest.substr(0, k));
  if (std::stoul(layer) >= c.n_layer) return std::nullopt;
  const std::string_view s = rest.substr(k + 1);
  const std::string p = "blk." + layer + ".";
  struct Row {
    std::string_view hf, gguf;
    int permute;  // 0 none, 1 by n_head, 2 by n_head_kv
  };
  static constexpr Row kRows[] = {
      {"input_layernorm.weight", "attn_norm.weight", 0},
      {"self_attn.q_proj.weight", "attn_q.weight", 1},
      {"self_attn.k_proj.weight", "attn_k.weight", 2},
      {"self_attn.v_proj.weight", "attn_v.weight", 0},
      {"self_attn.q_proj.bias", "attn_q.bias", 1},
      {"self_attn.k_proj.bias", "attn_k.bias", 2},
      {"self_attn.v_proj.bias", "attn_v.bias", 0},
      {"self_attn.o_proj.weight", "attn_output.weight", 0},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight", 0},
      {"post_attention_layernorm.weight", "ffn_norm.weight", 0},
      {"mlp.gate_proj.weight", "ffn_gate.weight", 0},
      {"mlp.up_proj.weight", "ffn_up.weight", 0},
      {"mlp.down_proj.weight", "ffn_down.weight", 0},
      {"mlp.gate_up_proj.weight", "ffn_up.weight", 0},
  };
  if (s == "self_attn.rotary_emb.inv_freq") return NameMap{"", 0, true};
  for (const auto& r : kRows) {
    if (s != r.hf) continue;
    NameMap m{p + std::string(r.gguf)};
    if (permute && r.permute) m.permute_heads = r.permute == 1 ? c.n_head : c.n_head_kv;
    return m;
  }
  return std::nullopt;
}

// The HF name a GGUF tensor came from (reverse conversion).
inline std::optional<NameMap> unmap_tensor_name(std::string_view g, const hf::Config& c) {
  const bool permute = hf::arch_info(c.arch).permute_qk;
  if (g == "token_embd.weight") return NameMap{"model.embed_tokens.weight"};
  if (g == "output_norm.weight") return NameMap{"model.norm.weight"};
  if (g == "output.weight") return NameMap{"lm_head.weight"};
  if (!g.starts_with("blk.")) return std::nullopt;
  std::string_view rest = g.substr(4);
  std::size_t k = 0;
  while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9' && k < 9) ++k;
  if (k == 0 || k >= rest.size() || rest[k] != '.') return std::nullopt;
  const std::string layer(rest.substr(0, k));
  const std::string_view s = rest.substr(k + 1);
  const std::pair<std::string_view, std::string_view> rows[] = {
      {"attn_norm.weight", "input_layernorm.weight"}, {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},   {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},       {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},       {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_qkv.weight", "self_attn.qkv_proj.weight"}, {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},    {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_up.weight", c.arch == hf::Arch::kPhi3 ? "mlp.gate_up_proj.weight" : "mlp.up_proj.weight"},
  };
  for (const auto& [gg, hh] : rows) {
    if (s != gg) continue;
    NameMap m{"model.layers." + layer + "." + std::string(hh)};
    if (permute && (gg.starts_with("attn_q.") || gg.starts_with("attn_k."))) {
      m.permute_heads = gg.starts_with("attn_q.") ? c.n_head : c.n_head_kv;
    }
    return m;
  }
  return std::nullopt;
}

// The GGUF type llama.cpp's converter would give a tensor before
// llama-quantize runs: 1-D tensors F32, others their storage type.
inline Expected<GgmlType> intermediate_type(safetensors::Dtype d, std::size_t n_dims) {
  using safetensors::Dtype;
  if (n_dims < 2) return GgmlType::kF32;
  switch (d) {
    case Dtype::kF32:
    case Dtype::kF64: return GgmlType::kF32;
    case Dtype::kF16: return GgmlType::kF16;
    case Dtype::kBF16: return GgmlType::kBF16;
    default:
      return make_error(Errc::kUnsupported, "weights of dtype " + std::string(safetensors::dtype_name(d)) +
                                                " are not supported (F32, F16, BF16, F64)");
  }
}

// An opened model folder.
struct HfModel {
  std::filesystem::path dir;
  hf::Config config;
  hf::Vocab vocab;
  safetensors::ShardedModel weights;

  static Expected<HfModel> open(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      return make_error(Errc::kNotFound, "not a folder (want a Hugging Face model folder)", kNoOffset, path);
    }
    const fs::path dir(path);
    auto text = hf::detail::read_text(dir / "config.json", 64u << 20);
    if (!text) return std::move(text).error();
    auto cfg = hf::parse_config(*text, (dir / "config.json").string());
    if (!cfg) return std::move(cfg).error();
    auto w = safetensors::ShardedModel::open(path);
    if (!w) return std::move(w).error();
    auto vocab = hf::load_vocab(dir, *cfg);
    if (!vocab) return std::move(vocab).error();
    if (cfg->n_vocab == 0) cfg->n_vocab = static_cast<std::uint32_t>(vocab->tokens.size());
    return HfModel{dir, std::move(*cfg), std::move(*vocab), std::move(*w)};
  }
};

struct Options {
  llama::MixOptions mix;  // ftype, --tensor-type overrides, ...
  unsigned threads = 0;   // 0: all hardware threads
  std::string name;       // general.name (default: the folder's name)
  const llama::Imatrix* imatrix = nullptr;  // --imatrix: importance weights by GGUF name
  // Called after each tensor: (tensors done, total, source bytes read so far, tensor name).
  std::function<void(std::size_t, std::size_t, std::uint64_t, const std::string&)> progress;
};

struct PlannedTensor {
  std::string name;     // GGUF
  std::string hf_name;  // source
  std::uint32_t n_dims = 1;
  std::array<std::uint64_t, 4> ne{1, 1, 1, 1};
  GgmlType in_type = GgmlType::kF32;  // llama.cpp's intermediate type
  llama::TensorPlan plan;
  std::uint64_t elements = 0;
  std::uint64_t bytes = 0;         // written
  std::uint64_t wanted_bytes = 0;  // had no fallback happened
  std::uint32_t permute_heads = 0;
  const std::vector<float>* importance = nullptr;  // imatrix row for this tensor
};

struct ConvertPlan {
  std::vector<PlannedTensor> tensors;  // in output order
  gguf::Layout layout;
  std::uint64_t file_bytes = 0;
  std::uint64_t tensor_bytes = 0, wanted_bytes = 0, elements = 0;
  std::size_t n_fallback = 0;
  double bpw() const { return elements ? 8.0 * static_cast<double>(tensor_bytes) / static_cast<double>(elements) : 0; }
  double bpw_without_fallback() const {
    return elements ? 8.0 * static_cast<double>(wanted_bytes) / static_cast<double>(elements) : 0;
  }
};

namespace detail {

inline void put_hparams(gguf::Metadata& md, const hf::Config& c, const hf::Vocab& v, llama::Ftype ftype,
                        const std::string& name) {
  const std::string a(hf::arch_info(c.arch).gguf_arch);
  auto k = [&](const char* s) { return a + "." + s; };
  md.set("general.architecture", a);
  md.set("general.type", "model");
  md.set("general.name", name);
  md.set(k("block_count"), c.n_layer);
  md.set(k("context_length"), c.n_ctx);
  md.set(k("embedding_length"), c.n_embd);
  md.set(k("feed_forward_length"), c.n_ff);
  md.set(k("attention.head_count"), c.n_head);
  md.set(k("attention.head_count_kv"), c.n_head_kv);
  md.set(k("rope.freq_base"), static_cast<float>(c.rope_theta));
  md.set(k("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_eps));
  if (c.arch == hf::Arch::kPhi3) {
    md.set(k("rope.dimension_count"), c.rope_dims());
    if (c.rope.original_context) md.set(k("rope.scaling.original_context_length"), *c.rope.original_context);
    if (c.sliding_window) md.set(k("attention.sliding_window"), *c.sliding_window);
  } else {
    md.set(k("rope.dimension_count"), c.head_dim);
    if (c.head_dim != c.n_embd / c.n_head) {
      md.set(k("attention.key_length"), c.head_dim);
      md.set(k("attention.value_length"), c.head_dim);
    }
  }
  if (c.arch == hf::Arch::kLlama || c.arch == hf::Arch::kMistral) {
    md.set(k("vocab_size"), static_cast<std::uint32_t>(v.tokens.size()));
  }
  if (c.rope.type == "linear") {
    md.set(k("rope.scaling.type"), "linear");
    md.set(k("rope.scaling.factor"), static_cast<float>(c.rope.factor));
  }
  md.set("general.file_type", static_cast<std::uint32_t>(ftype));
  md.set("general.quantization_version", llama::kQuantizationVersion);
  v.to_gguf(md);
}

inline std::uint64_t type_bytes(GgmlType t, const std::array<std::uint64_t, 4>& ne) {
  const auto& i = ggml_type_info(t);
  return ne[0] / i.block_elems * i.block_bytes * ne[1] * ne[2] * ne[3];
}

}  // namespace detail

// Plans the conversion: names, per-tensor types (MixPlanner), metadata, sizes.
inline Expected<ConvertPlan> plan(const HfModel& m, const Options& opt) {
  const hf::Config& c = m.config;
  if (!c.rope.type.empty() && c.rope.type != "linear") {
    return make_error(Errc::kUnsupported, "rope_scaling type \"" + c.rope.type +
                                              "\" is not supported yet (supported: none, linear)");
  }
  if (c.arch == hf::Arch::kPhi3 && (!c.rope.long_factor.empty() || !c.rope.short_factor.empty())) {
    return make_error(Errc::kUnsupported, "Phi-3 long-context rope factors (longrope) are not supported yet");
  }
  ConvertPlan p;
  std::vector<llama::TensorDesc> descs;
  for (const auto& e : m.weights.tensors()) {
    const auto& info = *e.info;
    auto nm = map_tensor_name(info.name, c);
    if (!nm) {
      return make_error(Errc::kUnsupported,
                        "tensor \"" + info.name + "\" has no llama.cpp name for " + c.hf_class +
                            " (is the checkpoint of another architecture?)",
                        kNoOffset, m.weights.shard_of(e).path());
    }
    if (nm->skip) continue;
    if (info.shape.empty() || info.shape.size() > 4) {
      return make_error(Errc::kUnsupported, "tensor \"" + info.name + "\" has " + std::to_string(info.shape.size()) +
                                                " dimensions (1..4 supported)");
    }
    PlannedTensor t;
    t.name = nm->gguf;
    t.hf_name = info.name;
    t.n_dims = static_cast<std::uint32_t>(info.shape.size());
    for (std::size_t d = 0; d < info.shape.size(); ++d) t.ne[d] = info.shape[info.shape.size() - 1 - d];
    t.elements = info.numel();
    t.permute_heads = nm->permute_heads;
    if (t.permute_heads) {
      const std::uint64_t r = t.n_dims == 1 ? t.ne[0] : t.ne[1];
      if (r % (2ull * t.permute_heads) != 0) {
        return make_error(Errc::kInvalid, "tensor \"" + info.name + "\": " + std::to_string(r) +
                                              " rows do not split into " + std::to_string(t.permute_heads) +
                                              " heads of even size");
      }
    }
    auto it = intermediate_type(info.dtype, info.shape.size());
    if (!it) return std::move(it).error().in_file(m.weights.shard_of(e).path());
    t.in_type = *it;
    p.tensors.push_back(std::move(t));
  }
  if (p.tensors.empty()) return make_error(Errc::kInvalid, "the checkpoint holds no weights");
  // llama-quantize's output order, and its rule counters advance in it.
  std::vector<std::string> names;
  for (const auto& t : p.tensors) names.push_back(t.name);
  const auto order = llama::llama_tensor_order(names);
  std::vector<PlannedTensor> sorted;
  sorted.reserve(order.size());
  for (auto i : order) sorted.push_back(std::move(p.tensors[i]));
  p.tensors = std::move(sorted);
  for (std::size_t i = 1; i < p.tensors.size(); ++i) {
    if (p.tensors[i].name == p.tensors[i - 1].name) {
      return make_error(Errc::kInvalid, "two tensors map to \"" + p.tensors[i].name + "\"");
    }
  }
  for (const auto& t : p.tensors) descs.push_back({t.name, t.ne, t.in_type});
  llama::ModelInfo mi;
  mi.arch = std::string(hf::arch_info(c.arch).gguf_arch);
  mi.n_layer = c.n_layer;
  mi.n_head = c.n_head;
  mi.n_head_kv = c.n_head_kv;
  llama::MixOptions mix = opt.mix;
  if (opt.imatrix) mix.has_imatrix = true;
  auto planner = llama::MixPlanner::create(mi, mix, descs);
  if (!planner) return std::move(planner).error();
  for (std::size_t i = 0; i < p.tensors.size(); ++i) {
    auto& t = p.tensors[i];
    auto tp = planner->plan(descs[i]);
    if (!tp) return std::move(tp).error();
    t.plan = std::move(*tp);
    if (!ggml_type_supported(t.plan.type)) {
      return make_error(Errc::kUnsupported,
                        t.name + ": type " + std::string(ggml_type_name(t.plan.type)) + " cannot be written");
    }
    if (opt.imatrix && t.plan.quantize && ggml_type_info(t.plan.type).quantized) {
      // As llama-quantize: a wrong-sized entry is an error (token_embd
      // excepted), a missing one only for the types that need it.
      const auto* w = opt.imatrix->find(t.name);
      if (w && w->size() == t.ne[0] * t.ne[2] && t.ne[2] == 1) {
        t.importance = w;
        t.plan.reason += " (imatrix)";
      } else if (w && t.name != "token_embd.weight") {
        return make_error(Errc::kInvalid, "imatrix size " + std::to_string(w->size()) +
                                              " is different from tensor size " + std::to_string(t.ne[0] * t.ne[2]) +
                                              " for " + t.name);
      }
      if (!t.importance && llama::requires_imatrix(t.name, t.plan.type, mix.ftype)) {
        return make_error(Errc::kNeedsImportance, "the imatrix has no entry for " + t.name + ", whose type " +
                                                      std::string(ggml_type_name(t.plan.type)) + " needs one");
      }
    }
    t.bytes = detail::type_bytes(t.plan.type, t.ne);
    t.wanted_bytes = t.plan.fell_back
                         ? static_cast<std::uint64_t>(static_cast<double>(t.elements) * ggml_type_bpw(t.plan.wanted) / 8.0)
                         : t.bytes;
    p.tensor_bytes += t.bytes;
    p.wanted_bytes += t.wanted_bytes;
    p.elements += t.elements;
    p.n_fallback += t.plan.fell_back ? 1 : 0;
  }
  const std::string name = opt.name.empty() ? m.dir.filename().string() : opt.name;
  detail::put_hparams(p.layout.metadata, c, m.vocab, opt.mix.ftype, name.empty() ? std::string("model") : name);
  for (const auto& t : p.tensors) {
    gguf::TensorSpec s;
    s.name = t.name;
    s.type = t.plan.type;
    s.n_dims = t.n_dims;
    s.ne = t.ne;
    p.layout.tensors.push_back(std::move(s));
  }
  auto gp = gguf::plan(p.layout);
  if (!gp) return std::move(gp).error();
  p.file_bytes = gp->file_bytes();
  return p;
}

// Source tensor → f32 in GGUF row order (rows permuted where llama.cpp does).
inline Status load_f32(const HfModel& m, const PlannedTensor& t, std::vector<float>& out) {
  const auto* e = m.weights.find(t.hf_name);
  if (!e) return make_error(Errc::kNotFound, "tensor \"" + t.hf_name + "\" vanished");
  const auto src = m.weights.data(*e);
  out.resize(static_cast<std::size_t>(t.elements));
  const auto dtype = e->info->dtype;
  if (!t.permute_heads) {
    EDGEQUANT_TRY(safetensors::decode_to_f32(dtype, src, out));
  } else {
    const std::uint64_t rows = t.n_dims == 1 ? t.ne[0] : t.elements / t.ne[0];
    const std::uint64_t cols = t.elements / rows;
    const std::size_t row_bytes = static_cast<std::size_t>(cols * safetensors::dtype_bits(dtype) / 8);
    for (std::uint64_t r = 0; r < rows; ++r) {
      const std::uint64_t s = permuted_source_row(r, rows, t.permute_heads);
      EDGEQUANT_TRY(safetensors::decode_to_f32(
          dtype, src.subspan(static_cast<std::size_t>(s) * row_bytes, row_bytes),
          std::span<float>(out).subspan(static_cast<std::size_t>(r * cols), static_cast<std::size_t>(cols))));
    }
  }
  m.weights.release(*e);
  return {};
}

// Writes the planned GGUF into `sink` (AtomicFile for files), tensor by tensor.
template <gguf::Sink S>
Status write(const HfModel& m, const ConvertPlan& p, S&& sink, const Options& opt) {
  auto w = gguf::Writer<S>::begin(std::forward<S>(sink), p.layout);
  if (!w) return std::move(w).error();
  std::vector<float> f32;
  std::vector<std::byte> out;
  std::uint64_t read = 0;
  QuantizeOptions qo;
  qo.threads = opt.threads;
  for (std::size_t i = 0; i < p.tensors.size(); ++i) {
    const auto& t = p.tensors[i];
    EDGEQUANT_TRY(load_f32(m, t, f32));
    out.resize(static_cast<std::size_t>(t.bytes));
    qo.importance = t.importance ? std::span<const float>(*t.importance) : std::span<const float>();
    auto st = quantize(t.plan.type, f32, static_cast<std::size_t>(t.ne[0]), out, qo);
    if (!st) {
      Error e = std::move(st).error();
      e.what = t.hf_name + " → " + t.name + " (" + std::string(ggml_type_name(t.plan.type)) + "): " + e.what;
      return e;
    }
    EDGEQUANT_TRY(w->write_tensor(out));
    read += t.elements;
    if (opt.progress) opt.progress(i + 1, p.tensors.size(), read * 4, t.name);
  }
  return w->finish();
}

// The whole conversion into a file, atomically (nothing is left on failure).
inline Status convert_file(const HfModel& m, const ConvertPlan& p, const std::string& path, const Options& opt) {
  auto f = AtomicFile::create(path);
  if (!f) return std::move(f).error();
  auto st = write(m, p, std::move(*f), opt);
  if (!st) return std::move(st).error().in_file(path);
  return st;
}

}  // namespace edgequant::convert
