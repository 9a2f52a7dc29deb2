// ggml Q6_K: 256 weights in 16 sub-blocks of 16, 6-bit levels with int8
// scales (specs/ggml-quants.md §4.12).
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

struct Q6_K {
  static constexpr std::string_view name = "q6_K";
  static constexpr GgmlType ggml_type = GgmlType::kQ6_K;
  static constexpr std::size_t block_elems = 256, block_bytes = 210;
  static constexpr float max_abs_input = ggml::kKQuantMaxAbsInput;
  struct Block {
    std::uint8_t ql[128];  // half h, l < 32: ql[64h + l] = e 128h+l (low) | 128h+64+l (high);
                           // ql[64h + 32 + l] = 128h+32+l | 128h+96+l
    std::uint8_t qh[64];   // qh[32h + l] bits 0-1/2-3/4-5/6-7: high 2 bits of 128h + l + 0/32/64/96
    std::int8_t scales[16];  // sub-block scales
    f16_bits d;              // scale of the scales
  };

  // quantize_row_q6_K_ref / _impl: the same code; the importance weights, if
  // any, are used raw (no sigma2 factor).
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::int8_t L[256];
    float scales[16];
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      for (int j = 0; j < 16; ++j) {
        const float* qw = importance ? importance + i * block_elems + 16 * j : nullptr;
        scales[j] = ggml::make_qx_quants(16, 32, xb + 16 * j, L + 16 * j, qw);
      }
      if (!set_scales(scales, y[i])) continue;
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
      const float d = ggml::fp32(x[i].d);
      float* yb = y + i * block_elems;
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, r = e % 128, l = r % 32, k = r / 32;
        const std::uint8_t lo = x[i].ql[64 * h + 32 * (k % 2) + l];
        const int q =
            ((k < 2 ? lo & 0xF : lo >> 4) | (((x[i].qh[32 * h + l] >> (2 * k)) & 3) << 4));
        yb[e] = d * static_cast<float>(x[i].scales[e / 16]) * static_cast<float>(q - 32);
      }
    }
  }

  // ---- Stages shared with the SIMD quantizer ----

  // int8 scales relative to the sub-block scale of largest magnitude (first
  // on ties). Returns false, after zeroing the block, when every scale is
  // below GROUP_MAX_EPS.
  static bool set_scales(const float* scales, Block& b) noexcept {
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      const float abs_scale = std::fabs(scales[j]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < ggml::kGroupMaxEps) {
      b = Block{};
      b.d = ggml::fp16(0.f);
      return false;
    }
    const float iscale = -128.f / max_scale;
    b.d = ggml::fp16(1 / iscale);
    for (int j = 0; j < 16; ++j) {
      b.scales[j] =
          static_cast<std::int8_t>(ggml::min_of(127, ggml::nearest_int(iscale * scales[j])));
    }
    return true;
  }

  static float sub_scale(const Block& b, int j) noexcept {
    return ggml::fp32(b.d) * static_cast<float>(b.scales[j]);
  }

  // Re-quantizes the sub-blocks whose stored scale is non-zero; the others
  // keep the search's levels. L in [0, 64).
  static void requantize(const float* xb, const Block& b, std::int8_t* L) noexcept {
    for (int j = 0; j < 16; ++j) {
      const float d = sub_scale(b, j);
      if (d == 0) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = ggml::nearest_int(xb[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<std::int8_t>(ggml::max_of(-32, ggml::min_of(31, l)) + 32);
      }
    }
  }

  static void pack(const std::int8_t* L, Block& b) noexcept {
    for (int h = 0; h < 2; ++h) {
      const std::int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int q1 = Lh[l] & 0xF, q2 = Lh[l + 32] & 0xF;
        const int q3 = Lh[l + 64] & 0xF, q4 = Lh[l + 96] & 0xF;
        b.ql[64 * h + l] = static_cast<std::uint8_t>(q1 | (q3 << 4));
        b.ql[64 * h + l + 32] = static_cast<std::uint8_t>(q2 | (q4 << 4));
        b.qh[32 * h + l] =
            static_cast<std::uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
                                      ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
};
static_assert(GgmlScheme<Q6_K>);
static_assert(sizeof(Q6_K::Block) == 210);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
