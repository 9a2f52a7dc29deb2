// SIMD kernels for Q2_0 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q2_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q2_0_INL_
#undef EDGEQUANT_SCHEMES_Q2_0_INL_
#else
#define EDGEQUANT_SCHEMES_Q2_0_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/q2_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// ggml::q2_0_level(p) in every lane for p = x * (1/amax) of the same block:
// as for the ternary types (tq1_0-inl.hpp) p is ±Inf/NaN (INT_MIN from the x86
// conversion: level 0) or |p| < 1 + 2^-22, where clamp(round_half_away(p) +
// 1, 0, 3) is 1 + [p >= 0.5] - [p <= -0.5].
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> Q2_0Level(DF df, hn::Vec<DF> p) {
  const hn::RebindToSigned<DF> di;
  const auto small = hn::Lt(hn::Abs(p), hn::Set(df, 2.0f));  // false for Inf, NaN
  const auto up = hn::RebindMask(di, hn::Ge(p, hn::Set(df, 0.5f)));
  const auto down = hn::RebindMask(di, hn::Le(p, hn::Set(df, -0.5f)));
  const auto level =
      hn::Sub(hn::Add(hn::Set(di, 1), hn::VecFromMask(di, down)), hn::VecFromMask(di, up));
  return hn::IfThenElseZero(hn::RebindMask(di, small), level);
}

template <>
struct SimdKernels<Q2_0> {
  // amax is order-free; each byte holds 4 consecutive elements, so the
  // elements are de-interleaved by 4 and the 4 levels of a byte sit in the
  // same lane of 4 vectors.
  static void quantize_row(const float* HWY_RESTRICT x, Q2_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 16> df;
    const hn::Rebind<std::uint8_t, decltype(df)> du8;
    const std::size_t N = hn::Lanes(df);
    for (std::size_t b = 0; b < n / 64; ++b) {
      const float* xb = x + b * 64;
      const float d = AbsMax(df, xb, 64);
      const float id = d > 0.0f ? 1.0f / d : 0.0f;
      y[b].d = ggml::fp16(d);
      const auto vid = hn::Set(df, id);
      for (std::size_t k = 0; k < 16; k += N) {
        hn::Vec<decltype(df)> v0, v1, v2, v3;
        hn::LoadInterleaved4(df, xb + 4 * k, v0, v1, v2, v3);
        const auto q = hn::Or(hn::Or(Q2_0Level(df, hn::Mul(v0, vid)),
                                     hn::ShiftLeft<2>(Q2_0Level(df, hn::Mul(v1, vid)))),
                              hn::Or(hn::ShiftLeft<4>(Q2_0Level(df, hn::Mul(v2, vid))),
                                     hn::ShiftLeft<6>(Q2_0Level(df, hn::Mul(v3, vid)))));
        hn::StoreU(hn::DemoteTo(du8, q), du8, y[b].qs + k);
      }
    }
  }

  // y = (q - 1) * d, re-interleaved by 4 on the store.
  static void dequantize_row(const Q2_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::CappedTag<float, 16> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> du8;
    const std::size_t N = hn::Lanes(df);
    const auto three = hn::Set(di, 3);
    const auto one = hn::Set(di, 1);
    for (std::size_t b = 0; b < n / 64; ++b) {
      const auto vd = hn::Set(df, ggml::fp32(x[b].d));
      for (std::size_t k = 0; k < 16; k += N) {
        const auto q = hn::BitCast(
            di, hn::PromoteTo(hn::RebindToUnsigned<decltype(df)>(), hn::LoadU(du8, x[b].qs + k)));
        auto level = [&](auto shifted) {
          return hn::Mul(hn::ConvertTo(df, hn::Sub(hn::And(shifted, three), one)), vd);
        };
        hn::StoreInterleaved4(level(q), level(hn::ShiftRight<2>(q)), level(hn::ShiftRight<4>(q)),
                              level(hn::ShiftRight<6>(q)), df, y + b * 64 + 4 * k);
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
