// Hugging Face llama-family folder → an mlx-lm model folder (specs/mlx.md §4):
// Linear and Embedding weights affine-quantized as mlx_lm.convert -q does
// (`P.weight` packed U32, `P.scales`/`P.biases` in the model dtype), every
// other tensor cast to the model dtype, config.json with the `quantization`
// entry (and its `quantization_config` copy), the tokenizer and generation
// files copied. Streams tensor by tensor; shards at mlx-lm's 5 GiB; every file
// is written atomically (docs/convert.md, "To MLX").
#pragma once

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/convert/hf_config.hpp"
#include "edgequant/convert/hf_tokenizer.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"

namespace edgequant::convert {

struct MlxOptions {
  bool quantize = true;  // false: only cast (mlx_lm.convert without -q)
  int bits = 4;           // 2, 3, 4, 5, 6, 8
  std::size_t group = 64; // 32, 64, 128
  // "" or an mlx-lm mixed recipe: mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6.
  std::string recipe;
  // Whose arithmetic (mlx.md §2.4): Metal is what mlx-lm on a Mac writes;
  // CPU is what `mlx[cpu]` on Linux writes (verified bit for bit).
  MlxBackend backend = MlxBackend::kMetal;
  // Model dtype (F16, BF16, F32). Unset: config.json's torch_dtype, else each
  // tensor keeps its stored float type (mlx-lm's default since v0.24.1).
  std::optional<safetensors::Dtype> dtype;
  unsigned threads = 0;                      // 0: all hardware threads
  std::uint64_t max_shard_bytes = 5ull << 30;  // mlx-lm's MAX_FILE_SIZE_GB
};

namespace mlx_export {

struct Recipe {
  int low = 0, high = 0;
};

inline std::optional<Recipe> parse_recipe(std::string_view r) {
  if (r == "mixed_2_6") return Recipe{2, 6};
  if (r == "mixed_3_4") return Recipe{3, 4};
  if (r == "mixed_3_6") return Recipe{3, 6};
  if (r == "mixed_4_6") return Recipe{4, 6};
  return std::nullopt;
}

// mlx-lm's use_more_bits (mlx.md §4.4), with Python's floor division/modulo.
inline bool use_more_bits(long i, long n_layers) {
  const long e = n_layers / 8;
  const long m = ((i - e) % 3 + 3) % 3;
  return i < e || i >= 7 * n_layers / 8 || m == 2;
}

inline std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> parts;
  std::size_t b = 0;
  for (std::size_t i = 0; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '.') {
      parts.push_back(p.substr(b, i - b));
      b = i + 1;
    }
  }
  return parts;
}

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The layer index of a module path: the component at the position where the
// first down_proj path has its first all-digit component; 0 when a path is
// too short (mlx-lm's mixed_quant_predicate).
inline long layer_of(std::string_view path, std::size_t pos) {
  const auto parts = split_path(path);
  if (pos >= parts.size() || !all_digits(parts[pos])) return 0;
  long v = 0;
  std::from_chars(parts[pos].data(), parts[pos].data() + parts[pos].size(), v);
  return v;
}

// Bits of a quantized module under a recipe (substring tests, as mlx-lm).
inline int recipe_bits(const Recipe& r, std::string_view path, long layer, long n_layers) {
  const auto has = [&](std::string_view s) { return path.find(s) != std::string_view::npos; };
  const bool more = use_more_bits(layer, n_layers);
  if ((has("v_proj") || has("v_a_proj") || has("v_b_proj")) && more) return r.high;
  if (has("down_proj") && more) return r.high;
  if (has("lm_head")) return r.high;
  return r.low;
}

inline std::optional<FloatType> float_type_of(safetensors::Dtype d) {
  switch (d) {
    case safetensors::Dtype::kF32: return FloatType::kF32;
    case safetensors::Dtype::kF16: return FloatType::kF16;
    case safetensors::Dtype::kBF16: return FloatType::kBF16;
    default: return std::nullopt;
  }
}

inline GgmlType ggml_of(FloatType t) {
  return t == FloatType::kF32 ? GgmlType::kF32 : t == FloatType::kF16 ? GgmlType::kF16 : GgmlType::kBF16;
}

inline safetensors::Dtype dtype_of(FloatType t) {
  return t == FloatType::kF32 ? safetensors::Dtype::kF32
         : t == FloatType::kF16 ? safetensors::Dtype::kF16
                                : safetensors::Dtype::kBF16;
}

inline std::optional<safetensors::Dtype> parse_torch_dtype(std::string_view s) {
  if (s == "float32") return safetensors::Dtype::kF32;
  if (s == "float16") return safetensors::Dtype::kF16;
  if (s == "bfloat16") return safetensors::Dtype::kBF16;
  return std::nullopt;
}

