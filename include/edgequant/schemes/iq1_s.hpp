// ggml IQ1_S: 1.5625 bpw, 8-element ternary groups on a 2048-point grid with a
// ±1/8 shift per 32 elements (specs/ggml-quants.md §4.21). Requires
// importance weights.
#pragma once

#include <cfloat>
#include <cmath>
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

namespace iq {

// Level values of the IQ1 types for a +1/8 (x_p) or -1/8 (x_m) shift (§4.21).
inline constexpr float kIQ1Plus[3] = {-1 + kIQ1Delta, kIQ1Delta, 1 + kIQ1Delta};
inline constexpr float kIQ1Minus[3] = {-1 - kIQ1Delta, -kIQ1Delta, 1 - kIQ1Delta};

// Indices 0..n-1 stably sorted ascending by x (ggml sorts with qsort and a
// value-only comparator; glibc's merge sort keeps equal values in index
// order, §0.3). Insertion sort: stable, no allocation.
inline void stable_argsort(const float* x, int n, int* idx) noexcept {
  for (int j = 0; j < n; ++j) {
    int k = j;
    while (k > 0 && x[idx[k - 1]] > x[j]) {
      idx[k] = idx[k - 1];
      --k;
    }
    idx[k] = j;
  }
}

}  // namespace iq

struct IQ1_S {
  static constexpr std::string_view name = "iq1_s";
  static constexpr GgmlType ggml_type = GgmlType::kIQ1_S;
  static constexpr std::size_t block_elems = 256, block_bytes = 50;
  static constexpr iq::GridId grid = iq::GridId::kIQ1S;
  struct Block {
    f16_bits d;
    std::uint8_t qs[32];   // low 8 bits of the 11-bit grid index of each group of 8
    // per 32: bits 3k..3k+2 index bits 8..10 of group k, bits 12..14 scale,
    // bit 15 shift sign
    std::uint16_t qh[8];
  };

