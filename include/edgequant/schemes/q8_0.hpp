// ggml Q8_0: 32 int8 weights and one fp16 scale (specs/ggml-quants.md §4.6).
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

struct Q8_0 {
  static constexpr std::string_view name = "q8_0";
  static constexpr GgmlType ggml_type = GgmlType::kQ8_0;
  static constexpr std::size_t block_elems = 32, block_bytes = 34;
  struct Block {
    f16_bits d;          // scale = amax / 127
    std::int8_t qs[32];  // x[j] ≈ qs[j] * d
  };

  // Reference quantizer (quantize_row_q8_0_ref): round half away from zero.
  // The importance weights are ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      for (std::size_t j = 0; j < block_elems; ++j) amax = ggml::max_of(amax, std::fabs(xb[j]));
      const float d = amax / ((1 << 7) - 1);
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[i].d = ggml::fp16(d);
      for (std::size_t j = 0; j < block_elems; ++j) {
        y[i].qs[j] = static_cast<std::int8_t>(std::round(xb[j] * id));
      }
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
      for (std::size_t j = 0; j < block_elems; ++j) {
        y[i * block_elems + j] = static_cast<float>(x[i].qs[j]) * d;
      }
    }
  }
};
static_assert(GgmlScheme<Q8_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
