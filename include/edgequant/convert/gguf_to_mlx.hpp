// A llama-family GGUF → an mlx-lm folder. Q4_0, Q4_1 and Q8_0 weights are
// re-packed without re-quantizing into MLX affine groups of 32 (mlx.md §4.7:
// Q4_0 → scale d, bias −8d; Q4_1 → scale d, bias m; Q8_0 → scale d,
// bias −128d, q = byte ^ 0x80), so q·scale + bias in float32 is exactly
// ggml's value. Other weights are dequantized and re-quantized with the
// top-level bits/group; 1-D tensors are cast. Names and llama.cpp's Q/K row
// permutation are undone as in gguf_to_hf (docs/convert.md, "To MLX").
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/convert/gguf_to_hf.hpp"
#include "edgequant/convert/gguf_tokenizer.hpp"
#include "edgequant/convert/hf_to_mlx.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/schemes/q4_0.hpp"
#include "edgequant/schemes/q4_1.hpp"
#include "edgequant/schemes/q8_0.hpp"

namespace edgequant::convert {

struct GgufMlxResult {
  std::size_t repacked = 0;     // ggml blocks re-packed losslessly
  std::size_t requantized = 0;  // dequantized, then MLX-quantized
  std::size_t kept = 0;         // cast to the model dtype
  std::uint64_t out_bytes = 0;
  std::vector<std::string> tokenizer_files;  // written from the GGUF's vocabulary
};

namespace mlx_export {

enum class GgufAction : std::uint8_t { kRepack, kRequantize, kKeep };

// Re-packs one row of Q4_0/Q4_1/Q8_0 blocks into MLX planes (weight bytes,
// f16 scales, f16 biases). False when a bias overflows f16 (|d| > 8188 for
// Q4_0, > 511.9 for Q8_0: never in real weights; the caller re-quantizes).
inline bool repack_row(GgmlType type, const std::byte* src, std::size_t nblocks, std::uint8_t* w,
                       std::uint8_t* scales, std::uint8_t* biases) {
  auto put16 = [](std::uint8_t* p, f16_bits v) {
    p[0] = static_cast<std::uint8_t>(v & 0xFF);
    p[1] = static_cast<std::uint8_t>(v >> 8);
  };
  for (std::size_t b = 0; b < nblocks; ++b) {
    f16_bits d = 0, bias = 0;
    if (type == GgmlType::kQ8_0) {
      Q8_0::Block blk;
      std::memcpy(&blk, src + b * sizeof blk, sizeof blk);
      d = blk.d;
      bias = f32_to_f16(-128.0f * f16_to_f32(d));  // exact unless it overflows
      for (int j = 0; j < 32; ++j) w[b * 32 + j] = static_cast<std::uint8_t>(blk.qs[j]) ^ 0x80u;
    } else {
      std::uint8_t qs[16];
      if (type == GgmlType::kQ4_0) {
        Q4_0::Block blk;
        std::memcpy(&blk, src + b * sizeof blk, sizeof blk);
        d = blk.d;
        bias = f32_to_f16(-8.0f * f16_to_f32(d));
        std::memcpy(qs, blk.qs, 16);
      } else {
        Q4_1::Block blk;
        std::memcpy(&blk, src + b * sizeof blk, sizeof blk);
        d = blk.d;
        bias = blk.m;
        std::memcpy(qs, blk.qs, 16);
      }
      // ggml: element j in the low nibble of qs[j], j + 16 in its high nibble.
      // MLX: a little-endian bitstream, element i in bits 4i..4i+3.
      std::uint8_t q[32];
      for (int j = 0; j < 16; ++j) {
        q[j] = qs[j] & 0x0F;
        q[j + 16] = qs[j] >> 4;
      }
      for (int k = 0; k < 16; ++k) w[b * 16 + k] = static_cast<std::uint8_t>(q[2 * k] | (q[2 * k + 1] << 4));
    }
    if (std::isinf(f16_to_f32(bias))) return false;
    put16(scales + 2 * b, d);
    put16(biases + 2 * b, bias);
  }
  return true;
}

}  // namespace mlx_export

// Converts `gguf_path` into the mlx-lm folder `out_dir`. Options as for a
// model folder, except: the model dtype defaults to f16 (ggml's scales are
// f16, so the re-packing stays exact; with bf16 every weight is re-quantized),
// and bits/group apply to the weights that cannot be re-packed.
template <class Progress = std::nullptr_t>
Expected<GgufMlxResult> gguf_to_mlx(const std::string& gguf_path, const std::string& out_dir,
                                    const MlxOptions& opt, Progress progress = nullptr) {
  namespace fs = std::filesystem;
  using namespace mlx_export;
  using safetensors::Dtype;
  if (!opt.recipe.empty()) {
    return make_error(Errc::kUnsupported, "--recipe applies to a model folder; a GGUF keeps its own mix");
  }
  if (opt.quantize) EDGEQUANT_TRY(check_affine(opt.bits, opt.group));
  const Dtype dtype = opt.dtype.value_or(Dtype::kF16);
  const auto ft = float_type_of(dtype);
  if (!ft) return make_error(Errc::kBadArgument, "the MLX model dtype must be f16, bf16 or f32");
  auto r = gguf::Reader<>::open_file(gguf_path);
  if (!r) return std::move(r).error();
  auto c = detail::config_from_gguf(*r);
  if (!c) return std::move(c).error();

  struct Item {
    const gguf::TensorInfo* info;
    std::string hf, module;
    std::uint32_t permute_heads;
    GgufAction action;
    int bits;
    std::size_t group;
    std::uint64_t rows, cols;
  };
  std::vector<Item> items;
  std::vector<safetensors::TensorSpec> specs;
  nlohmann::json q = nlohmann::json::object();
  if (opt.quantize) q = {{"group_size", opt.group}, {"bits", opt.bits}, {"mode", "affine"}};
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
    Item it{&t, nm->gguf, "", nm->permute_heads, GgufAction::kKeep, 0, 0, 0, 0};
    it.cols = t.ne[0];
    it.rows = t.n_dims == 1 ? 1 : t.n_elements() / t.ne[0];
    if (nm->permute_heads && (t.n_dims == 1 ? t.ne[0] : it.rows) % (2ull * nm->permute_heads) != 0) {
      return make_error(Errc::kInvalid, "tensor \"" + std::string(t.name) + "\": rows do not split into heads",
                        kNoOffset, gguf_path);
    }
    const bool weight2d = opt.quantize && t.n_dims == 2 && it.hf.ends_with(".weight");
    const bool repackable = (t.type == GgmlType::kQ4_0 || t.type == GgmlType::kQ4_1 || t.type == GgmlType::kQ8_0) &&
                            dtype != Dtype::kBF16;
    if (weight2d && repackable) {
      it.action = GgufAction::kRepack;
      it.bits = t.type == GgmlType::kQ8_0 ? 8 : 4;
      it.group = 32;
    } else if (weight2d && it.cols % opt.group == 0) {
      it.action = GgufAction::kRequantize;
      it.bits = opt.bits;
      it.group = opt.group;
    }
    if (it.action == GgufAction::kKeep) {
      safetensors::TensorSpec s{it.hf, dtype, {}};
      for (std::uint32_t d = t.n_dims; d-- > 0;) s.shape.push_back(t.ne[d]);
      specs.push_back(std::move(s));
    } else {
      it.module = it.hf.substr(0, it.hf.size() - 7);
      if (it.bits != opt.bits || it.group != opt.group) {
        q[it.module] = {{"group_size", it.group}, {"bits", it.bits}, {"mode", "affine"}};
      }
      specs.push_back({it.module + ".weight", Dtype::kU32, {it.rows, it.cols * it.bits / 32}});
      specs.push_back({it.module + ".scales", dtype, {it.rows, it.cols / it.group}});
      specs.push_back({it.module + ".biases", dtype, {it.rows, it.cols / it.group}});
    }
    items.push_back(std::move(it));
  }
  GgufMlxResult res;
  for (const auto& s : specs) {
    std::uint64_t n = safetensors::dtype_bits(s.dtype) / 8;
    for (auto d : s.shape) n *= d;
    res.out_bytes += n;
  }
  nlohmann::json cfg = nlohmann::json::parse(detail::config_json(*c, dtype));
  if (opt.quantize) {
    cfg["quantization"] = q;
    cfg["quantization_config"] = q;
  }
  const std::string config = cfg.dump(4) + "\n";

