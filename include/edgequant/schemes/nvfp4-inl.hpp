// SIMD kernels for NVFP4 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_NVFP4_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_NVFP4_INL_
#undef EDGEQUANT_SCHEMES_NVFP4_INL_
#else
#define EDGEQUANT_SCHEMES_NVFP4_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/kernels/nibble_lut-inl.hpp"
#include "edgequant/schemes/mxfp4-inl.hpp"
#include "edgequant/schemes/nvfp4.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<NVFP4> {
  // Per 16-element group: amax (order-free), the UE4M3 scale in scalar code,
  // then the nearest fp4 code of every element across the lanes.
  static void quantize_row(const float* HWY_RESTRICT x, NVFP4::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 8> df;
    for (std::size_t b = 0; b < n / 64; ++b) {
      for (int s = 0; s < 4; ++s) {
        const float* xb = x + b * 64 + 16 * s;
        const std::uint8_t ue = ggml::fp32_to_ue4m3(AbsMax(df, xb, 16) / 6.0f);
        y[b].d[s] = ue;
        const Fp4Levels lv(ggml::ue4m3_to_fp32(ue));
        QuantizeFp4Pairs(df, lv, xb, 8, y[b].qs + 8 * s);
      }
    }
  }

  // Two groups per 16-byte lookup: codes of bytes 0..7 belong to group 2h,
  // bytes 8..15 to group 2h+1; low nibbles first within each group.
  static void dequantize_row(const NVFP4::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::CappedTag<float, 8> df;
    HWY_ALIGN std::int8_t v[32];
    for (std::size_t b = 0; b < n / 64; ++b) {
      float* yb = y + b * 64;
      for (int h = 0; h < 2; ++h) {
        LookupNibbles32(ggml::kValuesFp4, x[b].qs + 16 * h, v);
        const float d0 = ggml::ue4m3_to_fp32(x[b].d[2 * h]);
        const float d1 = ggml::ue4m3_to_fp32(x[b].d[2 * h + 1]);
        ScaleInt8(df, v, 8, d0, yb + 32 * h);
        ScaleInt8(df, v + 16, 8, d0, yb + 32 * h + 8);
        ScaleInt8(df, v + 8, 8, d1, yb + 32 * h + 16);
        ScaleInt8(df, v + 24, 8, d1, yb + 32 * h + 24);
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
