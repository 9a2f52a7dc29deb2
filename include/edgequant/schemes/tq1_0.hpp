// ggml TQ1_0: 256 ternary weights packed five trits per byte (base 3) and one
// fp16 scale, 1.6875 bits per weight (specs/ggml-quants.md §4.14).
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

// `int xi = lroundf(v) + 1` as ggml runs it on x86-64: glibc's lroundf
// rounds half away from zero; for ±Inf/NaN (v = x/amax when 1/amax overflows,
// i.e. every |x| < 2^-128 in the block) it returns LONG_MIN, and the
// int conversion of LONG_MIN + 1 keeps its low 32 bits: 1.
EDGEQUANT_HOST_DEVICE inline int ternary_level(float v) noexcept {
  if (!(std::fabs(v) < 0x1p63f)) return 1;
  return static_cast<int>(static_cast<long long>(std::round(v)) + 1);
}

// Base-3 byte of 5 trits, first trit most significant, stretched onto 0..255
// by the ceiling division of §4.14 so that the decoder can read trit n as
// ((uint8)(b * 3^n) * 3) >> 8. uint8 arithmetic wraps as in ggml.
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t tq1_pack(std::uint8_t v) noexcept {
  return static_cast<std::uint8_t>((static_cast<unsigned>(v) * 256 + 242) / 243);
}

// The SIMD packer divides by 243 as (num * 69043) >> 24 in uint32 (69043 =
// ceil(2^24/243)); exact for every base-3 value of five trits, 0..242.
constexpr bool tq1_pack_by_multiply_is_exact() noexcept {
  for (std::uint32_t v = 0; v <= 242; ++v) {
    const std::uint32_t num = v * 256 + 242;
    if (((num * 69043u) >> 24) != num / 243) return false;
  }
  return true;
}
static_assert(tq1_pack_by_multiply_is_exact());

// Trit n (0 = most significant) of a packed byte, 0..2.
EDGEQUANT_HOST_DEVICE constexpr int tq1_trit(std::uint8_t b, int n) noexcept {
  constexpr std::uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const auto q = static_cast<std::uint8_t>(b * kPow3[n]);
  return (q * 3) >> 8;
}

}  // namespace ggml

struct TQ1_0 {
  static constexpr std::string_view name = "tq1_0";
  static constexpr GgmlType ggml_type = GgmlType::kTQ1_0;
  static constexpr std::size_t block_elems = 256, block_bytes = 54;
  struct Block {
    std::uint8_t qs[48];  // qs[m<32]: elements m+32n; qs[32+m]: 160+m+16n (n = 0..4)
    std::uint8_t qh[4];   // qh[j]: elements 240+j+4n (n = 0..3), 5th trit 0
    f16_bits d;           // scale = max |x|; trit t means (t-1)*d
  };

  // quantize_row_tq1_0_ref; the importance is ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float amax = 0.0f;
      for (int j = 0; j < 256; ++j) amax = ggml::max_of(amax, std::fabs(xb[j]));
      const float d = amax;
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[i].d = ggml::fp16(d);
      for (int m = 0; m < 32; ++m) y[i].qs[m] = pack5(xb + m, 32, id);
      for (int m = 0; m < 16; ++m) y[i].qs[32 + m] = pack5(xb + 160 + m, 16, id);
      for (int j = 0; j < 4; ++j) {
        std::uint8_t q = 0;
        for (int k = 0; k < 4; ++k) {
          q = static_cast<std::uint8_t>(q * 3 + ggml::ternary_level(xb[240 + j + 4 * k] * id));
        }
        y[i].qh[j] = ggml::tq1_pack(static_cast<std::uint8_t>(q * 3));
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
      for (int k = 0; k < 5; ++k) {
        for (int m = 0; m < 32; ++m) {
          yb[m + 32 * k] = static_cast<float>(ggml::tq1_trit(x[i].qs[m], k) - 1) * d;
        }
        for (int m = 0; m < 16; ++m) {
          yb[160 + m + 16 * k] = static_cast<float>(ggml::tq1_trit(x[i].qs[32 + m], k) - 1) * d;
        }
      }
      for (int k = 0; k < 4; ++k) {
        for (int j = 0; j < 4; ++j) {
          yb[240 + j + 4 * k] = static_cast<float>(ggml::tq1_trit(x[i].qh[j], k) - 1) * d;
        }
      }
    }
  }

 private:
  // Five trits of x[0], x[stride], ..., x[4*stride], first most significant.
  static std::uint8_t pack5(const float* x, int stride, float id) noexcept {
    std::uint8_t q = 0;
    for (int k = 0; k < 5; ++k) {
      q = static_cast<std::uint8_t>(q * 3 + ggml::ternary_level(x[k * stride] * id));
    }
    return ggml::tq1_pack(q);
  }
};
static_assert(GgmlScheme<TQ1_0>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