// mx.quantize's affine parameters (mlx.md §1).
inline Status check_affine(int bits, std::size_t group) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8) {
    return make_error(Errc::kBadArgument, "MLX affine bits must be 2, 3, 4, 5, 6 or 8 (got " + std::to_string(bits) + ")");
  }
  if (group != 32 && group != 64 && group != 128) {
    return make_error(Errc::kBadArgument, "MLX affine group size must be 32, 64 or 128 (got " +
                                              std::to_string(group) + ")");
  }
  return {};
}

// The shard writer as mlx-lm saves (mlx.md §4.6): 5 GiB greedy shards, index
// always, mx.save_safetensors' header style, {"format": "mlx"}.
inline Expected<safetensors::ShardedWriter> start_mlx_writer(const std::string& out_dir,
                                                             const std::vector<safetensors::TensorSpec>& specs,
                                                             std::uint64_t max_shard_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create folder: " + ec.message(), kNoOffset, out_dir);
  safetensors::ShardOptions so;
  so.max_shard_bytes = max_shard_bytes;
  so.policy = safetensors::ShardPolicy::kMlx;
  so.index_for_single = true;
  so.file_options.style = safetensors::HeaderStyle::kMlx;
  so.file_options.order = safetensors::TensorOrder::kAsGiven;
  return safetensors::ShardedWriter::start(out_dir, specs, safetensors::Metadata::of({{"format", "mlx"}}), so);
}

// Files mlx_lm.convert carries over from the source folder besides weights and config.
inline constexpr std::string_view kCopiedFiles[] = {
    "tokenizer.json",     "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "vocab.json",         "merges.txt",            "added_tokens.json",       "generation_config.json",
    "chat_template.jinja", "chat_template.json"};

}  // namespace mlx_export

// One source tensor and what becomes of it.
struct MlxPlannedTensor {
  std::string source;    // HF tensor name
  std::string module;    // module path (quantized tensors): source without ".weight"
  bool quantized = false;
  int bits = 0;
  FloatType dtype = FloatType::kF32;  // stored float type (and of scales/biases)
  std::uint64_t rows = 0, cols = 0;
};

struct MlxPlan {
  std::vector<MlxPlannedTensor> tensors;
  std::vector<safetensors::TensorSpec> specs;  // output tensors
  nlohmann::json quantization;                 // the config entry (null: not quantized)
  std::size_t quantized = 0, kept = 0;
  std::uint64_t out_bytes = 0;
};

inline Expected<MlxPlan> plan_mlx(const std::filesystem::path& in_dir, const safetensors::ShardedModel& w,
                                  const hf::Config& cfg, const MlxOptions& opt) {
  using namespace mlx_export;
  std::optional<Recipe> recipe;
  if (!opt.recipe.empty()) {
    recipe = parse_recipe(opt.recipe);
    if (!recipe) {
      return make_error(Errc::kBadArgument, "unknown MLX recipe \"" + opt.recipe +
                                                "\" (known: mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6)");
    }
  }
  if (opt.quantize) EDGEQUANT_TRY(check_affine(opt.bits, opt.group));
  std::optional<safetensors::Dtype> model_dtype = opt.dtype;
  if (model_dtype && !float_type_of(*model_dtype)) {
    return make_error(Errc::kBadArgument, "the MLX model dtype must be f16, bf16 or f32");
  }
  if (!model_dtype && !cfg.torch_dtype.empty()) model_dtype = parse_torch_dtype(cfg.torch_dtype);

  MlxPlan p;
  // The layer position for recipes: the first all-digit component of the first down_proj path.
  std::size_t layer_pos = 0;
  for (const auto& e : w.tensors()) {
    if (e.info->name.find("down_proj") == std::string::npos) continue;
    const auto parts = split_path(e.info->name);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (all_digits(parts[i])) {
        layer_pos = i;
        break;
      }
    }
    break;
  }
  const long n_layers = static_cast<long>(cfg.n_layer);
  nlohmann::json q = nlohmann::json::object();
  if (opt.quantize) {
    q["group_size"] = opt.group;
    q["bits"] = opt.bits;
    q["mode"] = "affine";
  }
  for (const auto& e : w.tensors()) {
    const auto& t = *e.info;
    const auto src_type = float_type_of(t.dtype);
    if (!src_type) {
      return make_error(Errc::kUnsupported, "tensor \"" + t.name + "\" is " +
                                                std::string(safetensors::dtype_name(t.dtype)) +
                                                "; the MLX export takes F32, F16 and BF16 tensors",
                        kNoOffset, (in_dir / "config.json").string());
    }
    MlxPlannedTensor pt;
    pt.source = t.name;
    pt.dtype = model_dtype ? *float_type_of(*model_dtype) : *src_type;
    const bool is_weight = t.name.size() > 7 && t.name.ends_with(".weight");
    // Every 2-D weight of these architectures is a Linear or an Embedding;
    // mlx-lm leaves those whose last dim does not split into groups alone.
    if (opt.quantize && is_weight && t.shape.size() == 2 && t.shape[1] % opt.group == 0 && t.shape[0] > 0) {
      pt.quantized = true;
      pt.module = t.name.substr(0, t.name.size() - 7);
      pt.rows = t.shape[0];
      pt.cols = t.shape[1];
      pt.bits = recipe ? recipe_bits(*recipe, pt.module, layer_of(pt.module, layer_pos), n_layers) : opt.bits;
      if (recipe) q[pt.module] = {{"group_size", opt.group}, {"bits", pt.bits}, {"mode", "affine"}};
      const safetensors::Dtype sd = dtype_of(pt.dtype);
      p.specs.push_back({pt.module + ".weight", safetensors::Dtype::kU32, {pt.rows, pt.cols * pt.bits / 32}});
      p.specs.push_back({pt.module + ".scales", sd, {pt.rows, pt.cols / opt.group}});
      p.specs.push_back({pt.module + ".biases", sd, {pt.rows, pt.cols / opt.group}});
      ++p.quantized;
    } else {
      p.specs.push_back({t.name, dtype_of(pt.dtype), t.shape});
      ++p.kept;
    }
    p.tensors.push_back(std::move(pt));
  }
  for (std::size_t i = 0; i < p.specs.size(); ++i) {
    std::uint64_t n = safetensors::dtype_bits(p.specs[i].dtype) / 8;
    for (auto d : p.specs[i].shape) n *= d;
    p.out_bytes += n;
  }
  if (opt.quantize) p.quantization = std::move(q);
  return p;
}