  // quantize_row_iq1_s_impl. ggml requires importance weights (the public API
  // refuses without); a null pointer here means unit weights.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance) noexcept {
    using ggml::max_of;
    using ggml::min_of;
    const iq::GridSearch& gs = iq::GridSearch::get(grid);
    constexpr int kBlock = 32;
    const float* x_p = iq::kIQ1Plus;
    const float* x_m = iq::kIQ1Minus;
    float scales[8], weight[kBlock], sumx[kBlock + 1], sumw[kBlock + 1];
    std::int8_t L[kBlock], shifts[8];
    int idx[kBlock];
    std::uint16_t index[4];
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xbl = x + ibl * block_elems;
      Block& b = y[ibl];
      b.d = ggml::fp16(0.f);
      std::memset(b.qs, 0, sizeof(b.qs));
      std::memset(b.qh, 0, sizeof(b.qh));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + kBlock * ib;
        for (int i = 0; i < kBlock; ++i) {
          const float qw = importance ? importance[ibl * block_elems + kBlock * ib + i] : 1.0f;
          weight[i] = qw * std::sqrt(sigma2 + xb[i] * xb[i]);
        }
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = max_of(max, std::fabs(xb[i]));
        if (max < iq::kEpsIQ1S) {
          scales[ib] = 0;
          shifts[ib] = 1;
          continue;
        }
        // Exhaustive search of the two boundaries splitting the sorted values
        // into levels -1, 0, +1, from prefix sums in sorted order.
        iq::stable_argsort(xb, kBlock, idx);
        sumx[0] = sumw[0] = 0;
        for (int j = 0; j < kBlock; ++j) {
          const int i = idx[j];
          sumx[j + 1] = sumx[j] + weight[i] * xb[i];
          sumw[j + 1] = sumw[j] + weight[i];
        }
        float best_score = -FLT_MAX, scale = max;
        int besti1 = -1, besti2 = -1, best_shift = 0;
        for (int i1 = 0; i1 <= kBlock; ++i1) {
          for (int i2 = i1; i2 <= kBlock; ++i2) {
            for (int shift = 1; shift >= -1; shift -= 2) {
              const float* t = shift == 1 ? x_p : x_m;
              const float sumqx = (sumx[i1] - sumx[0]) * t[0] + (sumx[i2] - sumx[i1]) * t[1] +
                                  (sumx[kBlock] - sumx[i2]) * t[2];
              const float sumq2 = (sumw[i1] - sumw[0]) * t[0] * t[0] +
                                  (sumw[i2] - sumw[i1]) * t[1] * t[1] +
                                  (sumw[kBlock] - sumw[i2]) * t[2] * t[2];
              if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                scale = sumqx / sumq2;
                best_score = scale * sumqx;
                besti1 = i1;
                besti2 = i2;
                best_shift = shift;
              }
            }
          }
        }
        if (besti1 < 0 || besti2 < 0 || best_shift == 0) {
          scales[ib] = 0;
          shifts[ib] = 1;
          continue;
        }
        for (int j = 0; j < kBlock; ++j) L[idx[j]] = static_cast<std::int8_t>(j < besti1 ? 0 : j < besti2 ? 1 : 2);
        if (scale < 0) {
          for (auto& l : L) l = static_cast<std::int8_t>(2 - l);
          scale = -scale;
          best_shift = -best_shift;
        }
        const float* xx = best_shift == 1 ? x_p : x_m;
        bool all_on_grid = true;
        for (int k = 0; k < 4; ++k) {
          const int u = iq::pack_levels(L + 8 * k, 8, 2);
          int g = gs.map[u];
          if (g < 0) {
            all_on_grid = false;
            g = iq::find_best_neighbour_iq1(gs, u, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k, aborts);
          }
          index[k] = static_cast<std::uint16_t>(g);
        }
        if (!all_on_grid) {
          float sumqx = 0, sumq2 = 0;
          for (int k = 0; k < 4; ++k) {
            for (int j = 0; j < 8; ++j) {
              const float w = weight[8 * k + j];
              const float q = xx[gs.level(index[k], j)];
              sumqx += w * q * xb[8 * k + j];
              sumq2 += w * q * q;
            }
          }
          if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
        }
        unsigned h = 0;
        for (int k = 0; k < 4; ++k) {
          b.qs[4 * ib + k] = static_cast<std::uint8_t>(index[k] & 255);
          h |= static_cast<unsigned>(index[k] >> 8) << (3 * k);
        }
        b.qh[ib] = static_cast<std::uint16_t>(h);
        aborts |= !(scale >= 0);  // ggml: GGML_ASSERT(scale >= 0)
        scales[ib] = scale;
        shifts[ib] = static_cast<std::int8_t>(best_shift);
        max_scale = max_of(max_scale, scale);
      }
      finish_block(b, scales, shifts, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  // Step 8 of §4.21: d carries the 1.125 fudge, the 3-bit scales do not.
  static void finish_block(Block& b, const float (&scales)[8], const std::int8_t (&shifts)[8],
                           float max_scale) noexcept {
    if (!max_scale) return;
    const float d = max_scale / 15;
    b.d = ggml::fp16(d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
      int l = iq::scale_nibble(id, scales[ib], 7);
      if (shifts[ib] == -1) l |= 8;
      b.qh[ib] = static_cast<std::uint16_t>(b.qh[ib] | (l << 12));
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
        const unsigned qh = x[i].qh[ib];
        const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
        const float delta = qh & 0x8000 ? -iq::kIQ1Delta : iq::kIQ1Delta;
        for (int l = 0; l < 4; ++l) {
          const std::uint64_t g = iq::k_iq1s_grid[x[i].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
          for (int j = 0; j < 8; ++j) {
            const float v = static_cast<float>(static_cast<std::int8_t>(g >> (8 * j)));
            y[j] = dl * (v + delta);
          }
          y += 8;
        }
      }
    }
  }
};
static_assert(GgmlScheme<IQ1_S>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
