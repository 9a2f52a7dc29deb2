// ggml IQ1_M: 1.75 bpw, 8-element ternary groups on the IQ1_S grid with a
// ±1/8 shift per 8 elements, 16-element sub-blocks and an fp16 super-scale
// split into nibbles (specs/ggml-quants.md §4.22). Importance optional.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/iq1_s.hpp"
#include "edgequant/schemes/iq_grid.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct IQ1_M {
  static constexpr std::string_view name = "iq1_m";
  static constexpr GgmlType ggml_type = GgmlType::kIQ1_M;
  static constexpr std::size_t block_elems = 256, block_bytes = 56;
  static constexpr iq::GridId grid = iq::GridId::kIQ1S;
  struct Block {
    std::uint8_t qs[32];   // low 8 bits of the 11-bit grid index of each group of 8
    // per 16: bits 0-2 / 4-6 index bits 8..10 of its first / second group,
    // bit 3 / bit 7 their shift signs
    std::uint8_t qh[16];
    // 4 LE uint16: 3-bit scale of 16-sub-block s at bits 3(s%4) of word s/4;
    // bits 12..15 of word i = nibble i of the fp16 super-scale
    std::uint8_t scales[8];
  };

  // Shift combination k of a 16-sub-block: bit 1 = first group uses x_m,
  // bit 0 = second group uses x_m (§4.22 step 3).
  static const float* shift_table(int k, int group) noexcept {
    const bool minus = group == 0 ? k >= 2 : k % 2 == 1;
    return minus ? iq::kIQ1Minus : iq::kIQ1Plus;
  }

  // The fp16 super-scale reassembled from the four nibbles.
  EDGEQUANT_HOST_DEVICE static std::uint16_t scale_bits(const Block& b) noexcept {
    std::uint16_t sc[4];
    for (int i = 0; i < 4; ++i) sc[i] = static_cast<std::uint16_t>(b.scales[2 * i] | b.scales[2 * i + 1] << 8);
    return static_cast<std::uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                      ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
  }

  // quantize_row_iq1_m_impl: weights qw*sqrt(sigma2+x²), or x² without importance.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance) noexcept {
    using ggml::max_of;
    const iq::GridSearch& gs = iq::GridSearch::get(grid);
    constexpr int kBlock = 16;
    float scales[16], weight[kBlock];
    std::int8_t L[kBlock], shifts[16];
    int idx[kBlock];
    std::uint16_t index[2];
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xbl = x + ibl * block_elems;
      const float* qwbl = importance ? importance + ibl * block_elems : nullptr;
      Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + kBlock * ib;
        make_weights(xb, qwbl ? qwbl + kBlock * ib : nullptr, sigma2, weight);
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = max_of(max, std::fabs(xb[i]));
        if (max < iq::kEpsIQ1M) {
          scales[ib] = 0;
          shifts[ib] = 0;
          continue;
        }
        iq::stable_argsort(xb, kBlock, idx);
        float best_score = -FLT_MAX, scale = max;
        int besti1 = -1, besti2 = -1, best_k = -1;
        for (int i1 = 0; i1 <= kBlock; ++i1) {
          for (int i2 = i1; i2 <= kBlock; ++i2) {
            float sumqx[4] = {0, 0, 0, 0}, sumq2[4] = {0, 0, 0, 0};
            for (int j = 0; j < kBlock; ++j) {
              const int i = idx[j];
              const int level = j < i1 ? 0 : j < i2 ? 1 : 2;
              for (int k = 0; k < 4; ++k) {
                const float t = shift_table(k, i < kBlock / 2 ? 0 : 1)[level];
                sumqx[k] += weight[i] * t * xb[i];
                sumq2[k] += weight[i] * t * t;
              }
            }
            for (int k = 0; k < 4; ++k) {
              if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                scale = sumqx[k] / sumq2[k];
                best_score = scale * sumqx[k];
                besti1 = i1;
                besti2 = i2;
                best_k = k;
              }
            }
          }
        }
        if (besti1 < 0 || besti2 < 0 || best_k < 0) {
          scales[ib] = 0;
          shifts[ib] = 0;
          continue;
        }
        for (int j = 0; j < kBlock; ++j) L[idx[j]] = static_cast<std::int8_t>(j < besti1 ? 0 : j < besti2 ? 1 : 2);
        if (scale < 0) {
          for (auto& l : L) l = static_cast<std::int8_t>(2 - l);
          scale = -scale;
          best_k = 3 - best_k;
        }
        bool all_on_grid = true;
        for (int k = 0; k < 2; ++k) {
          const int u = iq::pack_levels(L + 8 * k, 8, 2);
          int g = gs.map[u];
          if (g < 0) {
            all_on_grid = false;
            g = iq::find_best_neighbour_iq1(gs, u, xb + 8 * k, weight + 8 * k, scale,
                                            shift_table(best_k, k), L + 8 * k, aborts);
          }
          index[k] = static_cast<std::uint16_t>(g);
        }
        if (!all_on_grid) scale = refit_scale(gs, index, best_k, xb, weight, scale);
        store_codes(b, ib, index);
        aborts |= !(scale >= 0);  // ggml: GGML_ASSERT(scale >= 0)
        scales[ib] = scale;
        shifts[ib] = static_cast<std::int8_t>(best_k);
        max_scale = max_of(max_scale, scale);
      }
      finish_block(b, xbl, qwbl, sigma2, gs, scales, shifts, max_scale);
      if (aborts) set_scale_bits(b, iq::kAbortScale);
    }
  }

  // The least-squares scale of a sub-block with grid points index[0..1]
  // (step 6 of §4.22, after a neighbour search), if positive; else scale.
  static float refit_scale(const iq::GridSearch& gs, const std::uint16_t (&index)[2], int best_k,
                           const float* xb, const float* weight, float scale) noexcept {
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < 2; ++k) {
      const float* xx = shift_table(best_k, k);
      for (int j = 0; j < 8; ++j) {
        const float w = weight[8 * k + j];
        const float q = xx[gs.level(index[k], j)];
        sumqx += w * q * xb[8 * k + j];
        sumq2 += w * q * q;
      }
    }
    return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
  }

  // Grid indices of sub-block ib: low bytes in qs, high 3 bits in qh.
  static void store_codes(Block& b, int ib, const std::uint16_t (&index)[2]) noexcept {
    b.qs[2 * ib] = static_cast<std::uint8_t>(index[0] & 255);
    b.qs[2 * ib + 1] = static_cast<std::uint8_t>(index[1] & 255);
    b.qh[ib] = static_cast<std::uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
  }

  // w = qw*sqrt(sigma2 + x²), or x² without importance (§4.22 step 1).
  static void make_weights(const float* xb, const float* qw, float sigma2, float* weight) noexcept {
    if (qw) {
      for (int i = 0; i < 16; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
    } else {
      for (int i = 0; i < 16; ++i) weight[i] = xb[i] * xb[i];
    }
  }

  // Step 7 of §4.22: 3-bit scales and shift bits, then a least-squares refit
  // of the super-scale over all 256 elements (skipped sub-blocks included, as
  // grid point 0 with scale 1), stored with the 1.1125 fudge.
  static void finish_block(Block& b, const float* xbl, const float* qwbl, float sigma2,
                           const iq::GridSearch& gs, const float (&scales)[16],
                           const std::int8_t (&shifts)[16], float max_scale) noexcept {
    if (!max_scale) return;
    float weights[256];
    for (int ib = 0; ib < 16; ++ib) {
      make_weights(xbl + 16 * ib, qwbl ? qwbl + 16 * ib : nullptr, sigma2, weights + 16 * ib);
    }
    finish_block(b, xbl, weights, gs, scales, shifts, max_scale);
  }

  // The same with the 256 weights of step 1 at hand.
  static void finish_block(Block& b, const float* xbl, const float* weights,
                           const iq::GridSearch& gs, const float (&scales)[16],
                           const std::int8_t (&shifts)[16], float max_scale) noexcept {
    if (!max_scale) return;
    static constexpr std::uint8_t kMasks[4] = {0x00, 0x80, 0x08, 0x88};
    std::uint16_t sc[4] = {0, 0, 0, 0};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx_f = 0, sumq2_f = 0;
    for (int ib = 0; ib < 16; ++ib) {
      const int l = iq::scale_nibble(id, scales[ib], 7);
      sc[ib / 4] = static_cast<std::uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
      b.qh[ib] |= kMasks[shifts[ib]];
      const float* xb = xbl + 16 * ib;
      const float* weight = weights + 16 * ib;
      for (int k = 0; k < 2; ++k) {
        const float* xx = shift_table(shifts[ib], k);
        const int g = b.qs[2 * ib + k] + ((b.qh[ib] << (8 - 4 * k)) & 0x700);
        for (int j = 0; j < 8; ++j) {
          const float w = weight[8 * k + j];
          const float q = xx[gs.level(g, j)] * static_cast<float>(2 * l + 1);
          sumqx_f += w * q * xb[8 * k + j];
          sumq2_f += w * q * q;
        }
      }
    }
    if (sumq2_f > 0) d = sumqx_f / sumq2_f;
    for (int i = 0; i < 4; ++i) {
      b.scales[2 * i] = static_cast<std::uint8_t>(sc[i]);
      b.scales[2 * i + 1] = static_cast<std::uint8_t>(sc[i] >> 8);
    }
    set_scale_bits(b, ggml::fp16(d * 1.1125f));
  }

  // Stores the fp16 super-scale in bits 12..15 of the four scale words.
  static void set_scale_bits(Block& b, std::uint16_t s) noexcept {
    for (int i = 0; i < 4; ++i) {
      b.scales[2 * i + 1] = static_cast<std::uint8_t>((b.scales[2 * i + 1] & 0x0f) | (((s >> (4 * i)) & 0xf) << 4));
    }
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(scale_bits(b[i]))) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::fp32(scale_bits(x[i]));
      for (int ib = 0; ib < 8; ++ib) {
        const unsigned sc = x[i].scales[2 * (ib / 2)] | x[i].scales[2 * (ib / 2) + 1] << 8;
        const float dl[2] = {d * static_cast<float>(2 * ((sc >> (6 * (ib % 2))) & 7) + 1),
                             d * static_cast<float>(2 * ((sc >> (6 * (ib % 2) + 3)) & 7) + 1)};
        for (int l = 0; l < 4; ++l) {
          const unsigned qh = x[i].qh[2 * ib + l / 2];
          const int shift = l % 2 ? 4 : 0;  // second group of the 16 uses the high nibble
          const int g = x[i].qs[4 * ib + l] | (((qh >> shift) & 7) << 8);
          const float delta = (qh >> shift) & 0x08 ? -iq::kIQ1Delta : iq::kIQ1Delta;
          const std::uint64_t e = iq::k_iq1s_grid[g];
          for (int j = 0; j < 8; ++j) {
            const float v = static_cast<float>(static_cast<std::int8_t>(e >> (8 * j)));
            y[j] = dl[l / 2] * (v + delta);
          }
          y += 8;
        }
      }
    }
  }
};
static_assert(GgmlScheme<IQ1_M>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
