// ggml MXFP4 (OCP MX): 32 fp4 E2M1 weights and one E8M0 power-of-two scale,
// 4.25 bits per weight (specs/ggml-quants.md §4.25). Also holds the fp4 table
// and nearest-index rule that NVFP4 shares.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {
namespace ggml {

// kvalues_fp4 (§3): the E2M1 values doubled, index = the fp4 code.
inline constexpr std::int8_t kValuesFp4[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                               0, -1, -2, -3, -4, -6, -8, -12};

// best_index_fp4 (§0.2): the code i minimising |kValuesFp4[i]*d - x|, scanned
// 0..15 with strict <, so ties (and NaN) go to the lowest code; 0 is code 0.
EDGEQUANT_HOST_DEVICE inline int best_index_fp4(float x, float d) noexcept {
  int best = 0;
  float best_err = std::fabs(static_cast<float>(kValuesFp4[0]) * d - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kValuesFp4[i]) * d - x);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

// e8m0_to_fp32_half (§0.2): 2^(e-128), the E8M0 value halved because the fp4
// table is doubled. e < 2 gives the float32 denormals 2^-128, 2^-127; 0xFF is
// not special (the validator rejects it).
EDGEQUANT_HOST_DEVICE constexpr float e8m0_to_fp32_half(std::uint8_t e) noexcept {
  const std::uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<std::uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}

// floorf(log2f(a)) for a finite a > 0, where log2f is correctly rounded (as
// glibc's is; §0.3): a few ulps below 2^K the rounded logarithm is K itself,
// so the floor is K, not the exact exponent K-1 (nextafterf(8, 0) gives 3).
// Computed from the bits so that the result does not depend on the platform's
// libm. With a = 2^K (1 - ε), log2 a = K - δ, δ = -log2(1-ε) ≈ ε/ln2; it
// rounds to K iff δ is below half the float spacing next to K, 2^(j-24) with
// 2^j the binade of the floats adjacent to K. Writing ε = G·2^-24 (G an
// integer), that is G < 2^j·ln2; kMaxGap[j] = floor(2^j·ln2) (the fractional
// parts are far from 0, so the second-order terms of δ never matter).
EDGEQUANT_HOST_DEVICE constexpr int floor_log2f_rounded(float a) noexcept {
  constexpr std::uint32_t kMaxGap[8] = {0, 1, 2, 5, 11, 22, 44, 88};
  const std::uint32_t u = std::bit_cast<std::uint32_t>(a) & 0x7fffffffu;
  const std::uint32_t e = u >> 23, f = u & 0x7fffffu;
  int k;            // exact floor(log2 a)
  std::uint64_t G;  // 2^(k+1) - a in units of 2^(k+1-24)
  if (e != 0) {
    k = static_cast<int>(e) - 127;
    G = (1u << 23) - f;
  } else {  // denormal: leading bit p of the mantissa, a in [2^(p-149), 2^(p-148))
    const int p = 31 - std::countl_zero(f);
    k = p - 149;
    G = static_cast<std::uint64_t>((2u << p) - f) << (23 - p);
  }
  const int K = k + 1;
  int j = -1;  // floats next to K lie in [2^j, 2^(j+1)); none matter for K = 0, 1
  if (K >= 2) j = 31 - std::countl_zero(static_cast<std::uint32_t>(K - 1));
  if (K <= -1) j = 31 - std::countl_zero(static_cast<std::uint32_t>(-K));
  return (j >= 0 && G <= kMaxGap[j]) ? K : k;
}

// The MXFP4 scale byte (§4.25): (uint8)(floorf(log2f(amax)) - 2 + 127), 0 for
// amax == 0. Below 2^-125 the value is negative and C leaves the conversion
// undefined; x86-64 keeps the low 8 bits of the int, reproduced here (a block
// with amax in [2^-126, 2^-125) gets 0xFF, which the validator rejects).
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t mxfp4_scale_exponent(float amax) noexcept {
  if (!(amax > 0.0f)) return 0;
  return static_cast<std::uint8_t>(floor_log2f_rounded(amax) - 2 + 127);
}

}  // namespace ggml

struct MXFP4 {
  static constexpr std::string_view name = "mxfp4";
  static constexpr GgmlType ggml_type = GgmlType::kMXFP4;
  static constexpr std::size_t block_elems = 32, block_bytes = 17;
  struct Block {
    std::uint8_t e;       // E8M0 scale; x = kValuesFp4[code] * 2^(e-128)
    std::uint8_t qs[16];  // code of x[j] low nibble, x[j+16] high nibble
  };

  // quantize_row_mxfp4_ref; the importance is ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) {
        if (amax < std::fabs(xb[j])) amax = std::fabs(xb[j]);
      }
      const std::uint8_t e = ggml::mxfp4_scale_exponent(amax);
      const float d = ggml::e8m0_to_fp32_half(e);
      y[i].e = e;
      for (int j = 0; j < 16; ++j) {
        const int lo = ggml::best_index_fp4(xb[j], d);
        const int hi = ggml::best_index_fp4(xb[j + 16], d);
        y[i].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
      }
    }
  }

  // ggml_validate_row_data: an E8M0 scale of 0xFF (NaN) is invalid.
  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (b[i].e == 0xFF) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::e8m0_to_fp32_half(x[i].e);
      float* yb = y + i * block_elems;
      for (int j = 0; j < 16; ++j) {
        yb[j] = static_cast<float>(ggml::kValuesFp4[x[i].qs[j] & 0x0F]) * d;
        yb[j + 16] = static_cast<float>(ggml::kValuesFp4[x[i].qs[j] >> 4]) * d;
      }
    }
  }
};
static_assert(GgmlScheme<MXFP4>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
