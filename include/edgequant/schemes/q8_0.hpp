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

namespace ggml {
// One 32-element block of the x86 CPU backend's Q8_0/Q8_1 activation
// quantizer (specs/ggml-quants.md §5): d = amax/127, id = 127/amax (not 1/d),
// q = round half to even, saturated to int8 as the pack instructions do.
// Returns Σq (Q8_1's s). If id overflowed to Inf, cvtps2dq gives 0x80000000
// for every lane: q = -128 and the wrapped int32 sum is 0.
inline int q8_activation_block(const float* x, std::int8_t* qs, float* d) noexcept {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = max_of(amax, std::fabs(x[j]));
  *d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  if (inverse_scale_overflowed(id)) {
    for (int j = 0; j < 32; ++j) qs[j] = -128;
    return 0;
  }
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    const int q = max_of(-128, min_of(127, nearest_int(x[j] * id)));
    qs[j] = static_cast<std::int8_t>(q);
    sum += q;
  }
  return sum;
}
}  // namespace ggml

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
      const bool overflowed = ggml::inverse_scale_overflowed(id);
      for (std::size_t j = 0; j < block_elems; ++j) {
        y[i].qs[j] = overflowed ? 0 : static_cast<std::int8_t>(std::round(xb[j] * id));
      }
    }
  }

  // Activation quantizer (x86 quantize_row_q8_0): id = 127/amax, half to even.
  static void quantize_activation_ref(const float* x, Block* y, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      float d;
      ggml::q8_activation_block(x + i * block_elems, y[i].qs, &d);
      y[i].d = ggml::fp16(d);
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
