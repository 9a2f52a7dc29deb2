// Reverse converter: a llama-family GGUF → a Hugging Face folder (safetensors
// in bf16/f16/f32, sharded at 5 GB, config.json), dequantizing tensor by
// tensor and undoing llama.cpp's Q/K row permutation (docs/convert.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/convert/gguf_tokenizer.hpp"
#include "edgequant/convert/hf_config.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/quantize.hpp"

namespace edgequant::convert {

struct ReverseOptions {
  safetensors::Dtype dtype = safetensors::Dtype::kBF16;  // bf16, f16 or f32
  unsigned threads = 0;
  std::uint64_t max_shard_bytes = 5'000'000'000;  // the hub's "5GB"
};

namespace detail {

template <class R>
Expected<std::uint32_t> get_u32(const R& r, const std::string& key) {
  return r.template get<std::uint32_t>(key);
}

// config.json fields from the GGUF hyper-parameters.
template <class R>
Expected<hf::Config> config_from_gguf(const R& r) {
  auto arch = r.template get<std::string>("general.architecture");
  if (!arch) return std::move(arch).error();
  hf::Config c;
  bool known = false;
  for (const auto& i : hf::kArchs) {
    if (i.gguf_arch == *arch) {  // llama → LlamaForCausalLM (first match)
      c.arch = i.arch;
      c.hf_class = std::string(i.hf_class);
      known = true;
      break;
    }
  }
  if (!known) {
    return make_error(Errc::kUnsupported, "GGUF architecture \"" + *arch +
                                              "\" cannot be converted back (supported: llama, qwen2, phi3)",
                      kNoOffset, r.path());
  }
  const std::string a = *arch + ".";
  std::uint32_t* fields[] = {&c.n_layer, &c.n_embd, &c.n_ff, &c.n_head, &c.n_ctx};
  const char* keys[] = {"block_count", "embedding_length", "feed_forward_length", "attention.head_count",
                        "context_length"};
  for (std::size_t i = 0; i < std::size(keys); ++i) {
    auto v = r.template get<std::uint32_t>(a + keys[i]);
    if (!v) return std::move(v).error();
    *fields[i] = *v;
  }
  auto kv = r.template get_or<std::uint32_t>(a + "attention.head_count_kv", c.n_head);
  if (!kv) return std::move(kv).error();
  c.n_head_kv = *kv;
  if (c.n_head == 0 || c.n_head_kv == 0 || c.n_embd % c.n_head != 0) {
    return make_error(Errc::kInvalid, "head counts do not divide the embedding", kNoOffset, r.path());
  }
  auto hd = r.template get_or<std::uint32_t>(a + "attention.key_length", c.n_embd / c.n_head);
  if (!hd) return std::move(hd).error();
  c.head_dim = *hd;
  auto eps = r.template get_or<float>(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  auto theta = r.template get_or<float>(a + "rope.freq_base", 10000.0f);
  if (!eps) return std::move(eps).error();
  if (!theta) return std::move(theta).error();
  c.rms_eps = *eps;
  c.rope_theta = *theta;
  if (const auto* t = r.find("tokenizer.ggml.tokens"); t && t->value.type() == gguf::Type::kArray) {
    c.n_vocab = static_cast<std::uint32_t>(t->value.array().size());
  }
  if (auto v = r.template get_or<std::uint32_t>(a + "vocab_size", c.n_vocab); v) c.n_vocab = *v;
  c.tie_embeddings = r.find_tensor("output.weight") == nullptr;
  for (auto [key, slot] : {std::pair{"tokenizer.ggml.bos_token_id", &c.bos_token_id},
                           std::pair{"tokenizer.ggml.eos_token_id", &c.eos_token_id},
                           std::pair{"tokenizer.ggml.padding_token_id", &c.pad_token_id}}) {
    if (auto v = r.template get<std::uint32_t>(key)) *slot = *v;
  }
  return c;
}

// GGUF row order → Hugging Face row order (undoes llama.cpp's Q/K permutation);
// `tmp` is scratch space.
inline void unpermute_rows(std::vector<float>& v, std::uint64_t rows, std::uint32_t heads, std::vector<float>& tmp) {
  const std::size_t cols = static_cast<std::size_t>(v.size() / rows);
  tmp.resize(v.size());
  for (std::uint64_t row = 0; row < rows; ++row) {
    const std::uint64_t s = permuted_source_row(row, rows, heads);
    std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(row * cols), cols, tmp.begin() + static_cast<std::ptrdiff_t>(s * cols));
  }
  v.swap(tmp);
}

inline std::string config_json(const hf::Config& c, safetensors::Dtype dtype) {
  static constexpr const char* kModelType[] = {"llama", "mistral", "qwen2", "phi3"};
  nlohmann::ordered_json j;
  j["architectures"] = {c.hf_class};
  j["model_type"] = kModelType[static_cast<int>(c.arch)];
  j["hidden_size"] = c.n_embd;
  j["intermediate_size"] = c.n_ff;
  j["num_hidden_layers"] = c.n_layer;
  j["num_attention_heads"] = c.n_head;
  j["num_key_value_heads"] = c.n_head_kv;
  if (c.head_dim != c.n_embd / c.n_head) j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.n_ctx;
  j["rms_norm_eps"] = static_cast<double>(static_cast<float>(c.rms_eps));
  j["rope_theta"] = static_cast<double>(static_cast<float>(c.rope_theta));
  j["vocab_size"] = c.n_vocab;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["hidden_act"] = "silu";
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_id) j["eos_token_id"] = *c.eos_token_id;
  if (c.pad_token_id) j["pad_token_id"] = *c.pad_token_id;
  j["torch_dtype"] = dtype == safetensors::Dtype::kF32 ? "float32"
                     : dtype == safetensors::Dtype::kF16 ? "float16"
                                                        : "bfloat16";
  return j.dump(2) + "\n";
}

// config.json (float32 dtype) rebuilt from the GGUF's metadata and the
// tokenizer files rebuilt from its vocabulary, for exporters whose weights
// are not safetensors (ONNX, OpenVINO); returns the names written.
template <class R>
Expected<std::vector<std::string>> write_gguf_side_files(const R& r, const hf::Config& c,
                                                         const std::filesystem::path& out_dir) {
  auto tok = write_tokenizer_from_gguf(r, out_dir, c.n_ctx);
  if (!tok) return std::move(tok).error();
  auto cf = AtomicFile::create((out_dir / "config.json").string());
  if (!cf) return std::move(cf).error();
  const std::string cj = config_json(c, safetensors::Dtype::kF32);
  EDGEQUANT_TRY(cf->write(cj.data(), cj.size()));
  EDGEQUANT_TRY(cf->commit());
  tok->emplace_back("config.json");
  return tok;
}

}  // namespace detail

