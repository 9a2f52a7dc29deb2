// ggml NVFP4: 64 fp4 E2M1 weights in four groups of 16, each with a UE4M3
// scale, 4.5 bits per weight (specs/ggml-quants.md §4.26).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/mxfp4.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {
namespace ggml {

// ggml_ue4m3_to_fp32 (§0.2): half the unsigned E4M3 value (the fp4 table is
// doubled); 0x00 and 0x7F decode to 0; bit 7 is ignored except that 0xFF is
// not 0x7F. Every value is exact, so this is built from the bits.
EDGEQUANT_HOST_DEVICE constexpr float ue4m3_to_fp32(std::uint8_t x) noexcept {
  if (x == 0 || x == 0x7F) return 0.0f;
  const int exp = (x >> 3) & 0xF;
  const int man = x & 0x7;
  if (exp == 0) return static_cast<float>(man) * 0x1p-10f;  // man * 2^-9 * 0.5
  // (1 + man/8) * 2^(exp-7) * 0.5
  return std::bit_cast<float>(static_cast<std::uint32_t>(exp - 8 + 127) << 23 |
                              static_cast<std::uint32_t>(man) << 20);
}

// ggml_fp32_to_ue4m3 (§0.2) with its quirks kept on purpose: ties round up
// from mantissa bit 19 alone (1.0625 -> 0x39), every v >= 248 saturates to
// 0x7E (448), and v in [7.5*2^-9, 2^-6) encodes to 7 instead of 8.
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t fp32_to_ue4m3(float v) noexcept {
  if (!(v > 0.0f)) return 0;
  if (v > 448.0f) v = 448.0f;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
  int exp = static_cast<int>((bits >> 23) & 0xFF) - 127 + 7;
  if (exp <= 0) {  // UE4M3 subnormal: man * 2^-9
    int man = static_cast<int>(v * 512.0f + 0.5f);
    if (man > 7) man = 7;
    if (man < 1) return 0;
    return static_cast<std::uint8_t>(man);
  }
  if (exp >= 15) return 0x7E;
  int man = static_cast<int>((bits >> 20) & 0x7) + static_cast<int>((bits >> 19) & 1);
  if (man > 7) {
    man = 0;
    if (++exp >= 15) return 0x7E;
  }
  return static_cast<std::uint8_t>((exp << 3) | man);
}

}  // namespace ggml

struct NVFP4 {
  static constexpr std::string_view name = "nvfp4";
  static constexpr GgmlType ggml_type = GgmlType::kNVFP4;
  static constexpr std::size_t block_elems = 64, block_bytes = 36;
  struct Block {
    std::uint8_t d[4];    // UE4M3 scale of elements 16s..16s+15
    std::uint8_t qs[32];  // qs[8s+j]: code of 16s+j low nibble, 16s+8+j high nibble
  };

  // quantize_row_nvfp4_ref; the importance is ignored, as in ggml.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      for (int s = 0; s < 4; ++s) {
        const float* xb = x + i * block_elems + 16 * s;
        float amax = 0.0f;
        for (int j = 0; j < 16; ++j) {
          if (amax < std::fabs(xb[j])) amax = std::fabs(xb[j]);
        }
        const std::uint8_t ue = ggml::fp32_to_ue4m3(amax / 6.0f);
        y[i].d[s] = ue;
        const float d = ggml::ue4m3_to_fp32(ue);
        for (int j = 0; j < 8; ++j) {
          const int lo = ggml::best_index_fp4(xb[j], d);
          const int hi = ggml::best_index_fp4(xb[j + 8], d);
          y[i].qs[8 * s + j] = static_cast<std::uint8_t>(lo | (hi << 4));
        }
      }
    }
  }

  // ggml_validate_row_data checks nothing for NVFP4 (every byte is a valid
  // scale), so there is no first_invalid_block.

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      for (int s = 0; s < 4; ++s) {
        const float d = ggml::ue4m3_to_fp32(x[i].d[s]);
        float* yb = y + i * block_elems + 16 * s;
        for (int j = 0; j < 8; ++j) {
          yb[j] = static_cast<float>(ggml::kValuesFp4[x[i].qs[8 * s + j] & 0x0F]) * d;
          yb[j + 8] = static_cast<float>(ggml::kValuesFp4[x[i].qs[8 * s + j] >> 4]) * d;
        }
      }
    }
  }
};
static_assert(GgmlScheme<NVFP4>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
