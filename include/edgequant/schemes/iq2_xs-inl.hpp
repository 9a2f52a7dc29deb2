// SIMD kernels for IQ2_XS (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ2_XS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ2_XS_INL_
#undef EDGEQUANT_SCHEMES_IQ2_XS_INL_
#else
#define EDGEQUANT_SCHEMES_IQ2_XS_INL_
#endif

#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq2_xs.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ2_XS> {
  // The reference's steps; the scale search runs one lane per trial scale
  // and one lane per neighbour candidate (iqk::GridScaleSearch).
  static void quantize_row(const float* HWY_RESTRICT x, IQ2_XS::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    using Search = iqk::GridScaleSearch<16, 8, 2, 3>;
    const iq::GridSearch& gs = iq::GridSearch::get(IQ2_XS::grid);
    alignas(64) float scales[16], weight[16], xval[16], waux[16];
    std::int8_t L[16];
    std::uint8_t block_signs[2];
    std::uint16_t q2[32];
    for (std::size_t ibl = 0; ibl < n / IQ2_XS::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ2_XS::block_elems;
      const float* qwbl = importance ? importance + ibl * IQ2_XS::block_elems : iq::kUnitWeights.data();
      IQ2_XS::Block& b = y[ibl];
      b.d = ggml::fp16(0.f);
      std::memset(q2, 0, sizeof(q2));
      std::memset(b.scales, 0, sizeof(b.scales));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        iqk::ImportanceWeights(xb, qwbl + 16 * ib, sigma2, 16, weight);
        iqk::Sqrts(weight, 16, waux);
        for (int k = 0; k < 2; ++k) {
          block_signs[k] = iq::parity_signs8(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        }
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = ggml::max_of(max, xval[i]);
        if (max < ggml::kGroupMaxEps) {
          scales[ib] = 0;
          continue;
        }
        float scale = Search::Run(gs, xval, weight, waux, max, max / 5, -9, 9, 0.1f, true,
                                  iqk::Redo::kOffGrid, L, aborts);
        if (scale < 0) {
          scale = -scale;
          for (auto& s : block_signs) s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 2; ++k) {
          const int g = iq::grid_index_of(gs, L + 8 * k, aborts);
          q2[2 * ib + k] = static_cast<std::uint16_t>(g | (block_signs[k] << 9));
        }
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ2_XS::finish_block(b, q2, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  static void dequantize_row(const IQ2_XS::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    std::uint8_t buf[8];
    for (std::size_t i = 0; i < n / IQ2_XS::block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      for (int ib = 0; ib < 8; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(x[i].scales[ib] & 0xf)) * 0.25f,
                             d * (0.5f + static_cast<float>(x[i].scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l, y += 8) {
          const std::uint16_t q = x[i].qs[4 * ib + l];
          iqk::DecodeSigned8(iqk::EntryBytes(iq::k_iq2xs_grid[q & 511], buf), iq::k_ksigns_iq2xs[q >> 9],
                             db[l / 2], y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
