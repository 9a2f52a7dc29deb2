// ggml Q2_K: 256 weights in 16 sub-blocks of 16, 2-bit levels with 4-bit
// scales and mins (specs/ggml-quants.md §4.8).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct Q2_K {
  static constexpr std::string_view name = "q2_K";
  static constexpr GgmlType ggml_type = GgmlType::kQ2_K;
  static constexpr std::size_t block_elems = 256, block_bytes = 84;
  static constexpr float max_abs_input = ggml::kKQuantMaxAbsInput;
  struct Block {
    std::uint8_t scales[16];  // sub-block j = e/16: low nibble scale, high nibble min
    std::uint8_t qs[64];      // e = 128h + r: byte 32h + r%32, bits 2*(r/32)
    f16_bits d;               // scale of the scales
    f16_bits dmin;            // scale of the mins
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::uint8_t L[256];
    std::uint8_t Laux[16];
    float weights[16];
    float scales[16];
    float mins[16];
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      if (importance == nullptr) {
        // quantize_row_q2_K_ref: weights |x|, mean absolute error.
        for (int j = 0; j < 16; ++j) {
          for (int l = 0; l < 16; ++l) weights[l] = std::fabs(xb[16 * j + l]);
          scales[j] = ggml::make_qkx2_quants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j],
                                             Laux, -0.5f, 0.1f, 15, true);
        }
        set_scales(scales, mins, y[i]);
      } else {
        // quantize_row_q2_K_impl: sigma2 of the super-block, make_qkx3 then
        // make_qp_quants for the 4-bit scales and mins.
        const float* qw = importance + i * block_elems;
        float sumx2 = 0;
        for (int j = 0; j < 256; ++j) sumx2 += xb[j] * xb[j];
        const float sigma2 = sumx2 / 256;
        float sw[16];
        for (int j = 0; j < 16; ++j) {
          for (int l = 0; l < 16; ++l) {
            weights[l] = qw[16 * j + l] * std::sqrt(sigma2 + xb[16 * j + l] * xb[16 * j + l]);
          }
          float s = 0;
          for (int l = 0; l < 16; ++l) s += weights[l];
          sw[j] = s;
          scales[j] = ggml::make_qkx3_quants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j],
                                             Laux, -0.9f, 0.05f, 36, false);
        }
        set_scales_weighted(scales, mins, sw, y[i]);
      }
      requantize(xb, y[i], L);
      pack(L, y[i]);
    }
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d) || f16_bits_not_finite(b[i].dmin)) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      const float dmin = ggml::fp32(x[i].dmin);
      float* yb = y + i * block_elems;
      for (int e = 0; e < 256; ++e) {
        const std::uint8_t sc = x[i].scales[e / 16];
        const float dl = d * static_cast<float>(sc & 0xF);
        const float ml = dmin * static_cast<float>(sc >> 4);
        const int r = e % 128;
        const int q = (x[i].qs[32 * (e / 128) + r % 32] >> (2 * (r / 32))) & 3;
        yb[e] = dl * static_cast<float>(q) - ml;
      }
    }
  }

  // ---- Stages shared with the SIMD quantizer ----

  // quantize_row_q2_K_ref: 4-bit scales and mins relative to the largest.
  static void set_scales(const float* scales, const float* mins, Block& b) noexcept {
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < 16; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0) {
      const float iscale = 15.f / max_scale;
      for (int j = 0; j < 16; ++j) {
        b.scales[j] = static_cast<std::uint8_t>(ggml::nearest_int(iscale * scales[j]));
      }
      b.d = ggml::fp16(max_scale / 15.f);
    } else {
      for (int j = 0; j < 16; ++j) b.scales[j] = 0;
      b.d = ggml::fp16(0.f);
    }
    if (max_min > 0) {
      const float iscale = 15.f / max_min;
      for (int j = 0; j < 16; ++j) {
        const int l = ggml::nearest_int(iscale * mins[j]);
        b.scales[j] = static_cast<std::uint8_t>(b.scales[j] | (l << 4));
      }
      b.dmin = ggml::fp16(max_min / 15.f);
    } else {
      b.dmin = ggml::fp16(0.f);
    }
  }

  // quantize_row_q2_K_impl: scales and mins by make_qp_quants weighted by the
  // sub-block weight sums.
  static void set_scales_weighted(const float* scales, const float* mins, const float* sw,
                                  Block& b) noexcept {
    std::uint8_t Ls[16], Lm[16];
    const float dm = ggml::make_qp_quants(16, 15, scales, Ls, sw);
    const float mm = ggml::make_qp_quants(16, 15, mins, Lm, sw);
    b.d = ggml::fp16(dm);
    b.dmin = ggml::fp16(mm);
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<std::uint8_t>(Ls[j] | (Lm[j] << 4));
  }

  // Scale of sub-block j as stored (0: keep the search's levels).
  static float sub_scale(const Block& b, int j) noexcept {
    return ggml::fp32(b.d) * static_cast<float>(b.scales[j] & 0xF);
  }
  static float sub_min(const Block& b, int j) noexcept {
    return ggml::fp32(b.dmin) * static_cast<float>(b.scales[j] >> 4);
  }

  // Re-quantizes the sub-blocks whose stored scale is non-zero with the
  // stored scale and min; the others keep the search's levels.
  static void requantize(const float* xb, const Block& b, std::uint8_t* L) noexcept {
    for (int j = 0; j < 16; ++j) {
      const float d = sub_scale(b, j);
      if (d == 0) continue;
      const float dm = sub_min(b, j);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = ggml::nearest_int((xb[16 * j + ii] + dm) / d);
        L[16 * j + ii] = static_cast<std::uint8_t>(ggml::max_of(0, ggml::min_of(3, l)));
      }
    }
  }

  static void pack(const std::uint8_t* L, Block& b) noexcept {
    for (int j = 0; j < 256; j += 128) {
      for (int l = 0; l < 32; ++l) {
        b.qs[j / 4 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 2) |
                                                    (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
      }
    }
  }
};
static_assert(GgmlScheme<Q2_K>);
static_assert(sizeof(Q2_K::Block) == 84);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
