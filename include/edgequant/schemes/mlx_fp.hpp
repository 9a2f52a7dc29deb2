// Apple MLX floating-point modes mxfp4 / mxfp8 / nvfp4 (mx.quantize on the CPU
// stream, i.e. MLX's ops fallback computed in the weight's dtype T):
// uint32-packed FP4 E2M1 / FP8 E4M3 codes, uint8 E8M0 / E4M3 scales
// (specs/mlx.md §3).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/schemes/plane.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

namespace mlx {

// MLX's ToFP8 (cpu/unary_ops.h): E4M3 round-to-nearest-even with
// subnormals; |x| >= 448, ±Inf and NaN all saturate to 0x7E | sign (§3.1).
EDGEQUANT_HOST_DEVICE inline std::uint8_t to_fp8(float x) noexcept {
  const std::uint32_t u = f32_bits(x);
  if ((u & 0x7fffffffu) >= 0x43E00000u)
    return static_cast<std::uint8_t>(0x7Eu | ((u >> 24) & 0x80u));
  return f32_to_e4m3fn(x, true);
}
// MLX's FromFP8: as E4M3 except 0x7F / 0xFF decode to ±480 (no NaN).
inline float from_fp8(std::uint8_t b) noexcept {
  if ((b & 0x7F) == 0x7F) return (b & 0x80) ? -480.0f : 480.0f;
  return e4m3fn_table()[b];
}
// MLX's E8M0 decode: 2^(e-127) with e = 0 -> 2^-127 and 0xFF -> +Inf (§3.1).
EDGEQUANT_HOST_DEVICE inline float e8m0_value(std::uint8_t e) noexcept {
  if (e == 0xFF) return f32_from_bits(0x7f800000u);
  return e8m0_to_f32(e);
}

// The FP4 lookup table MLX searches, in index order (+0 first, then -0).
inline constexpr float kFp4Lut[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                      -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// argmin_k RN_T(|RN_T(x - LUT[k])|), the first k on ties (§3.3): ties go to
// the smaller magnitude and every value that rounds to zero becomes +0.
inline std::uint8_t fp4_argmin(float x, FloatType t) noexcept {
  std::uint8_t best = 0;
  float bv = round_to(t, std::fabs(round_to(t, x - kFp4Lut[0])));
  for (std::uint8_t k = 1; k < 16; ++k) {
    const float d = round_to(t, std::fabs(round_to(t, x - kFp4Lut[k])));
    if (d < bv) {
      bv = d;
      best = k;
    }
  }
  return best;
}

enum class FpMode : std::uint8_t { kMxfp4, kMxfp8, kNvfp4 };

}  // namespace mlx

template <mlx::FpMode Mode>
struct MlxFp {
  static constexpr bool nv = Mode == mlx::FpMode::kNvfp4;
  static constexpr std::string_view name = Mode == mlx::FpMode::kMxfp4   ? "mlx:mxfp4"
                                           : Mode == mlx::FpMode::kMxfp8 ? "mlx:mxfp8"
                                                                         : "mlx:nvfp4";
  static constexpr std::string_view family = "mlx";
  static constexpr int bits = Mode == mlx::FpMode::kMxfp8 ? 8 : 4;
  static constexpr std::size_t group = nv ? 16 : 32;
  static constexpr float kElemMax = bits == 8 ? 448.0f : 6.0f;
  static constexpr std::size_t group_bytes = group * bits / 8;

  static Status check(std::size_t k, FloatType) { return detail::check_group(name, k, group); }

  static PlaneSpecs planes(std::size_t rows, std::size_t k, FloatType) {
    PlaneSpecs p{};
    p[0] = detail::plane("weight", "U32", 32, k * bits / 32, k * bits / 8, {rows, k * bits / 32});
    p[1] = detail::plane("scales", "U8", 8, k / group, k / group, {rows, k / group});
    return p;
  }

  // The group's element divisor and stored scale byte from amax (§3.3).
  struct GroupScale {
    float divisor;
    std::uint8_t byte;
  };
  static GroupScale group_scale(float amax, FloatType t) noexcept {
    const float s = round_to(t, amax / kElemMax);
    if constexpr (nv) {
      // The scale goes through an f32 "scale_encode" of 1.0 (no global scale).
      const std::uint8_t byte = mlx::to_fp8(s);
      return {round_to(t, mlx::from_fp8(byte)), byte};
    } else {
      float e = 0.0f;
      if (s != 0.0f) e = std::nearbyint(round_to(t, std::log2(s)));
      // (uint8)(e + 127); MLX leaves out-of-range casts undefined: clamp.
      const float eb = round_to(t, e + 127.0f);
      const auto byte = static_cast<std::uint8_t>(eb < 0.0f ? 0.0f : (eb > 255.0f ? 255.0f : eb));
      return {round_to(t, std::pow(2.0f, e)), byte};
    }
  }

  // The type the FP4 LUT search runs in: nvfp4's elements are promoted to
  // f32 by the f32 scale_encode multiply.
  static constexpr FloatType lut_type(FloatType t) noexcept { return nv ? FloatType::kF32 : t; }

  // The CPU ops fallback, every op rounded to T (§3.3). x holds T values.
  static void quantize_row_ref(const float* x, std::size_t k, RowPlanes out, FloatType t) noexcept {
    std::uint8_t codes[group];
    for (std::size_t g = 0; g < k / group; ++g) {
      const float* w = x + g * group;
      float amax = 0.0f;
      for (std::size_t j = 0; j < group; ++j) amax = std::fmax(amax, std::fabs(w[j]));
      const GroupScale gs = group_scale(amax, t);
      for (std::size_t j = 0; j < group; ++j) {
        const float v = round_to(t, w[j] / gs.divisor);
        codes[j] = bits == 4 ? mlx::fp4_argmin(v, lut_type(t)) : mlx::to_fp8(v);
      }
      pack_bits(codes, group, bits, out.p[0] + g * group_bytes);
      out.p[1][g] = gs.byte;
    }
  }

  // mx.dequantize(..., dtype=float32): code value times the decoded scale
  // (§3.5). Exact in f32 and bf16 alike.
  static void dequantize_row_ref(ConstRowPlanes in, std::size_t k, float* y, FloatType) noexcept {
    std::uint8_t codes[group];
    for (std::size_t g = 0; g < k / group; ++g) {
      const std::uint8_t sb = in.p[1][g];
      const float s = nv ? mlx::from_fp8(sb) : std::pow(2.0f, static_cast<float>(sb) - 127.0f);
      unpack_bits(in.p[0] + g * group_bytes, group, bits, codes);
      for (std::size_t j = 0; j < group; ++j) {
        const float v = bits == 4 ? mlx::kFp4Lut[codes[j]] : mlx::from_fp8(codes[j]);
        y[g * group + j] = v * s;
      }
    }
  }
};

using MlxMxfp4 = MlxFp<mlx::FpMode::kMxfp4>;
using MlxMxfp8 = MlxFp<mlx::FpMode::kMxfp8>;
using MlxNvfp4 = MlxFp<mlx::FpMode::kNvfp4>;

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