// Converts `gguf_path` into the folder `out_dir` (created if needed).
inline Status gguf_to_hf(const std::string& gguf_path, const std::string& out_dir, const ReverseOptions& opt = {}) {
  using safetensors::Dtype;
  if (opt.dtype != Dtype::kBF16 && opt.dtype != Dtype::kF16 && opt.dtype != Dtype::kF32) {
    return make_error(Errc::kBadArgument, "reverse conversion writes bf16, f16 or f32");
  }
  auto r = gguf::Reader<>::open_file(gguf_path);
  if (!r) return std::move(r).error();
  auto c = detail::config_from_gguf(*r);
  if (!c) return std::move(c).error();
  struct Item {
    const gguf::TensorInfo* info;
    std::string hf;
    std::uint32_t permute_heads;
  };
  std::vector<Item> items;
  std::vector<safetensors::TensorSpec> specs;
  for (const auto& t : r->tensors()) {
    auto nm = unmap_tensor_name(t.name, *c);
    if (!nm) {
      return make_error(Errc::kUnsupported, "tensor \"" + std::string(t.name) + "\" has no Hugging Face name",
                        kNoOffset, gguf_path);
    }
    if (!ggml_type_supported(t.type)) {
      return make_error(Errc::kUnsupported, "tensor \"" + std::string(t.name) + "\": cannot dequantize " +
                                                std::string(ggml_type_name(t.type)),
                        kNoOffset, gguf_path);
    }
    const std::uint64_t rows = t.n_dims == 1 ? t.ne[0] : t.ne[1];
    if (nm->permute_heads && rows % (2ull * nm->permute_heads) != 0) {
      return make_error(Errc::kInvalid, "tensor \"" + std::string(t.name) + "\": rows do not split into heads",
                        kNoOffset, gguf_path);
    }
    items.push_back({&t, nm->gguf, nm->permute_heads});
    safetensors::TensorSpec s;
    s.name = nm->gguf;
    s.dtype = opt.dtype;
    for (std::uint32_t d = t.n_dims; d-- > 0;) s.shape.push_back(t.ne[d]);
    specs.push_back(std::move(s));
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create folder: " + ec.message(), kNoOffset, out_dir);
  safetensors::ShardOptions so;
  so.max_shard_bytes = opt.max_shard_bytes;
  auto w = safetensors::ShardedWriter::start(out_dir, specs, safetensors::Metadata::of({{"format", "pt"}}), so);
  if (!w) return std::move(w).error();
  std::vector<float> f32, perm;
  std::vector<std::byte> out;
  const GgmlType enc = opt.dtype == Dtype::kF32 ? GgmlType::kF32 : opt.dtype == Dtype::kF16 ? GgmlType::kF16 : GgmlType::kBF16;
  while (const auto* next = w->next()) {
    const Item* it = nullptr;
    for (const auto& i : items) {
      if (i.hf == next->name) it = &i;
    }
    if (!it) return make_error(Errc::kBadArgument, "writer asks for unknown tensor " + next->name);
    const auto& t = *it->info;
    const auto n = static_cast<std::size_t>(t.n_elements());
    f32.resize(n);
    const auto bytes = r->tensor_data(t);
    EDGEQUANT_TRY(dequantize(t.type, bytes, static_cast<std::size_t>(t.ne[0]), f32, opt.threads));
    r->source().release_range(r->data_offset() + t.offset, t.nbytes);
    if (it->permute_heads) detail::unpermute_rows(f32, t.n_dims == 1 ? t.ne[0] : n / t.ne[0], it->permute_heads, perm);
    out.resize(n * safetensors::dtype_bits(opt.dtype) / 8);
    // ggml's F16/BF16 rows are the safetensors encodings (round to nearest even).
    EDGEQUANT_TRY(quantize(enc, f32, n, out));
    EDGEQUANT_TRY(w->write_tensor(next->name, out));
  }
  EDGEQUANT_TRY(w->finish());
  auto cf = AtomicFile::create((std::filesystem::path(out_dir) / "config.json").string());
  if (!cf) return std::move(cf).error();
  const std::string cj = detail::config_json(*c, opt.dtype);
  EDGEQUANT_TRY(cf->write(cj.data(), cj.size()));
  EDGEQUANT_TRY(cf->commit());
  // The tokenizer, rebuilt from the GGUF's vocabulary (gguf_tokenizer.hpp).
  auto tok = write_tokenizer_from_gguf(*r, out_dir, c->n_ctx);
  if (!tok) return std::move(tok).error();
  return {};
}

}  // namespace edgequant::convert
