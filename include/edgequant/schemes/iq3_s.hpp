// ggml IQ3_S: 3.4375 bpw, 4-element groups on a 512-point grid with explicit
// signs (specs/ggml-quants.md §4.20), including ggml's write-cursor quirk for
// all-zero sub-blocks. Importance optional.
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

struct IQ3_S {
  static constexpr std::string_view name = "iq3_s";
  static constexpr GgmlType ggml_type = GgmlType::kIQ3_S;
  static constexpr std::size_t block_elems = 256, block_bytes = 110;
  static constexpr iq::GridId grid = iq::GridId::kIQ3S;
  struct Block {
    f16_bits d;
    std::uint8_t qs[64];      // low 8 bits of the 9-bit grid index of each group of 4
    std::uint8_t qh[8];       // bit k of qh[ib]: index bit 8 of group k of sub-block ib
    std::uint8_t signs[32];   // sign mask per 8 elements
    std::uint8_t scales[4];   // 4 bits per 32-sub-block, even ib in the low nibble
  };

  // quantize_row_iq3_s_impl(32, ...): weights qw*sqrt(sigma2+x²) or x².
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
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xbl = x + ibl * block_elems;
      Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      // ggml advances these cursors only for sub-blocks it does not skip (§4.20).
      std::uint8_t* qs = b.qs;
      std::uint8_t* signs = b.signs;
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
        for (int k = 0; k < 4; ++k) block_signs[k] = iq::plain_signs8(xb + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = max_of(max, xval[i]);
        std::memset(L, 0, sizeof(L));
        if (!max) {
          scales[ib] = 0;
          continue;
        }
        float best = 0;
        float scale = max / (2 * kMaxQ - 1);
        for (bool& g : on_grid) g = false;
        for (int is = -9; is <= 9; ++is) {
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
          // Unlike IQ3_XXS, every group is redone, on the grid or not.
          const float id = 1 / scale;
          for (int k = 0; k < 8; ++k) {
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
          for (auto& s : block_signs) s = static_cast<std::uint8_t>(~s);
        }
        for (int k = 0; k < 8; ++k) {
          const int g = iq::grid_index_of(gs, L + 4 * k, aborts);
          qs[k] = static_cast<std::uint8_t>(g & 255);
          b.qh[ib] |= static_cast<std::uint8_t>((g >> 8) << k);
        }
        qs += 8;
        std::memcpy(signs, block_signs, 4);
        signs += 4;
        aborts |= !(scale >= 0);  // ggml: GGML_ASSERT(scale >= 0)
        scales[ib] = scale;
        max_scale = max_of(max_scale, scale);
      }
      finish_block(b, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  // Last step of §4.20: d carries the 1.033 fudge, the nibbles do not.
  static void finish_block(Block& b, const float (&scales)[8], float max_scale) noexcept {
    if (!max_scale) return;
    const float d = max_scale / 31;
    b.d = ggml::fp16(d * 1.033f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ib += 2) {
      const int l1 = iq::scale_nibble(id, scales[ib], 15);
      const int l2 = iq::scale_nibble(id, scales[ib + 1], 15);
      b.scales[ib / 2] = static_cast<std::uint8_t>(l1 | (l2 << 4));
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
      for (int ib = 0; ib < 8; ++ib) {
        const float db = d * static_cast<float>(1 + 2 * ((x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
        const std::uint8_t* qs = x[i].qs + 8 * ib;
        const std::uint8_t* signs = x[i].signs + 4 * ib;
        for (int l = 0; l < 4; ++l) {
          const std::uint32_t g1 = iq::k_iq3s_grid[qs[2 * l] | ((x[i].qh[ib] << (8 - 2 * l)) & 256)];
          const std::uint32_t g2 =
              iq::k_iq3s_grid[qs[2 * l + 1] | ((x[i].qh[ib] << (7 - 2 * l)) & 256)];
          for (int j = 0; j < 4; ++j) {
            y[j] = db * static_cast<float>((g1 >> (8 * j)) & 255) *
                   (signs[l] & (1u << j) ? -1.f : 1.f);
            y[j + 4] = db * static_cast<float>((g2 >> (8 * j)) & 255) *
                       (signs[l] & (1u << (j + 4)) ? -1.f : 1.f);
          }
          y += 8;
        }
      }
    }
  }
};
static_assert(GgmlScheme<IQ3_S>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
