// ggml IQ2_XXS: 2.0625 bpw, 8-element groups on a 256-point E8 grid with
// even-parity signs (specs/ggml-quants.md §4.16). Requires importance weights.
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

struct IQ2_XXS {
  static constexpr std::string_view name = "iq2_xxs";
  static constexpr GgmlType ggml_type = GgmlType::kIQ2_XXS;
  static constexpr std::size_t block_elems = 256, block_bytes = 66;
  static constexpr iq::GridId grid = iq::GridId::kIQ2XXS;
  struct Block {
    f16_bits d;
    // 16 LE uint32 words, two per 32-sub-block: word 2ib = 4 grid indices
    // (byte k = group k), word 2ib+1 = four 7-bit sign fields | scale << 28.
    std::uint16_t qs[32];
  };

  // quantize_row_iq2_xxs_impl. ggml requires importance weights (the public
  // API refuses without); a null pointer here means unit weights.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance) noexcept {
    using ggml::max_of;
    using ggml::min_of;
    using ggml::nearest_int;
    const iq::GridSearch& gs = iq::GridSearch::get(grid);
    constexpr int kMaxQ = 3;
    float scales[8], weight[32], xval[32], waux[32];
    std::int8_t L[32], Laux[32];
    std::uint8_t qp_levels[32], block_signs[4];
    std::uint32_t q2[16];
    for (std::size_t ibl = 0; ibl < n / block_elems; ++ibl) {
      const float* xbl = x + ibl * block_elems;
      y[ibl].d = ggml::fp16(0.f);
      std::memset(q2, 0, sizeof(q2));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        for (int i = 0; i < 32; ++i) {
          const float qw = importance ? importance[ibl * block_elems + 32 * ib + i] : 1.0f;
          weight[i] = qw * std::sqrt(sigma2 + xb[i] * xb[i]);
        }
        for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
        for (int k = 0; k < 4; ++k) {
          block_signs[k] = iq::parity_signs8(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        }
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = max_of(max, xval[i]);
        if (max < ggml::kGroupMaxEps) {
          scales[ib] = 0;
          continue;
        }
        float scale = iq::make_qp_quants(32, kMaxQ + 1, xval, qp_levels, weight);
        const float eff_max = scale * kMaxQ;
        if (eff_max <= 0) {
          scales[ib] = 0;
          continue;
        }
        // ggml keeps make_qp_quants' levels in L here; they are always
        // replaced below unless the scale is NaN, where ggml aborts.
        std::memset(L, 0, sizeof(L));
        float best = 0;
        for (int is = -6; is <= 6; ++is) {
          const float id = (2 * kMaxQ - 1 + static_cast<float>(is) * 0.1f) / eff_max;
          const float this_scale = 1 / id;
          for (int k = 0; k < 4; ++k) {
            for (int i = 0; i < 8; ++i) {
              const int l = nearest_int(0.5f * (id * xval[8 * k + i] - 1));
              Laux[8 * k + i] = static_cast<std::int8_t>(max_of(0, min_of(kMaxQ - 1, l)));
            }
            const int u = iq::pack_levels(Laux + 8 * k, 8, 2);
            if (gs.map[u] < 0) {
              iq::find_best_neighbour(gs, u, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k, aborts);
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
          }
        }
        if (scale > 0) {
          const float id = 1 / scale;
          for (int k = 0; k < 4; ++k) {
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
          for (int i = 0; i < 32; ++i) {
            const float w = weight[i];
            const float q = static_cast<float>(2 * L[i] + 1);
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
          }
          if (sumq2 > 0) scale = sumqx / sumq2;
        }
        if (scale < 0) {
          // ggml: "should never happen"; keep the scale positive, flip signs.
          scale = -scale;
          for (auto& s : block_signs) s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 4; ++k) {
          const int g = iq::grid_index_of(gs, L + 8 * k, aborts);
          q2[2 * ib] |= static_cast<std::uint32_t>(g) << (8 * k);
          q2[2 * ib + 1] |= static_cast<std::uint32_t>(block_signs[k]) << (7 * k);
        }
        aborts |= !(scale >= 0);  // ggml: GGML_ASSERT(scale >= 0)
        scales[ib] = scale;
        max_scale = max_of(max_scale, scale);
      }
      finish_block(y[ibl], q2, scales, max_scale);
      if (aborts) y[ibl].d = iq::kAbortScale;
    }
  }

  // Step 9 of §4.16: super-block scale and 4-bit sub-block scales.
  static void finish_block(Block& b, std::uint32_t (&q2)[16], const float (&scales)[8],
                           float max_scale) noexcept {
    if (!max_scale) {
      std::memset(b.qs, 0, sizeof(b.qs));
      return;
    }
    const float d = max_scale / 31;
    b.d = ggml::fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
      q2[2 * ib + 1] |= static_cast<std::uint32_t>(iq::scale_nibble(id, scales[ib], 15)) << 28;
    }
    for (int w = 0; w < 16; ++w) {
      b.qs[2 * w] = static_cast<std::uint16_t>(q2[w]);
      b.qs[2 * w + 1] = static_cast<std::uint16_t>(q2[w] >> 16);
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
        const std::uint32_t w0 = x[i].qs[4 * ib] | static_cast<std::uint32_t>(x[i].qs[4 * ib + 1]) << 16;
        const std::uint32_t w1 =
            x[i].qs[4 * ib + 2] | static_cast<std::uint32_t>(x[i].qs[4 * ib + 3]) << 16;
        const float db = d * (0.5f + static_cast<float>(w1 >> 28)) * 0.25f;
        for (int k = 0; k < 4; ++k) {
          const std::uint64_t g = iq::k_iq2xxs_grid[(w0 >> (8 * k)) & 255];
          const std::uint8_t signs = iq::k_ksigns_iq2xs[(w1 >> (7 * k)) & 127];
          for (int j = 0; j < 8; ++j) {
            const float q = static_cast<float>((g >> (8 * j)) & 255);
            y[j] = db * q * (signs & (1u << j) ? -1.f : 1.f);
          }
          y += 8;
        }
      }
    }
  }
};
static_assert(GgmlScheme<IQ2_XXS>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
