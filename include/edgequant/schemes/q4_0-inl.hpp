// SIMD kernels for Q4_0 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q4_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q4_0_INL_
#undef EDGEQUANT_SCHEMES_Q4_0_INL_
#else
#define EDGEQUANT_SCHEMES_Q4_0_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/q4_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q4_0> {
  // Without importance: vectorised over the 32 elements (no sums involved).
  // With importance the scale search sums in element order: the reference.
  static void quantize_row(const float* HWY_RESTRICT x, Q4_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float* importance) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (importance != nullptr || 16 % N != 0) {
      Q4_0::quantize_row_ref(x, y, n, importance);
      return;
    }
    for (std::size_t b = 0; b < n / 32; ++b) {
      const float* xb = x + b * 32;
      const float amax = AbsMax(df, xb, 32);
      // The signed value of the first element with the largest magnitude.
      float max = 0.0f;
      if (amax > 0.0f) {
        const auto va = hn::Set(df, amax);
        for (std::size_t j = 0; j < 32; j += N) {
          const intptr_t k = hn::FindFirstTrue(df, hn::Eq(hn::Abs(hn::LoadU(df, xb + j)), va));
          if (k >= 0) {
            max = xb[j + static_cast<std::size_t>(k)];
            break;
          }
        }
      }
      const float d = max / -8;
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[b].d = ggml::fp16(d);
      const auto vid = hn::Set(df, id);
      const auto half8 = hn::Set(df, 8.5f);
      const auto fifteen = hn::Set(di, 15);
      for (std::size_t j = 0; j < 16; j += N) {
        // (int8)(x*id + 8.5f) truncates; the value is positive, so ConvertTo matches.
        const auto lo = hn::Min(
            fifteen, hn::ConvertTo(di, hn::Add(hn::Mul(hn::LoadU(df, xb + j), vid), half8)));
        const auto hi = hn::Min(
            fifteen, hn::ConvertTo(di, hn::Add(hn::Mul(hn::LoadU(df, xb + j + 16), vid), half8)));
        const auto packed = hn::Or(lo, hn::ShiftLeft<4>(hi));
        hn::StoreU(hn::DemoteTo(d8, packed), d8, y[b].qs + j);
      }
    }
  }

  static void dequantize_row(const Q4_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (16 % N != 0) {
      Q4_0::dequantize_row_ref(x, y, n);
      return;
    }
    const auto mask = hn::Set(di, 0x0F);
    const auto eight = hn::Set(di, 8);
    for (std::size_t b = 0; b < n / 32; ++b) {
      const auto vd = hn::Set(df, ggml::fp32(x[b].d));
      float* yb = y + b * 32;
      for (std::size_t j = 0; j < 16; j += N) {
        const auto q = hn::PromoteTo(di, hn::LoadU(d8, x[b].qs + j));
        const auto lo = hn::Sub(hn::And(q, mask), eight);
        const auto hi = hn::Sub(hn::ShiftRight<4>(q), eight);
        hn::StoreU(hn::Mul(hn::ConvertTo(df, lo), vd), df, yb + j);
        hn::StoreU(hn::Mul(hn::ConvertTo(df, hi), vd), df, yb + j + 16);
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
