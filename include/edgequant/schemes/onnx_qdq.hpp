// ONNX QuantizeLinear / DequantizeLinear as ONNX Runtime computes them
// (per-tensor, per-axis, blocked; int8/uint8/int16/uint16/int4/uint4 and the
// float8 types), and the static-quantization scale / zero point of ORT's
// quantization tools (specs/onnx.md §4, §7.3).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/schemes/plane.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant::onnx {

// Quantized element types by their TensorProto.DataType id (onnx.md §2.8).
enum class QType : std::int32_t {
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUInt4 = 21,
  kInt4 = 22,
};

struct QTypeInfo {
  std::string_view name;
  int bits;
  std::int32_t lo, hi;  // integer range (0 for float8)
  bool is_float;
  MiniFormat fmt;  // float8 only
};

constexpr QTypeInfo qtype_info(QType t) noexcept {
  switch (t) {
    case QType::kUInt8:
      return {"uint8", 8, 0, 255, false, {}};
    case QType::kInt8:
      return {"int8", 8, -128, 127, false, {}};
    case QType::kUInt16:
      return {"uint16", 16, 0, 65535, false, {}};
    case QType::kInt16:
      return {"int16", 16, -32768, 32767, false, {}};
    case QType::kUInt4:
      return {"uint4", 4, 0, 15, false, {}};
    case QType::kInt4:
      return {"int4", 4, -8, 7, false, {}};
    case QType::kFloat8E4M3FN:
      return {"float8e4m3fn", 8, 0, 0, true, kE4M3FN};
    case QType::kFloat8E4M3FNUZ:
      return {"float8e4m3fnuz", 8, 0, 0, true, kE4M3FNUZ};
    case QType::kFloat8E5M2:
      return {"float8e5m2", 8, 0, 0, true, kE5M2};
    case QType::kFloat8E5M2FNUZ:
      return {"float8e5m2fnuz", 8, 0, 0, true, kE5M2FNUZ};
  }
  return {"?", 0, 0, 0, false, {}};
}

// Bytes of numel elements in raw_data (4-bit types pack two per byte over the
// flattened tensor, element 2i in the low nibble; 16-bit little-endian).
constexpr std::size_t packed_bytes(QType t, std::size_t numel) noexcept {
  const int b = qtype_info(t).bits;
  return b == 4 ? (numel + 1) / 2 : numel * static_cast<std::size_t>(b / 8);
}

// Element i of a packed tensor as an integer (float8: the bit pattern).
inline std::int32_t load_q(QType t, const std::uint8_t* p, std::size_t i) noexcept {
  switch (t) {
    case QType::kUInt4:
      return (p[i / 2] >> (4 * (i & 1))) & 15;
    case QType::kInt4:
      return (((p[i / 2] >> (4 * (i & 1))) & 15) ^ 8) - 8;
    case QType::kUInt8:
      return p[i];
    case QType::kInt8:
      return static_cast<std::int8_t>(p[i]);
    case QType::kUInt16:
      return p[2 * i] | (p[2 * i + 1] << 8);
    case QType::kInt16:
      return static_cast<std::int16_t>(p[2 * i] | (p[2 * i + 1] << 8));
    default:
      return p[i];
  }
}
inline void store_q(QType t, std::uint8_t* p, std::size_t i, std::int32_t v) noexcept {
  switch (t) {
    case QType::kUInt4:
    case QType::kInt4: {
      const int sh = 4 * static_cast<int>(i & 1);
      p[i / 2] = static_cast<std::uint8_t>((p[i / 2] & ~(15 << sh)) | ((v & 15) << sh));
      return;
    }
    case QType::kUInt16:
    case QType::kInt16:
      p[2 * i] = static_cast<std::uint8_t>(v);
      p[2 * i + 1] = static_cast<std::uint8_t>(v >> 8);
      return;
    default:
      p[i] = static_cast<std::uint8_t>(v);
  }
}

// One element: y = saturate(rint(x / scale) + zp). ORT clamps x / scale to
// [lo - zp, hi - zp] and then rounds, which is the same for integral bounds.
inline std::int32_t quantize_value(float x, float scale, std::int32_t zp, const QTypeInfo& info,
                                   bool saturate) noexcept {
  const float v = x / scale;
  if (info.is_float) return static_cast<std::int32_t>(f32_to_mini(v, info.fmt, saturate));
  float r = std::nearbyint(v) + static_cast<float>(zp);
  if (std::isnan(r)) r = static_cast<float>(zp);  // cannot happen for finite x and scale != 0
  r = std::clamp(r, static_cast<float>(info.lo), static_cast<float>(info.hi));
  return static_cast<std::int32_t>(r);
}

