// ggml IQ4_XS: 256 weights as IQ4_NL table indices with a 6-bit scale per 32
// and one fp16 super-scale (specs/ggml-quants.md §4.24).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/iq4_nl.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct IQ4_XS {
  static constexpr std::string_view name = "iq4_xs";
  static constexpr GgmlType ggml_type = GgmlType::kIQ4_XS;
  static constexpr std::size_t block_elems = 256, block_bytes = 136;
  struct Block {
    f16_bits d;                // super-block scale
    std::uint16_t scales_h;    // bits 2ib..2ib+1: high 2 bits of sub-block ib's scale
    std::uint8_t scales_l[4];  // low 4 bits; even ib low nibble of byte ib/2
    std::uint8_t qs[128];      // 16 bytes per 32-sub-block, Q4_0 nibble order
  };

  // quantize_iq4_xs: per-32 scale search (ntry 7), then the scales are
  // quantized to 6 bits against d = -max_scale/32 and every block re-indexed.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    float weight[32];
    float scales[8];
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xs = x + ibl * block_elems;
      const float sigma2 = ggml::iq4_sigma2(xs, 256);
      for (int ib = 0; ib < 8; ++ib) {
        const float* qw = importance ? importance + ibl * block_elems + 32 * ib : nullptr;
        ggml::iq4_weights(xs + 32 * ib, qw, sigma2, weight);
        scales[ib] = ggml::iq4_block_scale(xs + 32 * ib, weight);
      }
      finish_block(xs, scales, y[ibl], pack_indices);
    }
  }

  // The common tail, from the 8 sub-block scales: d = -max_scale/32 (an
  // all-zero block gives -0.0, 0x8000, as ggml), 6-bit scales, then
  // pack(xb, idl, qs) writes the 16 index bytes of the 32 values xb scaled by
  // idl (the SIMD path passes its own packer).
  template <class Pack>
  static void finish_block(const float* xs, const float* scales, Block& out, Pack&& pack) {
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < 8; ++ib) {
      const float abs_d = std::fabs(scales[ib]);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = scales[ib];
      }
    }
    const float d = -max_scale / 32;
    out.d = ggml::fp16(d);
    const float id = d != 0.f ? 1 / d : 0.f;
    out.scales_h = 0;
    bool all_finite = true;
    for (int ib = 0; ib < 8; ++ib) {
      all_finite = all_finite && std::isfinite(scales[ib]);
      int l = ggml::nearest_int(id * scales[ib]);
      l = ggml::max_of(-32, ggml::min_of(31, l));
      const float dl = d * static_cast<float>(l);
      pack(xs + 32 * ib, dl != 0.f ? 1 / dl : 0.f, out.qs + 16 * ib);
      set_scale(out, ib, l + 32);
    }
    // Deliberate deviation: a sub-block whose scale search overflowed (its
    // sums pass FLT_MAX: |x| beyond ~1e12, ~1e18 with importance) has a NaN
    // scale, which ggml silently turns into l = 0 (the sub-block decodes as
    // zeros), often under a finite d (a whole super-block of zeros when every
    // scale is NaN). Marking d NaN makes the validator reject the block, so
    // such input is refused with an error instead of losing data. Blocks ggml
    // itself writes with an Inf/NaN d, and all blocks with finite scales, keep
    // ggml's bytes.
    if (!all_finite && !f16_bits_not_finite(out.d)) out.d = 0x7E00;
  }

  // Index bytes of 32 values scaled by id: x[j] low nibble, x[j+16] high.
  static void pack_indices(const float* xb, float id, std::uint8_t* qs) noexcept {
    for (int j = 0; j < 16; ++j) {
      const int lo = ggml::best_index_iq4nl(id * xb[j]);
      const int hi = ggml::best_index_iq4nl(id * xb[j + 16]);
      qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
    }
  }

  // Stores the biased 6-bit scale ls of sub-block ib (scales_h must start 0).
  static void set_scale(Block& b, int ib, int ls) noexcept {
    const auto lo = static_cast<std::uint8_t>(ls & 0xF);
    if (ib % 2 == 0) {
      b.scales_l[ib / 2] = lo;
    } else {
      b.scales_l[ib / 2] = static_cast<std::uint8_t>(b.scales_l[ib / 2] | (lo << 4));
    }
    b.scales_h = static_cast<std::uint16_t>(b.scales_h | ((ls >> 4) << (2 * ib)));
  }

  // Biased 6-bit scale of sub-block ib (the value is ls - 32).
  EDGEQUANT_HOST_DEVICE static int scale_of(const Block& b, int ib) noexcept {
    return ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
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
      for (int ib = 0; ib < 8; ++ib) {
        const float dl = d * static_cast<float>(scale_of(x[i], ib) - 32);
        const std::uint8_t* qs = x[i].qs + 16 * ib;
        float* yb = y + i * block_elems + 32 * ib;
        for (int j = 0; j < 16; ++j) {
          yb[j] = dl * static_cast<float>(ggml::kValuesIq4nl[qs[j] & 0x0F]);
          yb[j + 16] = dl * static_cast<float>(ggml::kValuesIq4nl[qs[j] >> 4]);
        }
      }
    }
  }
};
static_assert(GgmlScheme<IQ4_XS>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
