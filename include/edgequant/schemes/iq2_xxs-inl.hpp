// SIMD kernels for IQ2_XXS (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ2_XXS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ2_XXS_INL_
#undef EDGEQUANT_SCHEMES_IQ2_XXS_INL_
#else
#define EDGEQUANT_SCHEMES_IQ2_XXS_INL_
#endif

#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq2_xxs.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ2_XXS> {
  // The reference's steps; the scale search runs one lane per trial scale
  // and one lane per neighbour candidate (iqk::GridScaleSearch).
  static void quantize_row(const float* HWY_RESTRICT x, IQ2_XXS::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    using Search = iqk::GridScaleSearch<32, 8, 2, 3>;
    const iq::GridSearch& gs = iq::GridSearch::get(IQ2_XXS::grid);
    alignas(64) float scales[8], weight[32], xval[32], waux[32];
    std::int8_t L[32];
    std::uint8_t qp_levels[32], block_signs[4];
    std::uint32_t q2[16];
    for (std::size_t ibl = 0; ibl < n / IQ2_XXS::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ2_XXS::block_elems;
      const float* qwbl = importance ? importance + ibl * IQ2_XXS::block_elems : iq::kUnitWeights.data();
      IQ2_XXS::Block& b = y[ibl];
      b.d = ggml::fp16(0.f);
      std::memset(q2, 0, sizeof(q2));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        iqk::ImportanceWeights(xb, qwbl + 32 * ib, sigma2, 32, weight);
        iqk::Sqrts(weight, 32, waux);
        for (int k = 0; k < 4; ++k) {
          block_signs[k] = iq::parity_signs8(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        }
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = ggml::max_of(max, xval[i]);
        if (max < ggml::kGroupMaxEps) {
          scales[ib] = 0;
          continue;
        }
        float scale = iq::make_qp_quants(32, 4, xval, qp_levels, weight);
        const float eff_max = scale * 3;
        if (eff_max <= 0) {
          scales[ib] = 0;
          continue;
        }
        scale = Search::Run(gs, xval, weight, waux, eff_max, scale, -6, 6, 0.1f, true,
                            iqk::Redo::kAlways, L, aborts);
        if (scale < 0) {
          scale = -scale;
          for (auto& s : block_signs) s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 4; ++k) {
          const int g = iq::grid_index_of(gs, L + 8 * k, aborts);
          q2[2 * ib] |= static_cast<std::uint32_t>(g) << (8 * k);
          q2[2 * ib + 1] |= static_cast<std::uint32_t>(block_signs[k]) << (7 * k);
        }
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ2_XXS::finish_block(b, q2, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  static void dequantize_row(const IQ2_XXS::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    std::uint8_t buf[8];
    for (std::size_t i = 0; i < n / IQ2_XXS::block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      for (int ib = 0; ib < 8; ++ib) {
        const std::uint32_t w0 = x[i].qs[4 * ib] | static_cast<std::uint32_t>(x[i].qs[4 * ib + 1]) << 16;
        const std::uint32_t w1 = x[i].qs[4 * ib + 2] | static_cast<std::uint32_t>(x[i].qs[4 * ib + 3]) << 16;
        const float db = d * (0.5f + static_cast<float>(w1 >> 28)) * 0.25f;
        for (int k = 0; k < 4; ++k, y += 8) {
          iqk::DecodeSigned8(iqk::EntryBytes(iq::k_iq2xxs_grid[(w0 >> (8 * k)) & 255], buf),
                             iq::k_ksigns_iq2xs[(w1 >> (7 * k)) & 127], db, y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