inline float dequantize_value(std::int32_t q, float scale, std::int32_t zp,
                              const QTypeInfo& info) noexcept {
  if (info.is_float) return mini_to_f32(static_cast<std::uint32_t>(q), info.fmt) * scale;
  return static_cast<float>(q - zp) * scale;
}

// How scale / zero point index the tensor: per-tensor (one scale), per-axis
// (D[axis] scales) or blocked (opset 21: ceil(D[axis]/block) scales along
// axis, same shape otherwise). Elements are addressed as [outer, D, inner].
struct QdqLayout {
  std::size_t outer = 1, dim = 1, inner = 1;
  std::size_t block = 0;  // 0: per-tensor or per-axis
  bool per_tensor = true;

  std::size_t numel() const noexcept { return outer * dim * inner; }
  std::size_t scale_count() const noexcept {
    if (per_tensor) return 1;
    return block ? outer * ((dim + block - 1) / block) * inner : dim;
  }
  std::size_t scale_index(std::size_t i) const noexcept {
    if (per_tensor) return 0;
    const std::size_t in = i % inner, d = i / inner % dim, o = i / (inner * dim);
    if (!block) return d;
    const std::size_t nb = (dim + block - 1) / block;
    return (o * nb + d / block) * inner + in;
  }
};

// Resolves the layout from the tensor shape, axis, block_size and the number
// of scales given, with ONNX's rules (onnx.md §4).
inline Expected<QdqLayout> make_layout(std::span<const std::size_t> shape, std::int64_t axis,
                                       std::int64_t block_size, std::size_t scale_count) {
  QdqLayout l;
  std::size_t numel = 1;
  for (std::size_t d : shape) numel *= d;
  if (scale_count == 1 && block_size == 0) {
    l.dim = numel;
    return l;
  }
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (axis < -rank || axis >= rank) {
    return make_error(Errc::kBadArgument, "axis " + std::to_string(axis) +
                                              " out of range for rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  l.per_tensor = false;
  l.dim = shape[static_cast<std::size_t>(axis)];
  for (std::int64_t i = 0; i < axis; ++i) l.outer *= shape[static_cast<std::size_t>(i)];
  for (std::int64_t i = axis + 1; i < rank; ++i) l.inner *= shape[static_cast<std::size_t>(i)];
  if (block_size < 0) return make_error(Errc::kBadArgument, "block_size must be >= 0");
  l.block = static_cast<std::size_t>(block_size);
  if (l.scale_count() != scale_count) {
    return make_error(Errc::kBadArgument, "scale has " + std::to_string(scale_count) +
                                              " values; the " + (l.block ? "blocked" : "per-axis") +
                                              " layout needs " + std::to_string(l.scale_count()));
  }
  return l;
}

struct QdqParams {
  QType type = QType::kUInt8;
  std::int64_t axis = 1;
  std::int64_t block_size = 0;
  bool saturate = true;  // float8 targets only
};

// QuantizeLinear. zero_point: empty (0) or one per scale; out: packed_bytes.
inline Status quantize_linear(std::span<const float> x, std::span<const std::size_t> shape,
                              std::span<const float> scale,
                              std::span<const std::int32_t> zero_point, const QdqParams& p,
                              std::span<std::uint8_t> out) {
  auto l = make_layout(shape, p.axis, p.block_size, scale.size());
  if (!l) return l.error();
  const QTypeInfo info = qtype_info(p.type);
  if (x.size() != l->numel()) return make_error(Errc::kBadArgument, "x does not match its shape");
  if (!zero_point.empty() && zero_point.size() != scale.size()) {
    return make_error(Errc::kBadArgument, "zero_point must have the shape of scale");
  }
  if (out.size() != packed_bytes(p.type, x.size())) {
    return make_error(Errc::kBadArgument,
                      "output needs " + std::to_string(packed_bytes(p.type, x.size())) + " bytes");
  }
  for (std::size_t i = 0; i < zero_point.size(); ++i) {
    if (info.is_float ? zero_point[i] != 0 : (zero_point[i] < info.lo || zero_point[i] > info.hi)) {
      return make_error(Errc::kBadArgument, "zero point " + std::to_string(zero_point[i]) +
                                                " out of range for " + std::string(info.name));
    }
  }
  for (std::size_t i = 0; i < scale.size(); ++i) {
    if (!(std::isfinite(scale[i]) && scale[i] != 0.0f)) {
      return make_error(Errc::kBadArgument,
                        "scale " + std::to_string(i) + " is zero or not finite");
    }
  }
  std::fill(out.begin(), out.end(), std::uint8_t{0});
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t s = l->scale_index(i);
    const std::int32_t zp = zero_point.empty() ? 0 : zero_point[s];
    store_q(p.type, out.data(), i, quantize_value(x[i], scale[s], zp, info, p.saturate));
  }
  return {};
}

// DequantizeLinear: y = (q - zp) * scale in float32 (float8: value * scale).
inline Status dequantize_linear(std::span<const std::uint8_t> q, std::span<const std::size_t> shape,
                                std::span<const float> scale,
                                std::span<const std::int32_t> zero_point, const QdqParams& p,
                                std::span<float> y) {
  auto l = make_layout(shape, p.axis, p.block_size, scale.size());
  if (!l) return l.error();
  const QTypeInfo info = qtype_info(p.type);
  if (y.size() != l->numel() || q.size() != packed_bytes(p.type, y.size())) {
    return make_error(Errc::kBadArgument, "quantized data or output does not match the shape");
  }
  if (!zero_point.empty() && zero_point.size() != scale.size()) {
    return make_error(Errc::kBadArgument, "zero_point must have the shape of scale");
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::size_t s = l->scale_index(i);
    y[i] = dequantize_value(load_q(p.type, q.data(), i), scale[s],
                            zero_point.empty() ? 0 : zero_point[s], info);
  }
  return {};
}

// ------------------------------------------- static quantization (§7.3) ----

// get_qmin_qmax_for_qType: the integer range the scale is computed for.
struct QRange {
  std::int32_t qmin, qmax;
};
inline QRange qrange(QType t, bool reduce_range, bool symmetric) noexcept {
  if (reduce_range) {
    switch (t) {
      case QType::kUInt8:
        return {0, 127};
      case QType::kInt8:
        return {-64, 64};
      case QType::kUInt16:
        return {0, 32767};
      case QType::kInt16:
        return {-16384, 16384};
      case QType::kUInt4:
        return {0, 7};
      case QType::kInt4:
        return {-4, 3};
      default:
        break;
    }
  } else if (symmetric) {
    switch (t) {
      case QType::kUInt8:
        return {0, 254};
      case QType::kInt8:
        return {-127, 127};
      case QType::kUInt16:
        return {0, 65534};
      case QType::kInt16:
        return {-32767, 32767};
      default:
        break;
    }
  }
  const QTypeInfo i = qtype_info(t);
  return {i.lo, i.hi};
}

struct ScaleZp {
  float scale;
  std::int32_t zero_point;
};

// compute_scale_zp: range widened to include 0 (optionally to a minimum
// width), symmetrised if asked; scale = (rmax - rmin) / (qmax - qmin) in
// float64, then float32; zp = round-half-even in float64.
inline ScaleZp compute_scale_zp(float rmin, float rmax, QRange q, bool symmetric,
                                float min_real_range = 0.0f) noexcept {
  rmin = std::min(rmin, 0.0f);
  rmax = std::max(rmax, 0.0f);
  if (min_real_range > 0.0f) rmax = std::max(rmax, rmin + min_real_range);
  if (symmetric) {
    const float absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    rmin = -absmax;
    rmax = absmax;
  }
  const double dr = static_cast<double>(rmax - rmin);  // float32 subtraction, then float64
  const double dq = static_cast<double>(q.qmax) - static_cast<double>(q.qmin);
  const double scale = dr / dq;
  if (scale < static_cast<double>(std::numeric_limits<float>::min())) return {1.0f, 0};
  double zp;
  if (symmetric) {
    // (qmin + qmax) is numpy integer arithmetic in the range's dtype.
    zp = std::nearbyint(static_cast<double>(q.qmin + q.qmax) / 2.0);
  } else {
    zp = std::nearbyint(static_cast<double>(q.qmin) - static_cast<double>(rmin) / scale);
  }
  return {static_cast<float>(scale), static_cast<std::int32_t>(zp)};
}

// quantize_data / quantize_nparray for a weight: scale and zp from the data's
// own min/max, then clip(rint(x / scale) + zp) over the type's full range.
inline ScaleZp weight_scale_zp(std::span<const float> w, QType t, bool symmetric,
                               bool reduce_range = false) noexcept {
  float mn = 0.0f, mx = 0.0f;
  if (!w.empty()) {
    mn = mx = w[0];
    for (float v : w) {
      mn = std::fmin(mn, v);
      mx = std::fmax(mx, v);
    }
  }
  return compute_scale_zp(mn, mx, qrange(t, reduce_range, symmetric), symmetric);
}

}  // namespace edgequant::onnx

EDGEQUANT_FP_STRICT_END