namespace mlx_export {

inline const PlaneSchemeInfo* affine_scheme(int bits, std::size_t group, MlxBackend b) {
  const std::string name = "mlx:q" + std::to_string(bits) + ":g" + std::to_string(group) +
                           (b == MlxBackend::kMetal ? ":metal" : "");
  return find_plane_scheme(name);
}

// config.json as mlx-lm writes it: the source's keys sorted, _name_or_path and
// vision_config dropped, quantization (+ quantization_config) added, indent 4.
inline Expected<std::string> config_text(const std::filesystem::path& in_dir, const MlxPlan& p) {
  const auto path = in_dir / "config.json";
  auto text = hf::detail::read_text(path, 64u << 20);
  if (!text) return std::move(text).error();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::kInvalid, "config.json is not a JSON object", kNoOffset, path.string());
  }
  j.erase("_name_or_path");
  j.erase("vision_config");
  if (!p.quantization.is_null()) {
    j["quantization"] = p.quantization;
    j["quantization_config"] = p.quantization;
  }
  return j.dump(4) + "\n";
}

inline Status copy_file_atomic(const std::filesystem::path& from, const std::filesystem::path& to) {
  auto text = hf::detail::read_text(from, 1ull << 30);
  if (!text) return std::move(text).error();
  auto f = AtomicFile::create(to.string());
  if (!f) return std::move(f).error();
  EDGEQUANT_TRY(f->write(text->data(), text->size()));
  return f->commit();
}

// Copies the tokenizer and generation files a model folder has (kCopiedFiles)
// into `out`, and config.json when `with_config`; returns the names copied.
inline Expected<std::vector<std::string>> copy_folder_files(const std::filesystem::path& in,
                                                            const std::filesystem::path& out, bool with_config) {
  std::vector<std::string> copied;
  std::error_code ec;
  for (std::string_view name : kCopiedFiles) {
    if (std::filesystem::is_regular_file(in / name, ec)) {
      EDGEQUANT_TRY(copy_file_atomic(in / name, out / name));
      copied.emplace_back(name);
    }
  }
  if (with_config) {
    EDGEQUANT_TRY(copy_file_atomic(in / "config.json", out / "config.json"));
    copied.emplace_back("config.json");
  }
  return copied;
}

}  // namespace mlx_export

