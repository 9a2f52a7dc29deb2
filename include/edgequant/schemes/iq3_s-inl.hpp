// SIMD kernels for IQ3_S (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ3_S_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ3_S_INL_
#undef EDGEQUANT_SCHEMES_IQ3_S_INL_
#else
#define EDGEQUANT_SCHEMES_IQ3_S_INL_
#endif

#include <bit>
#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq3_s.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ3_S> {
  // The reference's steps (write-cursor quirk included); the scale search
  // runs one lane per trial scale and one lane per neighbour candidate.
  static void quantize_row(const float* HWY_RESTRICT x, IQ3_S::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    using Search = iqk::GridScaleSearch<32, 4, 3, 8>;
    const iq::GridSearch& gs = iq::GridSearch::get(IQ3_S::grid);
    alignas(64) float scales[8], weight[32], xval[32], waux[32];
    std::int8_t L[32];
    std::uint8_t block_signs[4];
    for (std::size_t ibl = 0; ibl < n / IQ3_S::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ3_S::block_elems;
      IQ3_S::Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      std::uint8_t* qs = b.qs;  // advance only for sub-blocks that are not skipped (§4.20)
      std::uint8_t* signs = b.signs;
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        if (importance) {
          iqk::ImportanceWeights(xb, importance + ibl * IQ3_S::block_elems + 32 * ib, sigma2, 32,
                                 weight);
        } else {
          for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
        }
        iqk::Sqrts(weight, 32, waux);
        for (int k = 0; k < 4; ++k) block_signs[k] = iq::plain_signs8(xb + 8 * k, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = ggml::max_of(max, xval[i]);
        if (!max) {
          scales[ib] = 0;
          continue;
        }
        float scale = Search::Run(gs, xval, weight, waux, max, max / 15, -9, 9, 0.2f, false,
                                  iqk::Redo::kAllIfAnyOff, L, aborts);
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
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ3_S::finish_block(b, scales, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  static void dequantize_row(const IQ3_S::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    std::uint8_t bytes[8];
    for (std::size_t i = 0; i < n / IQ3_S::block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      for (int ib = 0; ib < 8; ++ib) {
        const float db = d * static_cast<float>(1 + 2 * ((x[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xf));
        const std::uint8_t* qs = x[i].qs + 8 * ib;
        const unsigned qh = x[i].qh[ib];
        for (int l = 0; l < 4; ++l, y += 8) {
          const std::uint32_t g1 = iq::k_iq3s_grid[qs[2 * l] | ((qh << (8 - 2 * l)) & 256)];
          const std::uint32_t g2 = iq::k_iq3s_grid[qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256)];
          // One 8-byte store (the vector load then forwards from it).
          const std::uint64_t both = g1 | static_cast<std::uint64_t>(g2) << 32;
          if constexpr (std::endian::native == std::endian::little) {
            std::memcpy(bytes, &both, 8);
          } else {
            for (int j = 0; j < 8; ++j) bytes[j] = static_cast<std::uint8_t>(both >> (8 * j));
          }
          iqk::DecodeSigned8(bytes, x[i].signs[4 * ib + l], db, y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
