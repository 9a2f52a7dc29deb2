// ggml Q8_1: 32 int8 values, an fp16 scale and the fp16 of scale * Σq; the
// activation type of the Q4_1/Q5_1 dot products (specs/ggml-quants.md §4.7, §5).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/q8_0.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct Q8_1 {
  static constexpr std::string_view name = "q8_1";
  static constexpr GgmlType ggml_type = GgmlType::kQ8_1;
  static constexpr std::size_t block_elems = 32, block_bytes = 36;
  struct Block {
    f16_bits d;          // scale = amax / 127
    f16_bits s;          // d * Σqs (may overflow to ±Inf: ggml keeps it)
    std::int8_t qs[32];  // x[j] ≈ qs[j] * d
  };

  // quantize_row_q8_1_ref: as Q8_0's reference (round half away from zero)
  // plus s. The importance weights are ignored.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      for (std::size_t j = 0; j < block_elems; ++j) amax = ggml::max_of(amax, std::fabs(xb[j]));
      const float d = amax / ((1 << 7) - 1);
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[i].d = ggml::fp16(d);
      const bool overflowed = ggml::inverse_scale_overflowed(id);  // levels 0, see there
      int sum = 0;
      for (std::size_t j = 0; j < block_elems; ++j) {
        y[i].qs[j] = overflowed ? 0 : static_cast<std::int8_t>(std::round(xb[j] * id));
        sum += y[i].qs[j];
      }
      y[i].s = ggml::fp16(static_cast<float>(sum) * d);
    }
  }

  // Activation quantizer (x86 quantize_row_q8_1): id = 127/amax, half to even.
  static void quantize_activation_ref(const float* x, Block* y, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      float d;
      const int sum = ggml::q8_activation_block(x + i * block_elems, y[i].qs, &d);
      y[i].d = ggml::fp16(d);
      y[i].s = ggml::fp16(d * static_cast<float>(sum));
    }
  }

  // Only d: ggml_validate_row_data has no Q8_1 rule, and s = ±Inf is what
  // ggml computes for large blocks (golden Q8_1.act.q rows 40, 45).
  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d)) return i;
    }
    return nb;
  }

  // ggml has no to_float for Q8_1; this is q * d, as its dot products read it.
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
static_assert(GgmlScheme<Q8_1> && HasActivation<Q8_1>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