  auto sw = start_mlx_writer(out_dir, specs, opt.max_shard_bytes);
  if (!sw) return std::move(sw).error();

  std::map<std::string, std::pair<std::size_t, int>, std::less<>> by_output;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    if (it.action == GgufAction::kKeep) {
      by_output[it.hf] = {i, -1};
    } else {
      by_output[it.module + ".weight"] = {i, 0};
      by_output[it.module + ".scales"] = {i, 1};
      by_output[it.module + ".biases"] = {i, 2};
    }
  }
  // Dequantized (f32) rows in Hugging Face order.
  std::vector<float> f32, perm;
  const auto load_f32 = [&](const Item& it) -> Status {
    const auto& t = *it.info;
    f32.resize(static_cast<std::size_t>(t.n_elements()));
    EDGEQUANT_TRY(dequantize(t.type, r->tensor_data(t), static_cast<std::size_t>(t.ne[0]), f32, opt.threads));
    if (it.permute_heads) detail::unpermute_rows(f32, t.n_dims == 1 ? t.ne[0] : it.rows, it.permute_heads, perm);
    return {};
  };
  std::map<std::size_t, std::pair<std::array<std::vector<std::uint8_t>, 3>, int>> pending;
  std::vector<std::byte> out;
  std::size_t done = 0;
  const auto finished = [&](const Item& it) {
    r->source().release_range(r->data_offset() + it.info->offset, it.info->nbytes);
    ++done;
    if constexpr (!std::is_same_v<Progress, std::nullptr_t>) progress(done, items.size(), it.hf);
  };
  while (const auto* next = sw->next()) {
    const auto found = by_output.find(next->name);
    if (found == by_output.end()) return make_error(Errc::kBadArgument, "writer asks for unknown tensor " + next->name);
    const auto [ii, plane] = found->second;
    Item& it = items[ii];
    if (plane < 0) {
      EDGEQUANT_TRY(load_f32(it));
      out.resize(f32.size() * safetensors::dtype_bits(dtype) / 8);
      QuantizeOptions qo;
      qo.threads = opt.threads;
      if (!f32.empty()) EDGEQUANT_TRY(edgequant::quantize(ggml_of(*ft), f32, f32.size(), out, qo));
      EDGEQUANT_TRY(sw->write_tensor(next->name, out));
      ++res.kept;
      finished(it);
      continue;
    }
    auto pi = pending.find(ii);
    if (pi == pending.end()) {
      std::array<std::vector<std::uint8_t>, 3> planes;
      const auto rows = static_cast<std::size_t>(it.rows), cols = static_cast<std::size_t>(it.cols);
      bool repacked = false;
      if (it.action == GgufAction::kRepack) {
        const std::size_t nb = cols / 32;
        const std::size_t row_w = cols * static_cast<std::size_t>(it.bits) / 8, row_s = nb * 2;
        const std::size_t src_row = nb * ggml_type_info(it.info->type).block_bytes;
        planes[0].resize(rows * row_w);
        planes[1].resize(rows * row_s);
        planes[2].resize(rows * row_s);
        const auto data = r->tensor_data(*it.info);
        repacked = true;
        for (std::size_t row = 0; row < rows && repacked; ++row) {
          const std::size_t dst =
              it.permute_heads ? static_cast<std::size_t>(permuted_source_row(row, rows, it.permute_heads)) : row;
          repacked = repack_row(it.info->type, data.data() + row * src_row, nb, planes[0].data() + dst * row_w,
                                planes[1].data() + dst * row_s, planes[2].data() + dst * row_s);
        }
        // A bias beyond f16: re-quantize this tensor at the same bits and group.
      }
      if (!repacked) {
        EDGEQUANT_TRY(load_f32(it));
        const PlaneSchemeInfo* s = affine_scheme(it.bits, it.group, opt.backend);
        if (!s) return make_error(Errc::kUnsupported, "no MLX scheme for " + std::to_string(it.bits) + " bits");
        PlaneOptions po;
        po.dtype = *ft;
        po.threads = opt.threads;
        auto qp = quantize_planes(*s, f32, cols, po);
        if (!qp) return std::move(qp).error();
        for (int p = 0; p < 3; ++p) planes[static_cast<std::size_t>(p)] = std::move(qp->data[static_cast<std::size_t>(p)]);
        ++res.requantized;
      } else {
        ++res.repacked;
      }
      pi = pending.emplace(ii, std::pair{std::move(planes), 0}).first;
    }
    EDGEQUANT_TRY(sw->write_tensor(next->name, std::as_bytes(std::span(pi->second.first[static_cast<std::size_t>(plane)]))));
    if (++pi->second.second == 3) {
      pending.erase(pi);
      finished(it);
    }
  }
  EDGEQUANT_TRY(sw->finish());
  auto cf = AtomicFile::create((fs::path(out_dir) / "config.json").string());
  if (!cf) return std::move(cf).error();
  EDGEQUANT_TRY(cf->write(config.data(), config.size()));
  EDGEQUANT_TRY(cf->commit());
  // mlx-lm loads the tokenizer with transformers: tokenizer.json (BPE) or
  // tokenizer.model (SentencePiece) rebuilt from the GGUF's vocabulary.
  auto tok = write_tokenizer_from_gguf(*r, out_dir, c->n_ctx);
  if (!tok) return std::move(tok).error();
  res.tokenizer_files = std::move(*tok);
  return res;
}

}  // namespace edgequant::convert
