// Raw codecs for quantize-raw / dequantize-raw / types: a name -> how to turn
// rows of float32 into bytes and back: ggml types, and the other ecosystems'
// plane schemes (ONNX Runtime, NNCF, MLX; docs/ecosystem-schemes.md has the
// syntax and their raw row layout).
#pragma once

#include <cctype>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"

namespace eqcli {

struct RawCodec {
  std::string name;          // canonical spelling
  std::string family;        // "ggml", ...
  std::uint32_t id = 0;      // ggml type id where it has one
  std::size_t block_elems;   // row length must be a multiple of this
  std::size_t block_bytes;   // bytes per block in the raw stream
  bool requires_importance;
  std::function<edgequant::Status(std::span<const float>, std::size_t cols, std::span<std::byte>,
                                  const edgequant::QuantizeOptions&)>
      quantize;
  std::function<edgequant::Status(std::span<const std::byte>, std::size_t cols, std::span<float>,
                                  unsigned threads)>
      dequantize;
  // Plane schemes: bytes per row are not a multiple of a block size (padded
  // zero points, per-row scales), so they come from a function.
  std::function<std::size_t(std::size_t cols)> row_bytes_fn;
  std::string notes;
  double bpw() const {
    if (row_bytes_fn) return 8.0 * static_cast<double>(row_bytes_fn(4096)) / 4096.0;
    return 8.0 * static_cast<double>(block_bytes) / static_cast<double>(block_elems);
  }
  std::size_t row_bytes(std::size_t cols) const {
    return row_bytes_fn ? row_bytes_fn(cols) : cols / block_elems * block_bytes;
  }
};

inline std::optional<RawCodec> ggml_codec(edgequant::GgmlType t) {
  if (!edgequant::ggml_type_supported(t)) return std::nullopt;
  const auto& info = edgequant::ggml_type_info(t);
  RawCodec c;
  c.name = std::string(info.name);
  c.family = "ggml";
  c.id = static_cast<std::uint32_t>(t);
  c.block_elems = info.block_elems;
  c.block_bytes = info.block_bytes;
  c.requires_importance = info.requires_imatrix;
  c.quantize = [t](std::span<const float> src, std::size_t cols, std::span<std::byte> dst,
                   const edgequant::QuantizeOptions& opt) {
    return edgequant::quantize(t, src, cols, dst, opt);
  };
  c.dequantize = [t](std::span<const std::byte> src, std::size_t cols, std::span<float> dst,
                     unsigned threads) { return edgequant::dequantize(t, src, cols, dst, threads); };
  return c;
}

// The weight type a plane scheme assumes when the name does not give one:
// MLX models are f16 (mlx-lm's usual dtype), ORT MatMulNBits weights f32;
// NNCF always computes in f32.
inline edgequant::FloatType default_plane_dtype(const edgequant::PlaneSchemeInfo& s) {
  return s.family == "mlx" ? edgequant::FloatType::kF16 : edgequant::FloatType::kF32;
}

inline RawCodec plane_codec(const edgequant::PlaneSchemeInfo& s, edgequant::FloatType t,
                            bool explicit_dtype) {
  RawCodec c;
  c.name = std::string(s.name);
  if (explicit_dtype) c.name += ":" + std::string(edgequant::float_type_name(t));
  c.family = std::string(s.family);
  c.block_elems = s.group;
  c.block_bytes = edgequant::raw_row_bytes(s, s.group > 2 ? s.group : 256, t);
  c.requires_importance = false;
  const edgequant::PlaneSchemeInfo* sp = &s;
  c.row_bytes_fn = [sp, t](std::size_t cols) { return edgequant::raw_row_bytes(*sp, cols, t); };
  if (s.dtype_matters) c.notes = "weight type " + std::string(edgequant::float_type_name(t));
  c.quantize = [sp, t](std::span<const float> src, std::size_t cols, std::span<std::byte> dst,
                       const edgequant::QuantizeOptions& opt) -> edgequant::Status {
    if (!opt.importance.empty()) {
      return edgequant::make_error(edgequant::Errc::kBadArgument,
                                   std::string(sp->name) + " does not take importance weights");
    }
    return edgequant::quantize_raw(
        *sp, src, cols,
        std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(dst.data()), dst.size()),
        edgequant::PlaneOptions{t, opt.threads});
  };
  c.dequantize = [sp, t](std::span<const std::byte> src, std::size_t cols, std::span<float> dst,
                         unsigned threads) {
    return edgequant::dequantize_raw(
        *sp,
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(src.data()),
                                      src.size()),
        cols, dst, edgequant::PlaneOptions{t, threads});
  };
  return c;
}

