// SIMD kernels for Q8_0 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q8_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q8_0_INL_
#undef EDGEQUANT_SCHEMES_Q8_0_INL_
#else
#define EDGEQUANT_SCHEMES_Q8_0_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/q8_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q8_0> {
  // Same arithmetic as the reference: amax (order-free), d and 1/d in scalar
  // float, one multiply per element, round half away from zero.
  static void quantize_row(const float* HWY_RESTRICT x, Q8_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::int8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_0::quantize_row_ref(x, y, n);
      return;
    }
    for (std::size_t b = 0; b < n / 32; ++b) {
      const float* xb = x + b * 32;
      const float amax = AbsMax(df, xb, 32);
      const float d = amax / ((1 << 7) - 1);
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[b].d = ggml::fp16(d);
      const auto vid = hn::Set(df, id);
      for (std::size_t j = 0; j < 32; j += N) {
        const auto q = RoundHalfAway(df, hn::Mul(hn::LoadU(df, xb + j), vid));
        hn::StoreU(hn::DemoteTo(d8, hn::ConvertTo(di, q)), d8, y[b].qs + j);
      }
    }
  }

  static void dequantize_row(const Q8_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::int8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_0::dequantize_row_ref(x, y, n);
      return;
    }
    for (std::size_t b = 0; b < n / 32; ++b) {
      const auto vd = hn::Set(df, ggml::fp32(x[b].d));
      for (std::size_t j = 0; j < 32; j += N) {
        const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, x[b].qs + j)));
        hn::StoreU(hn::Mul(q, vd), df, y + b * 32 + j);
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
