// ggml IQ2_S: 2.5625 bpw, 8-element groups on a 1024-point grid with explicit
// 8-bit signs and 16-element sub-block scales (specs/ggml-quants.md §4.18).
// Importance weights optional.
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

struct IQ2_S {
  static constexpr std::string_view name = "iq2_s";
  static constexpr GgmlType ggml_type = GgmlType::kIQ2_S;
  static constexpr std::size_t block_elems = 256, block_bytes = 82;
  static constexpr iq::GridId grid = iq::GridId::kIQ2S;
  struct Block {
    f16_bits d;
    std::uint8_t qs[64];      // [0,32): low 8 index bits of group g; [32,64): sign mask of g
    std::uint8_t qh[8];       // bits 2(g%4)..+1 of qh[g/4]: index bits 8..9
    std::uint8_t scales[8];   // per 32: low nibble first 16 elements, high nibble second
  };

  // quantize_row_iq2_s_impl (weights qw*sqrt(sigma2+x²), or 0.25*sigma2+x²).
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance) noexcept {
    using ggml::max_of;
    using ggml::min_of;
    using ggml::nearest_int;
    const iq::GridSearch& gs = iq::GridSearch::get(grid);
    constexpr int kMaxQ = 3;
    float scales[16], weight[16], xval[16], waux[16];
    std::int8_t L[16], Laux[16];
    bool on_grid[2], on_grid_aux[2];
    std::uint8_t block_signs[2];
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xbl = x + ibl * block_elems;
      Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        if (importance) {
          const float* qw = importance + ibl * block_elems + 16 * ib;
          for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
        } else {
          for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
        for (int k = 0; k < 2; ++k) block_signs[k] = iq::plain_signs8(xb + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = max_of(max, xval[i]);
        std::memset(L, 0, sizeof(L));
        if (max < iq::kEpsIQ2S) {
          scales[ib] = 0;
          continue;
        }
        float best = 0;
        float scale = max / (2 * kMaxQ - 1);
        on_grid[0] = on_grid[1] = true;
        for (int is = -9; is <= 9; ++is) {
          const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.1f) / max;
          const float this_scale = 1 / id;
          for (int k = 0; k < 2; ++k) {
            for (int i = 0; i < 8; ++i) {
              const int l = nearest_int(0.5f * (id * xval[8 * k + i] - 1));
              Laux[8 * k + i] = static_cast<std::int8_t>(max_of(0, min_of(kMaxQ - 1, l)));
            }
            const int u = iq::pack_levels(Laux + 8 * k, 8, 2);
            on_grid_aux[k] = gs.map[u] >= 0;
            if (!on_grid_aux[k]) {
              iq::find_best_neighbour(gs, u, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k, aborts);
            }
          }
          float sumqx = 0, sumq2 = 0;
          for (int i = 0; i < 16; ++i) {
            const float w = weight[i];
            const float q = static_cast<float>(2 * Laux[i] + 1);
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
          }
          if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::memcpy(L, Laux, 16);
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
          }
        }
        if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
          const float id = 1 / scale;
          for (int k = 0; k < 2; ++k) {
            if (on_grid[k]) continue;
            for (int i = 0; i < 8; ++i) {
              const int l = nearest_int(0.5f * (id * xval[8 * k + i] - 1));
              L[8 * k + i] = static_cast<std::int8_t>(max_of(0, min_of(kMaxQ - 1, l)));
            }
            const int u = iq::pack_levels(L + 8 * k, 8, 2);
            if (gs.map[u] < 0) {
              iq::find_best_neighbour(gs, u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k, aborts);
            }
          }
          float sumqx = 0, sumq2 = 0;
          for (int i = 0; i < 16; ++i) {
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
        for (int k = 0; k < 2; ++k) {
          const int g = iq::grid_index_of(gs, L + 8 * k, aborts);
          const int i8 = 2 * ib + k;
          b.qs[i8] = static_cast<std::uint8_t>(g & 255);
          b.qh[i8 / 4] |= static_cast<std::uint8_t>((g >> 8) << (2 * (i8 % 4)));
          b.qs[32 + i8] = block_signs[k];
        }
        aborts |= !(scale >= 0);  // ggml: GGML_ASSERT(scale >= 0)
        scales[ib] = scale;
        max_scale = max_of(max_scale, scale);
      }
      finish_block(b, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  // Last step of §4.18: d carries the 0.9875 fudge, the nibbles do not.
  static void finish_block(Block& b, const float (&scales)[16], float max_scale) noexcept {
    if (!max_scale) return;
    const float d = max_scale / 31;
    b.d = ggml::fp16(d * 0.9875f);
    const float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib) {
      const int l = iq::scale_nibble(id, scales[ib], 15);
      if (ib % 2 == 0) {
        b.scales[ib / 2] = static_cast<std::uint8_t>(l);
      } else {
        b.scales[ib / 2] |= static_cast<std::uint8_t>(l << 4);
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
      for (int ib = 0; ib < 8; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(x[i].scales[ib] & 0xf)) * 0.25f,
                             d * (0.5f + static_cast<float>(x[i].scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l) {
          const int g = 4 * ib + l;
          const int idx = x[i].qs[g] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
          const std::uint64_t grid_entry = iq::k_iq2s_grid[idx];
          const std::uint8_t signs = x[i].qs[32 + g];
          for (int j = 0; j < 8; ++j) {
            const float v = static_cast<float>((grid_entry >> (8 * j)) & 255);
            y[j] = db[l / 2] * v * (signs & (1u << j) ? -1.f : 1.f);
          }
          y += 8;
        }
      }
    }
  }
};
static_assert(GgmlScheme<IQ2_S>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
