// ggml Q5_K: 256 weights in 8 sub-blocks of 32, 5-bit levels with 6-bit
// scales and mins (specs/ggml-quants.md §4.11). Scale stages as Q4_K.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/q4_k.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct Q5_K {
  static constexpr std::string_view name = "q5_K";
  static constexpr GgmlType ggml_type = GgmlType::kQ5_K;
  static constexpr std::size_t block_elems = 256, block_bytes = 176;
  static constexpr float max_abs_input = ggml::kKQuantMaxAbsInput;
  using Stages = detail::ScaleMinK4<31>;
  struct Block {
    f16_bits d;               // scale of the scales
    f16_bits dmin;            // scale of the mins
    std::uint8_t scales[12];  // 8 six-bit scales and mins (ggml::pack_scale_min_k4)
    std::uint8_t qh[32];      // bit 4 of e = 64c + l: bit 2c of qh[l]; of 64c + 32 + l: bit 2c+1
    std::uint8_t qs[128];     // low 4 bits, placed as Q4_K
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::uint8_t L[256];
    float scales[8], mins[8], sw[8];
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      if (importance == nullptr) {
        Stages::search_ref(xb, -0.5f, 0.1f, 15, L, scales, mins);
        Stages::set_scales(scales, mins, y[i].scales, y[i].d, y[i].dmin);
      } else {
        Stages::search_weighted(xb, importance + i * block_elems, L, scales, mins, sw);
        Stages::set_scales_weighted(scales, mins, sw, true, y[i].scales, y[i].d, y[i].dmin);
      }
      Stages::requantize(xb, y[i].scales, y[i].d, y[i].dmin, L);
      pack(L, y[i]);
    }
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d) || f16_bits_not_finite(b[i].dmin)) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      const float min = ggml::fp32(x[i].dmin);
      float* yb = y + i * block_elems;
      for (int j = 0; j < 8; ++j) {
        std::uint8_t sc, m;
        ggml::get_scale_min_k4(j, x[i].scales, &sc, &m);
        const float d1 = d * static_cast<float>(sc);
        const float m1 = min * static_cast<float>(m);
        const std::uint8_t* q = x[i].qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) {
          const int h = (x[i].qh[l] >> j) & 1;
          yb[32 * j + l] = d1 * static_cast<float>(((q[l] >> shift) & 0xF) + 16 * h) - m1;
        }
      }
    }
  }

  static void pack(const std::uint8_t* L, Block& b) noexcept {
    for (int l = 0; l < 32; ++l) b.qh[l] = 0;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        int l1 = L[64 * c + l];
        int l2 = L[64 * c + 32 + l];
        if (l1 > 15) {
          l1 -= 16;
          b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | (1 << (2 * c)));
        }
        if (l2 > 15) {
          l2 -= 16;
          b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | (2 << (2 * c)));
        }
        b.qs[32 * c + l] = static_cast<std::uint8_t>(l1 | (l2 << 4));
      }
    }
  }
};
static_assert(GgmlScheme<Q5_K>);
static_assert(sizeof(Q5_K::Block) == 176);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
