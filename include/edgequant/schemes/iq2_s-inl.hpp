// SIMD kernels for IQ2_S (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ2_S_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ2_S_INL_
#undef EDGEQUANT_SCHEMES_IQ2_S_INL_
#else
#define EDGEQUANT_SCHEMES_IQ2_S_INL_
#endif

#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq2_s.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ2_S> {
  // The reference's steps; the scale search runs one lane per trial scale
  // and one lane per neighbour candidate (iqk::GridScaleSearch).
  static void quantize_row(const float* HWY_RESTRICT x, IQ2_S::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    using Search = iqk::GridScaleSearch<16, 8, 2, 3>;
    const iq::GridSearch& gs = iq::GridSearch::get(IQ2_S::grid);
    alignas(64) float scales[16], weight[16], xval[16], waux[16];
    std::int8_t L[16];
    std::uint8_t block_signs[2];
    for (std::size_t ibl = 0; ibl < n / IQ2_S::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ2_S::block_elems;
      IQ2_S::Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        if (importance) {
          iqk::ImportanceWeights(xb, importance + ibl * IQ2_S::block_elems + 16 * ib, sigma2, 16,
                                 weight);
        } else {
          for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        iqk::Sqrts(weight, 16, waux);
        for (int k = 0; k < 2; ++k) block_signs[k] = iq::plain_signs8(xb + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = ggml::max_of(max, xval[i]);
        if (max < iq::kEpsIQ2S) {
          scales[ib] = 0;
          continue;
        }
        float scale = Search::Run(gs, xval, weight, waux, max, max / 5, -9, 9, 0.1f, true,
                                  iqk::Redo::kOffGrid, L, aborts);
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
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ2_S::finish_block(b, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  static void dequantize_row(const IQ2_S::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    std::uint8_t buf[8];
    for (std::size_t i = 0; i < n / IQ2_S::block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      for (int ib = 0; ib < 8; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(x[i].scales[ib] & 0xf)) * 0.25f,
                             d * (0.5f + static_cast<float>(x[i].scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l, y += 8) {
          const int g = 4 * ib + l;
          const int idx = x[i].qs[g] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
          iqk::DecodeSigned8(iqk::EntryBytes(iq::k_iq2s_grid[idx], buf), x[i].qs[32 + g], db[l / 2], y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
