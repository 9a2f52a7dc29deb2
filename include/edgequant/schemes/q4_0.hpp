// ggml Q4_0: 32 4-bit weights (offset 8) and one fp16 scale (specs/ggml-quants.md §4.2).
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

struct Q4_0 {
  static constexpr std::string_view name = "q4_0";
  static constexpr GgmlType ggml_type = GgmlType::kQ4_0;
  static constexpr std::size_t block_elems = 32, block_bytes = 18;
  struct Block {
    f16_bits d;           // scale
    std::uint8_t qs[16];  // x[j] low nibble, x[j+16] high nibble; value (q - 8) * d
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    if (importance == nullptr) {
      quantize_plain(x, y, n);
      return;
    }
    // quantize_row_q4_0_impl: weights from the importance and the row's sigma2.
    const float sigma2 = ggml::row_sigma2(x, n);
    for (std::size_t ib = 0; ib < n / block_elems; ++ib) {
      quantize_block_weighted(x + ib * block_elems, importance + ib * block_elems, sigma2, y[ib]);
    }
  }

  // One block of quantize_row_q4_0_impl (sigma2 is the whole row's).
  static void quantize_block_weighted(const float* xb, const float* qw, float sigma2,
                                      Block& y) noexcept {
    float weight[32];
    std::int8_t L[32];
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    y.d = ggml::fp16(ggml::make_qx_quants(32, 8, xb, L, weight));
    for (int j = 0; j < 16; ++j) y.qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
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
      for (int j = 0; j < 16; ++j) {
        const int x0 = (x[i].qs[j] & 0x0F) - 8;
        const int x1 = (x[i].qs[j] >> 4) - 8;
        y[i * block_elems + j] = static_cast<float>(x0) * d;
        y[i * block_elems + j + 16] = static_cast<float>(x1) * d;
      }
    }
  }

 private:
  // quantize_row_q4_0_ref: d = max / -8 from the signed value of largest |x|.
  static void quantize_plain(const float* x, Block* y, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      float max = 0.0f;
      for (int j = 0; j < 32; ++j) {
        if (amax < std::fabs(xb[j])) {
          amax = std::fabs(xb[j]);
          max = xb[j];
        }
      }
      const float d = max / -8;
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[i].d = ggml::fp16(d);
      if (ggml::inverse_scale_overflowed(id)) {
        for (auto& q : y[i].qs) q = 0;
        continue;
      }
      for (int j = 0; j < 16; ++j) {
        const float x0 = xb[j] * id;
        const float x1 = xb[j + 16] * id;
        const int xi0 = ggml::min_of(15, static_cast<int>(static_cast<std::int8_t>(x0 + 8.5f)));
        const int xi1 = ggml::min_of(15, static_cast<int>(static_cast<std::int8_t>(x1 + 8.5f)));
        y[i].qs[j] = static_cast<std::uint8_t>(xi0 | (xi1 << 4));
      }
    }
  }
};
static_assert(GgmlScheme<Q4_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
