// ggml Q5_0: 32 5-bit weights (offset 16) and one fp16 scale
// (specs/ggml-quants.md §4.4).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

namespace ggml {
// Splits 32 5-bit levels into Q5 storage: low nibbles as Q4_0 (x[j] low,
// x[j+16] high), bit 4 of level j into bit j of the little-endian qh word.
inline void pack_q5(const std::uint8_t* L, std::uint8_t* qs, std::uint8_t* qh) noexcept {
  std::uint32_t h = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<std::uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
    h |= static_cast<std::uint32_t>((L[j] & 0x10u) >> 4) << j;
    h |= static_cast<std::uint32_t>((L[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<std::uint8_t>(h >> (8 * k));
}
EDGEQUANT_HOST_DEVICE inline std::uint32_t load_qh(const std::uint8_t* qh) noexcept {
  return static_cast<std::uint32_t>(qh[0]) | static_cast<std::uint32_t>(qh[1]) << 8 |
         static_cast<std::uint32_t>(qh[2]) << 16 | static_cast<std::uint32_t>(qh[3]) << 24;
}
}  // namespace ggml

struct Q5_0 {
  static constexpr std::string_view name = "q5_0";
  static constexpr GgmlType ggml_type = GgmlType::kQ5_0;
  static constexpr std::size_t block_elems = 32, block_bytes = 22;
  struct Block {
    f16_bits d;           // scale
    std::uint8_t qh[4];   // bit j (LE uint32) = bit 4 of x[j]
    std::uint8_t qs[16];  // low 4 bits: x[j] low nibble, x[j+16] high; value (q - 16) * d
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::uint8_t L[32];
    if (importance == nullptr) {
      // quantize_row_q5_0_ref: d = max / -16 from the signed value of largest |x|.
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
        const float d = max / -16;
        const float id = d != 0.f ? 1.0f / d : 0.0f;
        y[i].d = ggml::fp16(d);
        const bool overflowed = ggml::inverse_scale_overflowed(id);
        for (int j = 0; j < 32; ++j) {
          L[j] = overflowed
                     ? 0
                     : static_cast<std::uint8_t>(ggml::min_of(
                           31, static_cast<int>(static_cast<std::int8_t>(xb[j] * id + 16.5f))));
        }
        ggml::pack_q5(L, y[i].qs, y[i].qh);
      }
      return;
    }
    // quantize_row_q5_0_impl: as Q4_0's, with 16 levels each side.
    const float sigma2 = ggml::row_sigma2(x, n);
    for (std::size_t ib = 0; ib < n / block_elems; ++ib) {
      quantize_block_weighted(x + ib * block_elems, importance + ib * block_elems, sigma2, y[ib]);
    }
  }

  // One block of quantize_row_q5_0_impl (sigma2 is the whole row's).
  static void quantize_block_weighted(const float* xb, const float* qw, float sigma2,
                                      Block& y) noexcept {
    float weight[32];
    std::int8_t Ls[32];
    std::uint8_t L[32];
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    y.d = ggml::fp16(ggml::make_qx_quants(32, 16, xb, Ls, weight));
    for (int j = 0; j < 32; ++j) L[j] = static_cast<std::uint8_t>(Ls[j]);
    ggml::pack_q5(L, y.qs, y.qh);
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
      const std::uint32_t qh = ggml::load_qh(x[i].qh);
      for (int j = 0; j < 16; ++j) {
        const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
        const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
        const int x0 = ((x[i].qs[j] & 0x0F) | h0) - 16;
        const int x1 = ((x[i].qs[j] >> 4) | h1) - 16;
        y[i * block_elems + j] = static_cast<float>(x0) * d;
        y[i * block_elems + j + 16] = static_cast<float>(x1) * d;
      }
    }
  }
};
static_assert(GgmlScheme<Q5_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
