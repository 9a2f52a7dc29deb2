// ggml Q1_0: 128 weights as sign bits and one fp16 scale (the mean of |x|),
// 1.125 bits per weight (specs/ggml-quants.md §4.27).
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

struct Q1_0 {
  static constexpr std::string_view name = "q1_0";
  static constexpr GgmlType ggml_type = GgmlType::kQ1_0;
  static constexpr std::size_t block_elems = 128, block_bytes = 18;
  struct Block {
    f16_bits d;           // scale = (Σ|x|)/128
    std::uint8_t qs[16];  // bit j%8 of byte j/8: x[j] >= 0 (value +d), else -d
  };

  // quantize_row_q1_0_ref; the importance is ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float sum_abs = 0.0f;
      for (int j = 0; j < 128; ++j) sum_abs += std::fabs(xb[j]);
      y[i].d = ggml::fp16(sum_abs / 128);
      pack_signs(xb, y[i]);
    }
  }

  // Bit j set when x[j] >= 0 (so -0.0 counts as positive, NaN as negative).
  static void pack_signs(const float* xb, Block& b) noexcept {
    for (int k = 0; k < 16; ++k) {
      unsigned bits = 0;
      for (int j = 0; j < 8; ++j) bits |= static_cast<unsigned>(xb[8 * k + j] >= 0.0f) << j;
      b.qs[k] = static_cast<std::uint8_t>(bits);
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
      const float neg_d = -d;
      for (int j = 0; j < 128; ++j) {
        y[i * block_elems + j] = ((x[i].qs[j / 8] >> (j % 8)) & 1) ? d : neg_d;
      }
    }
  }
};
static_assert(GgmlScheme<Q1_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
