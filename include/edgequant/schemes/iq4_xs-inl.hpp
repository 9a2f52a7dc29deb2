// SIMD kernels for IQ4_XS (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ4_XS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ4_XS_INL_
#undef EDGEQUANT_SCHEMES_IQ4_XS_INL_
#else
#define EDGEQUANT_SCHEMES_IQ4_XS_INL_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/kernels/nibble_lut-inl.hpp"
#include "edgequant/schemes/iq4_nl-inl.hpp"
#include "edgequant/schemes/iq4_xs.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ4_XS> {
  // Lanes = 32-element sub-blocks (of one or more super-blocks): the scale
  // searches run as IQ4_NL's; the per-super-block tail (6-bit scales) is the
  // scalar reference's, with the final indices vectorised.
  static void quantize_row(const float* HWY_RESTRICT x, IQ4_XS::Block* HWY_RESTRICT y,
                           std::size_t n, const float* HWY_RESTRICT importance) {
    const Iq4Tag df;
    const std::size_t N = hn::Lanes(df);
    constexpr std::size_t kGroup = 8;  // super-blocks per step (64 sub-blocks)
    HWY_ALIGN float xt[32 * kIq4MaxLanes];
    HWY_ALIGN float qwt[32 * kIq4MaxLanes];
    HWY_ALIGN float wt[32 * kIq4MaxLanes];
    HWY_ALIGN float lane_sigma2[kIq4MaxLanes];
    HWY_ALIGN float lane_scales[kIq4MaxLanes];
    float sigma2[kGroup];
    float scales[8 * kGroup];
    const std::size_t nblocks = n / 256;
    for (std::size_t b0 = 0; b0 < nblocks; b0 += kGroup) {
      const std::size_t count = std::min(kGroup, nblocks - b0);
      const float* xg = x + b0 * 256;
      if (importance != nullptr) super_block_sigma2(xg, count, sigma2);
      // Sub-blocks [v0, v0 + N) of this group; a vector may span super-blocks.
      for (std::size_t v0 = 0; v0 < 8 * count; v0 += N) {
        const std::size_t lanes = std::min(N, 8 * count - v0);
        Iq4Transpose(xg + v0 * 32, lanes, N, xt);
        auto s2 = hn::Zero(df);
        if (importance != nullptr) {
          Iq4Transpose(importance + (8 * b0 + v0) * 32, lanes, N, qwt);
          for (std::size_t l = 0; l < N; ++l) {
            lane_sigma2[l] = l < lanes ? sigma2[(v0 + l) / 8] : 0.0f;
          }
          s2 = hn::Load(df, lane_sigma2);
        }
        Iq4Weights(df, xt, importance ? qwt : nullptr, s2, wt);
        hn::Store(Iq4BlockScales(df, xt, wt), df, lane_scales);
        for (std::size_t l = 0; l < lanes; ++l) scales[v0 + l] = lane_scales[l];
      }
      for (std::size_t k = 0; k < count; ++k) {
        IQ4_XS::finish_block(
            xg + 256 * k, scales + 8 * k, y[b0 + k],
            [&](const float* xb, float idl, std::uint8_t* qs) { Iq4PackBlock(df, xb, idl, qs); });
      }
    }
  }

  static void dequantize_row(const IQ4_XS::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const Iq4Tag df;
    HWY_ALIGN std::int8_t v[32];
    for (std::size_t b = 0; b < n / 256; ++b) {
      const float d = ggml::fp32(x[b].d);
      for (int ib = 0; ib < 8; ++ib) {
        LookupNibbles32(ggml::kValuesIq4nl, x[b].qs + 16 * ib, v);
        const float dl = d * static_cast<float>(IQ4_XS::scale_of(x[b], ib) - 32);
        ScaleInt8(df, v, 32, dl, y + b * 256 + 32 * ib);
      }
    }
  }

 private:
  // sigma2 of `count` (<= 8) consecutive super-blocks: (Σ x² in element
  // order) * (2/256). The sums advance together, one accumulator each, so
  // their adds overlap.
  static void super_block_sigma2(const float* HWY_RESTRICT x, std::size_t count,
                                 float* HWY_RESTRICT out) {
    float s[8] = {};
    for (std::size_t j = 0; j < 256; ++j) {
      for (std::size_t k = 0; k < count; ++k) s[k] += x[256 * k + j] * x[256 * k + j];
    }
    for (std::size_t k = 0; k < count; ++k) out[k] = s[k] * (2.f / 256);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
