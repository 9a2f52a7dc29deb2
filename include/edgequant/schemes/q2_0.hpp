// ggml Q2_0: 64 weights at 2 bits (levels -1, 0, +1 of d = max |x|) and one
// fp16 scale, 2.25 bits per weight (specs/ggml-quants.md §4.28).
#pragma once

#include <climits>
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

// `(int)roundf(v)` as it runs on x86-64: half away from zero; cvttss2si turns
// NaN and out-of-range values into INT_MIN (C leaves them undefined). Q2_0
// reaches them only when 1/amax overflows (every |x| < 2^-128 in a block).
EDGEQUANT_HOST_DEVICE inline int x86_round_to_int(float v) noexcept {
  const float r = std::round(v);
  if (!(r >= -0x1p31f && r < 0x1p31f)) return INT_MIN;
  return static_cast<int>(r);
}

// Q2_0 level 0..2 (3 is never produced) of x*id: clamp(round(x*id) + 1, 0, 3).
EDGEQUANT_HOST_DEVICE inline int q2_0_level(float v) noexcept {
  const int r = x86_round_to_int(v);
  if (r == INT_MIN) return 0;  // INT_MIN + 1 clamps to 0
  const int q = r + 1;
  return q < 0 ? 0 : (q > 3 ? 3 : q);
}

}  // namespace ggml

struct Q2_0 {
  static constexpr std::string_view name = "q2_0";
  static constexpr GgmlType ggml_type = GgmlType::kQ2_0;
  static constexpr std::size_t block_elems = 64, block_bytes = 18;
  struct Block {
    f16_bits d;           // scale = max |x|; level q means (q-1)*d
    std::uint8_t qs[16];  // element e at bits 2(e%4) of byte e/4
  };

  // quantize_row_q2_0_ref; the importance is ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      for (int j = 0; j < 64; ++j) {
        const float a = std::fabs(xb[j]);
        if (a > amax) amax = a;
      }
      const float d = amax;
      const float id = d > 0.0f ? 1.0f / d : 0.0f;
      y[i].d = ggml::fp16(d);
      for (int k = 0; k < 16; ++k) {
        unsigned q = 0;
        for (int s = 0; s < 4; ++s) {
          q |= static_cast<unsigned>(ggml::q2_0_level(xb[4 * k + s] * id)) << (2 * s);
        }
        y[i].qs[k] = static_cast<std::uint8_t>(q);
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
      for (int j = 0; j < 64; ++j) {
        const int q = (x[i].qs[j / 4] >> (2 * (j % 4))) & 3;
        y[i * block_elems + j] = static_cast<float>(q - 1) * d;
      }
    }
  }
};
static_assert(GgmlScheme<Q2_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
