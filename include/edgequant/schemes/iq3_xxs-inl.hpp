// SIMD kernels for IQ3_XXS (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ3_XXS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ3_XXS_INL_
#undef EDGEQUANT_SCHEMES_IQ3_XXS_INL_
#else
#define EDGEQUANT_SCHEMES_IQ3_XXS_INL_
#endif

#include <bit>
#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq3_xxs.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ3_XXS> {
  // The reference's steps; the scale search runs one lane per trial scale
  // and one lane per neighbour candidate (iqk::GridScaleSearch).
  static void quantize_row(const float* HWY_RESTRICT x, IQ3_XXS::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    using Search = iqk::GridScaleSearch<32, 4, 3, 8>;
    const iq::GridSearch& gs = iq::GridSearch::get(IQ3_XXS::grid);
    alignas(64) float scales[8], weight[32], xval[32], waux[32];
    std::int8_t L[32];
    std::uint8_t block_signs[4];
    std::uint8_t q3[64];
    std::uint32_t scales_and_signs[8];
    for (std::size_t ibl = 0; ibl < n / IQ3_XXS::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ3_XXS::block_elems;
      IQ3_XXS::Block& b = y[ibl];
      b.d = ggml::fp16(0.f);
      std::memset(q3, 0, sizeof(q3));
      std::memset(scales_and_signs, 0, sizeof(scales_and_signs));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        if (importance) {
          iqk::ImportanceWeights(xb, importance + ibl * IQ3_XXS::block_elems + 32 * ib, sigma2,
                                 32, weight);
        } else {
          for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
        }
        iqk::Sqrts(weight, 32, waux);
        for (int k = 0; k < 4; ++k) {
          block_signs[k] = iq::parity_signs8(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        }
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = ggml::max_of(max, xval[i]);
        if (max < iq::kEpsIQ3XXS) {
          scales[ib] = 0;
          continue;
        }
        float scale = Search::Run(gs, xval, weight, waux, max, max / 15, -15, 15, 0.2f, true,
                                  iqk::Redo::kOffGrid, L, aborts);
        if (scale < 0) {
          scale = -scale;
          for (auto& s : block_signs) s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 8; ++k) {
          q3[8 * ib + k] = static_cast<std::uint8_t>(iq::grid_index_of(gs, L + 4 * k, aborts));
        }
        scales_and_signs[ib] = block_signs[0] | block_signs[1] << 7 | block_signs[2] << 14 |
                               static_cast<std::uint32_t>(block_signs[3]) << 21;
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ3_XXS::finish_block(b, q3, scales_and_signs, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  static void dequantize_row(const IQ3_XXS::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    std::uint8_t bytes[8];
    for (std::size_t i = 0; i < n / IQ3_XXS::block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      const std::uint8_t* qs = x[i].qs;
      for (int ib = 0; ib < 8; ++ib, qs += 8) {
        const std::uint8_t* ss = x[i].qs + 64 + 4 * ib;
        const std::uint32_t aux = ss[0] | ss[1] << 8 | ss[2] << 16 | static_cast<std::uint32_t>(ss[3]) << 24;
        const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l, y += 8) {
          const std::uint32_t g1 = iq::k_iq3xxs_grid[qs[2 * l]], g2 = iq::k_iq3xxs_grid[qs[2 * l + 1]];
          // One 8-byte store (the vector load then forwards from it).
          const std::uint64_t both = g1 | static_cast<std::uint64_t>(g2) << 32;
          if constexpr (std::endian::native == std::endian::little) {
            std::memcpy(bytes, &both, 8);
          } else {
            for (int j = 0; j < 8; ++j) bytes[j] = static_cast<std::uint8_t>(both >> (8 * j));
          }
          iqk::DecodeSigned8(bytes, iq::k_ksigns_iq2xs[(aux >> (7 * l)) & 127], db, y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
