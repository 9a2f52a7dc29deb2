// ggml Q5_1: 32 5-bit weights with an fp16 scale and an fp16 minimum
// (specs/ggml-quants.md §4.5).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/q5_0.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct Q5_1 {
  static constexpr std::string_view name = "q5_1";
  static constexpr GgmlType ggml_type = GgmlType::kQ5_1;
  static constexpr std::size_t block_elems = 32, block_bytes = 24;
  struct Block {
    f16_bits d;           // scale
    f16_bits m;           // minimum
    std::uint8_t qh[4];   // bit j (LE uint32) = bit 4 of x[j]
    std::uint8_t qs[16];  // low 4 bits as Q4_1; value q * d + m
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::uint8_t L[32];
    if (importance == nullptr) {
      // quantize_row_q5_1_ref: d = (max - min) / 31; the level is not clamped.
      for (std::size_t i = 0; i < n / block_elems; ++i) {
        const float* xb = x + i * block_elems;
        float min = FLT_MAX;
        float max = -FLT_MAX;
        for (int j = 0; j < 32; ++j) {
          if (xb[j] < min) min = xb[j];
          if (xb[j] > max) max = xb[j];
        }
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d != 0.f ? 1.0f / d : 0.0f;
        y[i].d = ggml::fp16(d);
        y[i].m = ggml::fp16(min);
        const bool overflowed = ggml::inverse_scale_overflowed(id);
        for (int j = 0; j < 32; ++j) {
          L[j] = overflowed ? 0 : static_cast<std::uint8_t>((xb[j] - min) * id + 0.5f);
        }
        ggml::pack_q5(L, y[i].qs, y[i].qh);
      }
      return;
    }
    // quantize_row_q5_1_impl: as Q4_1's, with 32 levels.
    const float sigma2 = ggml::row_sigma2(x, n);
    for (std::size_t ib = 0; ib < n / block_elems; ++ib) {
      quantize_block_weighted(x + ib * block_elems, importance + ib * block_elems, sigma2, y[ib]);
    }
  }

  // One block of quantize_row_q5_1_impl (sigma2 is the whole row's).
  static void quantize_block_weighted(const float* xb, const float* qw, float sigma2,
                                      Block& y) noexcept {
    float weight[32];
    std::uint8_t L[32], Laux[32];
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    float min;
    const float d =
        ggml::make_qkx3_quants(32, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y.d = ggml::fp16(d);
    y.m = ggml::fp16(-min);
    ggml::pack_q5(L, y.qs, y.qh);
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d) || f16_bits_not_finite(b[i].m)) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      const float m = ggml::fp32(x[i].m);
      const std::uint32_t qh = ggml::load_qh(x[i].qh);
      for (int j = 0; j < 16; ++j) {
        const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
        const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
        const int x0 = (x[i].qs[j] & 0x0F) | h0;
        const int x1 = (x[i].qs[j] >> 4) | h1;
        y[i * block_elems + j] = static_cast<float>(x0) * d + m;
        y[i * block_elems + j + 16] = static_cast<float>(x1) * d + m;
      }
    }
  }
};
static_assert(GgmlScheme<Q5_1>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
