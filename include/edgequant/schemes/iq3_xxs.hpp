// ggml IQ3_XXS: 3.0625 bpw, 4-element groups on a 256-point grid with
// even-parity signs per 8 (specs/ggml-quants.md §4.19). Importance optional.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/iq_grid.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct IQ3_XXS {
  static constexpr std::string_view name = "iq3_xxs";
  static constexpr GgmlType ggml_type = GgmlType::kIQ3_XXS;
  static constexpr std::size_t block_elems = 256, block_bytes = 98;
  static constexpr iq::GridId grid = iq::GridId::kIQ3XXS;
  struct Block {
    f16_bits d;
    // [0,64): grid index of each group of 4; [64,96): 8 LE uint32 words, one
    // per 32-sub-block: four 7-bit sign fields | 4-bit scale << 28.
    std::uint8_t qs[96];
  };

  // quantize_row_iq3_xxs_impl(256, ...): weights qw*sqrt(sigma2+x²) or x².
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance) noexcept {
    using ggml::max_of;
    using ggml::min_of;
    using ggml::nearest_int;
    const iq::GridSearch& gs = iq::GridSearch::get(grid);
    constexpr int kMaxQ = 8;
    float scales[8], weight[32], xval[32], waux[32];
    std::int8_t L[32], Laux[32];
    bool on_grid[8], on_grid_aux[8];
    std::uint8_t block_signs[4];
    std::uint8_t q3[64];
    std::uint32_t scales_and_signs[8];
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xbl = x + ibl * block_elems;
      y[ibl].d = ggml::fp16(0.f);
      std::memset(q3, 0, sizeof(q3));
      std::memset(scales_and_signs, 0, sizeof(scales_and_signs));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        if (importance) {
          const float* qw = importance + ibl * block_elems + 32 * ib;
          for (int i = 0; i < 32; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        } else {
          for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
        }
        for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
        for (int k = 0; k < 4; ++k) {
          block_signs[k] = iq::parity_signs8(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        }
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = max_of(max, xval[i]);
        std::memset(L, 0, sizeof(L));
        if (max < iq::kEpsIQ3XXS) {
          scales[ib] = 0;
          continue;
        }
        float best = 0;
        float scale = max / (2 * kMaxQ - 1);
        for (bool& g : on_grid) g = true;
        for (int is = -15; is <= 15; ++is) {
          const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.2f) / max;
          const float this_scale = 1 / id;
          for (int k = 0; k < 8; ++k) {
            for (int i = 0; i < 4; ++i) {
              const int l = nearest_int(0.5f * (id * xval[4 * k + i] - 1));
              Laux[4 * k + i] = static_cast<std::int8_t>(max_of(0, min_of(kMaxQ - 1, l)));
            }
            const int u = iq::pack_levels(Laux + 4 * k, 4, 3);
            on_grid_aux[k] = gs.map[u] >= 0;
            if (!on_grid_aux[k]) {
              iq::find_best_neighbour(gs, u, xval + 4 * k, waux + 4 * k, this_scale, Laux + 4 * k, aborts);
            }
          }
          float sumqx = 0, sumq2 = 0;
          for (int i = 0; i < 32; ++i) {
            const float w = weight[i];
            const float q = static_cast<float>(2 * Laux[i] + 1);
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
          }
          if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::memcpy(L, Laux, 32);
            std::memcpy(on_grid, on_grid_aux, sizeof(on_grid));
          }
        }
        bool any_off = false;
        for (bool g : on_grid) any_off |= !g;
        if (any_off && scale > 0) {
          const float id = 1 / scale;
          for (int k = 0; k < 8; ++k) {
            if (on_grid[k]) continue;
            for (int i = 0; i < 4; ++i) {
              const int l = nearest_int(0.5f * (id * xval[4 * k + i] - 1));
              L[4 * k + i] = static_cast<std::int8_t>(max_of(0, min_of(kMaxQ - 1, l)));
            }
            const int u = iq::pack_levels(L + 4 * k, 4, 3);
            if (gs.map[u] < 0) {
              iq::find_best_neighbour(gs, u, xval + 4 * k, waux + 4 * k, scale, L + 4 * k, aborts);
            }
          }
          float sumqx = 0, sumq2 = 0;
          for (int i = 0; i < 32; ++i) {
            const float w = weight[i];
            const float q = static_cast<float>(2 * L[i] + 1);
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
          }
          if (sumq2 > 0) scale = sumqx / sumq2;
        }
        if (scale < 0) {
          scale = -scale;
          for (auto& s : block_signs) s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 8; ++k) {
          q3[8 * ib + k] = static_cast<std::uint8_t>(iq::grid_index_of(gs, L + 4 * k, aborts));
        }
        scales_and_signs[ib] = block_signs[0] | block_signs[1] << 7 | block_signs[2] << 14 |
                               static_cast<std::uint32_t>(block_signs[3]) << 21;
        aborts |= !(scale >= 0);  // ggml: GGML_ASSERT(scale >= 0)
        scales[ib] = scale;
        max_scale = max_of(max_scale, scale);
      }
      finish_block(y[ibl], q3, scales_and_signs, scales, max_scale);
      if (aborts) y[ibl].d = iq::kAbortScale;
    }
  }

  // Step 6 of §4.19: d carries the 1.0125 fudge, the nibbles do not.
  static void finish_block(Block& b, const std::uint8_t (&q3)[64], std::uint32_t (&sas)[8],
                           const float (&scales)[8], float max_scale) noexcept {
    if (!max_scale) {
      std::memset(b.qs, 0, sizeof(b.qs));
      return;
    }
    const float d = max_scale / 31;
    b.d = ggml::fp16(d * 1.0125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
      sas[ib] |= static_cast<std::uint32_t>(iq::scale_nibble(id, scales[ib], 15)) << 28;
    }
    std::memcpy(b.qs, q3, 64);
    for (int ib = 0; ib < 8; ++ib) {
      for (int j = 0; j < 4; ++j) b.qs[64 + 4 * ib + j] = static_cast<std::uint8_t>(sas[ib] >> (8 * j));
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
      const std::uint8_t* qs = x[i].qs;
      for (int ib = 0; ib < 8; ++ib) {
        const std::uint8_t* ss = x[i].qs + 64 + 4 * ib;
        const std::uint32_t aux = ss[0] | ss[1] << 8 | ss[2] << 16 | static_cast<std::uint32_t>(ss[3]) << 24;
        const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l) {
          const std::uint8_t signs = iq::k_ksigns_iq2xs[(aux >> (7 * l)) & 127];
          const std::uint32_t g1 = iq::k_iq3xxs_grid[qs[2 * l]];
          const std::uint32_t g2 = iq::k_iq3xxs_grid[qs[2 * l + 1]];
          for (int j = 0; j < 4; ++j) {
            y[j] = db * static_cast<float>((g1 >> (8 * j)) & 255) * (signs & (1u << j) ? -1.f : 1.f);
            y[j + 4] = db * static_cast<float>((g2 >> (8 * j)) & 255) *
                       (signs & (1u << (j + 4)) ? -1.f : 1.f);
          }
          y += 8;
        }
        qs += 8;
      }
    }
  }
};
static_assert(GgmlScheme<IQ3_XXS>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
