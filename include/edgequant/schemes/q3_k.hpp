// ggml Q3_K: 256 weights in 16 sub-blocks of 16, 3-bit signed levels with
// 6-bit signed scales (specs/ggml-quants.md §4.9).
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

struct Q3_K {
  static constexpr std::string_view name = "q3_K";
  static constexpr GgmlType ggml_type = GgmlType::kQ3_K;
  static constexpr std::size_t block_elems = 256, block_bytes = 110;
  static constexpr float max_abs_input = ggml::kKQuantMaxAbsInput;
  struct Block {
    std::uint8_t hmask[32];   // bit e/32 of byte e%32: high bit of level e
    std::uint8_t qs[64];      // low 2 bits, placed as Q2_K
    std::uint8_t scales[12];  // 16 six-bit scales biased by 32 (ggml::pack_q3_k_scales)
    f16_bits d;               // scale of the scales
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::int8_t L[256];
    float scales[16];
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      if (importance == nullptr) {
        // quantize_row_q3_K_ref
        for (int j = 0; j < 16; ++j)
          scales[j] = ggml::make_q3_quants(16, 4, xb + 16 * j, L + 16 * j);
        set_scales(scales, y[i]);
      } else {
        // quantize_row_q3_K_impl: sigma2 = 2 Σx²/256 of the super-block.
        const float* qw = importance + i * block_elems;
        float sum_x2 = 0;
        for (int j = 0; j < 256; ++j) sum_x2 += xb[j] * xb[j];
        const float sigma2 = 2 * sum_x2 / 256;
        float weight[16];
        float sw[16];
        for (int j = 0; j < 16; ++j) {
          for (int l = 0; l < 16; ++l) {
            weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + xb[16 * j + l] * xb[16 * j + l]);
          }
          float s = 0;
          for (int l = 0; l < 16; ++l) s += weight[l];
          sw[j] = s;
          scales[j] = ggml::make_qx_quants(16, 4, xb + 16 * j, L + 16 * j, weight);
        }
        set_scales_weighted(scales, sw, y[i]);
      }
      requantize(xb, y[i], L);
      pack(L, y[i]);
    }
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d)) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d_all = ggml::fp32(x[i].d);
      float* yb = y + i * block_elems;
      for (int e = 0; e < 256; ++e) {
        const float dl = d_all * static_cast<float>(ggml::q3_k_scale(e / 16, x[i].scales));
        const int r = e % 128;
        const int q = (x[i].qs[32 * (e / 128) + r % 32] >> (2 * (r / 32))) & 3;
        const int h = (x[i].hmask[e % 32] >> (e / 32)) & 1;
        yb[e] = dl * static_cast<float>(q - (h ? 0 : 4));
      }
    }
  }

  // ---- Stages shared with the SIMD quantizer ----

  // quantize_row_q3_K_ref: 6-bit signed scales relative to the scale of
  // largest magnitude (first on ties).
  static void set_scales(const float* scales, Block& b) noexcept {
    float max_scale = 0;
    float amax = 0;
    for (int j = 0; j < 16; ++j) {
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    for (int j = 0; j < 12; ++j) b.scales[j] = 0;
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      int s[16];
      for (int j = 0; j < 16; ++j) {
        const int l = static_cast<std::int8_t>(ggml::nearest_int(iscale * scales[j]));
        s[j] = ggml::max_of(-32, ggml::min_of(31, l)) + 32;
      }
      ggml::pack_q3_k_scales(s, b.scales);
      b.d = ggml::fp16(1 / iscale);
    } else {
      b.d = ggml::fp16(0.f);
    }
  }

  // quantize_row_q3_K_impl: the scales themselves by make_qx_quants weighted
  // by the sub-block weight sums.
  static void set_scales_weighted(const float* scales, const float* sw, Block& b) noexcept {
    std::int8_t Ls[16];
    const float d_block = ggml::make_qx_quants(16, 32, scales, Ls, sw);
    int s[16];
    for (int j = 0; j < 16; ++j) s[j] = Ls[j];
    ggml::pack_q3_k_scales(s, b.scales);
    b.d = ggml::fp16(d_block);
  }

  static float sub_scale(const Block& b, int j) noexcept {
    return ggml::fp32(b.d) * static_cast<float>(ggml::q3_k_scale(j, b.scales));
  }

  // Re-quantizes the sub-blocks whose stored scale is non-zero; the others
  // keep the search's levels. L in [0, 8).
  static void requantize(const float* xb, const Block& b, std::int8_t* L) noexcept {
    for (int j = 0; j < 16; ++j) {
      const float d = sub_scale(b, j);
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = ggml::nearest_int(xb[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<std::int8_t>(ggml::max_of(-4, ggml::min_of(3, l)) + 4);
      }
    }
  }

  // High bits into hmask (bit e/32 of byte e%32), low 2 bits as Q2_K.
  static void pack(const std::int8_t* L, Block& b) noexcept {
    std::uint8_t lo[256];
    for (int j = 0; j < 32; ++j) b.hmask[j] = 0;
    for (int e = 0; e < 256; ++e) {
      int l = L[e];
      if (l > 3) {
        b.hmask[e % 32] = static_cast<std::uint8_t>(b.hmask[e % 32] | (1 << (e / 32)));
        l -= 4;
      }
      lo[e] = static_cast<std::uint8_t>(l);
    }
    for (int j = 0; j < 256; j += 128) {
      for (int l = 0; l < 32; ++l) {
        b.qs[j / 4 + l] = static_cast<std::uint8_t>(lo[j + l] | (lo[j + l + 32] << 2) |
                                                    (lo[j + l + 64] << 4) | (lo[j + l + 96] << 6));
      }
    }
  }
};
static_assert(GgmlScheme<Q3_K>);
static_assert(sizeof(Q3_K::Block) == 110);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