// Every codec, in a stable order (ggml types by id, then the plane schemes
// in registry order with their default weight type).
inline std::vector<RawCodec> all_codecs() {
  std::vector<RawCodec> v;
  for (std::uint32_t id = 0; id < edgequant::kGgmlTypeCount; ++id) {
    if (!edgequant::ggml_type_info(id)) continue;
    if (auto c = ggml_codec(static_cast<edgequant::GgmlType>(id))) v.push_back(std::move(*c));
  }
  for (const auto* s : edgequant::plane_schemes())
    v.push_back(plane_codec(*s, default_plane_dtype(*s), false));
  return v;
}

// Plane scheme spellings: the registry names (mlx:q4:g64, ort:nbits4:b32:asym,
// nncf:int4_sym:g128, mlx:q4:g64:metal), an optional weight type suffix
// (:f32, :f16, :bf16), and the tools' defaults when a part is left out:
// mlx:qB -> group 64, ort:nbitsB -> block 128 asymmetric (MatMulNBitsQuantizer),
// nncf:int4_*/nf4/fp4/fp8_e4m3 -> group 128, nncf:e2m1 -> nncf:mxfp4 (NNCF 2.x).
inline std::optional<RawCodec> find_plane_codec(std::string name) {
  for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::optional<edgequant::FloatType> dtype;
  for (auto [suffix, t] : {std::pair{":f32", edgequant::FloatType::kF32},
                           std::pair{":f16", edgequant::FloatType::kF16},
                           std::pair{":bf16", edgequant::FloatType::kBF16}}) {
    const std::string_view sv(suffix);
    if (name.size() > sv.size() && name.compare(name.size() - sv.size(), sv.size(), sv) == 0) {
      dtype = t;
      name.resize(name.size() - sv.size());
      break;
    }
  }
  auto try_name = [&](const std::string& n) -> std::optional<RawCodec> {
    const auto* s = edgequant::find_plane_scheme(n);
    if (!s) return std::nullopt;
    return plane_codec(*s, dtype.value_or(default_plane_dtype(*s)), dtype.has_value());
  };
  if (auto c = try_name(name)) return c;
  if (name == "nncf:e2m1") return try_name("nncf:mxfp4");
  const bool metal = name.size() > 6 && name.compare(name.size() - 6, 6, ":metal") == 0;
  const std::string base = metal ? name.substr(0, name.size() - 6) : name;
  if (base.rfind("mlx:q", 0) == 0 && base.find(":g") == std::string::npos) {
    return try_name(base + ":g64" + (metal ? ":metal" : ""));
  }
  if (base.rfind("ort:nbits", 0) == 0) {
    if (base.find(":b") == std::string::npos) {
      if (auto c = try_name(base + ":b128:asym")) return c;
      return try_name(base + ":b128");
    }
    return try_name(base + ":asym");
  }
  if (base.rfind("nncf:", 0) == 0 && base.find(":g") == std::string::npos)
    return try_name(base + ":g128");
  return std::nullopt;
}

inline edgequant::Expected<RawCodec> find_codec(const std::string& name) {
  if (auto t = edgequant::parse_ggml_type(name)) {
    if (auto c = ggml_codec(*t)) return *c;
    return edgequant::make_error(edgequant::Errc::kUnsupported,
                                 "type " + name + " is a ggml type edgequant cannot quantize to");
  }
  if (auto c = find_plane_codec(name)) return *c;
  std::string known;
  for (const auto& c : all_codecs()) {
    if (c.family == "ggml") known += (known.empty() ? "" : ", ") + c.name;
  }
  return edgequant::make_error(
      edgequant::Errc::kBadArgument,
      "unknown type '" + name + "' (ggml: " + known +
          "; ONNX Runtime, NNCF and MLX schemes such as ort:nbits4:b32:sym, "
          "nncf:int4_asym:g128, mlx:q4:g64[:bf16]: see `edgequant types`)");
}

}  // namespace eqcli