// Converts the model folder `in_dir` into the mlx-lm folder `out_dir`
// (created if needed). `progress`, if set, is called after each source tensor.
template <class Progress = std::nullptr_t>
Expected<MlxPlan> hf_to_mlx(const std::string& in_dir, const std::string& out_dir, const MlxOptions& opt,
                            Progress progress = nullptr) {
  namespace fs = std::filesystem;
  using namespace mlx_export;
  const fs::path in(in_dir);
  auto cfg = hf::detail::read_folder_config(in_dir, "a Hugging Face model folder");
  if (!cfg) return std::move(cfg).error();
  auto w = safetensors::ShardedModel::open(in_dir);
  if (!w) return std::move(w).error();
  auto plan = plan_mlx(in, *w, *cfg, opt);
  if (!plan) return std::move(plan).error();
  auto config = config_text(in, *plan);
  if (!config) return std::move(config).error();

  auto sw = start_mlx_writer(out_dir, plan->specs, opt.max_shard_bytes);
  if (!sw) return std::move(sw).error();

  // Output tensor → its source; quantized planes wait until all three are written.
  std::map<std::string, std::pair<std::size_t, int>, std::less<>> by_output;  // (tensor, plane or -1)
  for (std::size_t i = 0; i < plan->tensors.size(); ++i) {
    const auto& t = plan->tensors[i];
    if (t.quantized) {
      by_output[t.module + ".weight"] = {i, 0};
      by_output[t.module + ".scales"] = {i, 1};
      by_output[t.module + ".biases"] = {i, 2};
    } else {
      by_output[t.source] = {i, -1};
    }
  }
  std::map<std::size_t, std::pair<QuantizedPlanes, int>> pending;  // planes, how many written
  std::vector<float> f32;
  std::vector<std::byte> out;
  std::size_t done = 0;
  const auto load = [&](const MlxPlannedTensor& t) -> Status {
    const auto* e = w->find(t.source);
    if (!e) return make_error(Errc::kNotFound, "tensor \"" + t.source + "\" vanished", kNoOffset, in_dir);
    f32.resize(static_cast<std::size_t>(e->info->numel()));
    EDGEQUANT_TRY(safetensors::decode_to_f32(e->info->dtype, w->data(*e), f32));
    w->release(*e);
    const std::size_t bad = edgequant::first_non_finite(f32.data(), f32.size());
    if (bad != f32.size()) {
      return make_error(Errc::kInvalid, "tensor \"" + t.source + "\" holds NaN or Inf at element " + std::to_string(bad),
                        kNoOffset, in_dir);
    }
    return {};
  };
  while (const auto* next = sw->next()) {
    const auto it = by_output.find(next->name);
    if (it == by_output.end()) return make_error(Errc::kBadArgument, "writer asks for unknown tensor " + next->name);
    const auto [ti, plane] = it->second;
    const auto& t = plan->tensors[ti];
    if (plane < 0) {
      EDGEQUANT_TRY(load(t));
      out.resize(f32.size() * safetensors::dtype_bits(dtype_of(t.dtype)) / 8);
      QuantizeOptions qo;
      qo.threads = opt.threads;
      // F16/BF16 rows are the safetensors encodings (round to nearest even).
      if (!f32.empty()) EDGEQUANT_TRY(edgequant::quantize(ggml_of(t.dtype), f32, f32.size(), out, qo));
      EDGEQUANT_TRY(sw->write_tensor(next->name, out));
      ++done;
      if constexpr (!std::is_same_v<Progress, std::nullptr_t>) progress(done, plan->tensors.size(), t);
      continue;
    }
    auto pi = pending.find(ti);
    if (pi == pending.end()) {
      EDGEQUANT_TRY(load(t));
      const PlaneSchemeInfo* s = affine_scheme(t.bits, opt.group, opt.backend);
      if (!s) return make_error(Errc::kUnsupported, "no MLX scheme for " + std::to_string(t.bits) + " bits");
      PlaneOptions po;
      po.dtype = t.dtype;
      po.threads = opt.threads;
      auto qp = quantize_planes(*s, f32, static_cast<std::size_t>(t.cols), po);
      if (!qp) return std::move(qp).error();
      pi = pending.emplace(ti, std::pair{std::move(*qp), 0}).first;
    }
    // Planes in the scheme's order: weight, scales, biases (mlx.md §4.1).
    const auto& bytes = pi->second.first.data[static_cast<std::size_t>(plane)];
    EDGEQUANT_TRY(sw->write_tensor(next->name, std::as_bytes(std::span(bytes))));
    if (++pi->second.second == 3) {
      pending.erase(pi);
      ++done;
      if constexpr (!std::is_same_v<Progress, std::nullptr_t>) progress(done, plan->tensors.size(), t);
    }
  }
  EDGEQUANT_TRY(sw->finish());
  if (auto c = copy_folder_files(in, out_dir, false); !c) return std::move(c).error();
  auto cf = AtomicFile::create((fs::path(out_dir) / "config.json").string());
  if (!cf) return std::move(cf).error();
  EDGEQUANT_TRY(cf->write(config->data(), config->size()));
  EDGEQUANT_TRY(cf->commit());
  return std::move(*plan);
}

}  // namespace edgequant::convert
