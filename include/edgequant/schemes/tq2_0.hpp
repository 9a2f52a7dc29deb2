// ggml TQ2_0: 256 ternary weights at 2 bits each and one fp16 scale,
// 2.0625 bits per weight (specs/ggml-quants.md §4.15).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/scheme.hpp"
#include "edgequant/schemes/tq1_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct TQ2_0 {
  static constexpr std::string_view name = "tq2_0";
  static constexpr GgmlType ggml_type = GgmlType::kTQ2_0;
  static constexpr std::size_t block_elems = 256, block_bytes = 66;
  struct Block {
    std::uint8_t qs[64];  // qs[32c+m] bits 2n..2n+1: element 128c+m+32n; t means (t-1)*d
    f16_bits d;           // scale = max |x|
  };

  // quantize_row_tq2_0_ref; the importance is ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      for (int j = 0; j < 256; ++j) amax = ggml::max_of(amax, std::fabs(xb[j]));
      const float d = amax;
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[i].d = ggml::fp16(d);
      for (int c = 0; c < 2; ++c) {
        for (int m = 0; m < 32; ++m) {
          unsigned q = 0;
          for (int k = 0; k < 4; ++k) {
            const int t = ggml::ternary_level(xb[128 * c + m + 32 * k] * id);
            q += static_cast<unsigned>(t & 3) << (2 * k);
          }
          y[i].qs[32 * c + m] = static_cast<std::uint8_t>(q);
        }
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
      float* yb = y + i * block_elems;
      for (int c = 0; c < 2; ++c) {
        for (int k = 0; k < 4; ++k) {
          for (int m = 0; m < 32; ++m) {
            const int q = (x[i].qs[32 * c + m] >> (2 * k)) & 3;
            yb[128 * c + 32 * k + m] = static_cast<float>(q - 1) * d;
          }
        }
      }
    }
  }
};
static_assert(GgmlScheme<TQ2_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
