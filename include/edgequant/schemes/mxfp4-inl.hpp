// SIMD kernels for MXFP4, and the vector fp4 nearest-code rule NVFP4 shares
// (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_MXFP4_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_MXFP4_INL_
#undef EDGEQUANT_SCHEMES_MXFP4_INL_
#else
#define EDGEQUANT_SCHEMES_MXFP4_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/kernels/nibble_lut-inl.hpp"
#include "edgequant/schemes/mxfp4.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// The fp4 magnitudes times d (exact: a small integer times a power of two or
// a UE4M3 value). Plain floats: sizeless vector types (SVE) cannot be members.
struct Fp4Levels {
  float v[8];
  explicit Fp4Levels(float d) {
    for (int k = 0; k < 8; ++k) v[k] = static_cast<float>(ggml::kValuesFp4[k]) * d;
  }
};

// best_index_fp4 for every lane, from |x| over the 8 magnitude codes, then the
// sign. Same result as the reference scan over all 16 codes: for x > 0 a
// negative code's error fl(|v| + x) is never below code 0's error x (and the
// reverse for x < 0, where code 8 only ties code 0), and
// |fl(-m*d - x)| = |fl(m*d - |x|)| since rounding to nearest is symmetric.
// Strict < keeps the first minimum, as the scan does.
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> BestIndexFp4(DF df, const Fp4Levels& lv, hn::Vec<DF> x) {
  const hn::RebindToSigned<DF> di;
  const auto a = hn::Abs(x);
  auto best = a;  // code 0: |0*d - x|
  auto idx = hn::Zero(di);
  for (int k = 1; k < 8; ++k) {
    const auto err = hn::Abs(hn::Sub(hn::Set(df, lv.v[k]), a));
    const auto lt = hn::Lt(err, best);
    best = hn::IfThenElse(lt, err, best);
    idx = hn::IfThenElse(hn::RebindMask(di, lt), hn::Set(di, k), idx);
  }
  const auto neg = hn::RebindMask(di, hn::Lt(x, hn::Zero(df)));
  return hn::Or(idx, hn::IfThenElseZero(hn::And(neg, hn::Gt(idx, hn::Zero(di))), hn::Set(di, 8)));
}

// best_index_fp4 for MXFP4's scales e <= 252: d a power of two (or the
// denormal 2^-128, 2^-127) with every level m*d finite, and |x| < 16*d
// (d = 2^(floor(log2 amax) - 3), possibly one step more), or d far above
// every |x| (wrapped exponents of amax < 2^-125). Then the magnitude code is the number of
// midpoints m*d (m = 0.5, 1.5, 2.5, 3.5, 5, 7, 10) strictly below |x|: between two levels v < |x| <
// v', the error |x| - v is exact (both are multiples of ulp(|x|) and it is below |x|), v' - |x| is
// exact too unless v = 0 and |x| < d/2, where it cannot win anyway; so code k+1 beats code k iff
// |x| is above their midpoint, ties to the lower code, as the scan's strict < does. m*d is exact
// (denormals too).
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> BestIndexFp4Pow2(DF df, float d, hn::Vec<DF> x) {
  const hn::RebindToSigned<DF> di;
  constexpr float kMid[7] = {0.5f, 1.5f, 2.5f, 3.5f, 5.0f, 7.0f, 10.0f};
  const auto a = hn::Abs(x);
  auto c0 = hn::Zero(di);
  auto c1 = hn::Zero(di);
  for (int k = 0; k < 7; k += 2) {
    c0 = hn::Sub(c0, hn::VecFromMask(di, hn::RebindMask(di, hn::Gt(a, hn::Set(df, kMid[k] * d)))));
    if (k + 1 < 7) {
      c1 = hn::Sub(
          c1, hn::VecFromMask(di, hn::RebindMask(di, hn::Gt(a, hn::Set(df, kMid[k + 1] * d)))));
    }
  }
  const auto idx = hn::Add(c0, c1);
  const auto neg = hn::RebindMask(di, hn::Lt(x, hn::Zero(df)));
  return hn::Or(idx, hn::IfThenElseZero(hn::And(neg, hn::Gt(idx, hn::Zero(di))), hn::Set(di, 8)));
}

// Packs the codes of x[0..half) (low nibbles) and x[half..2*half) (high
// nibbles) into half bytes; half a multiple of Lanes(df).
template <class DF>
HWY_INLINE void QuantizeFp4Pairs(DF df, const Fp4Levels& lv, const float* HWY_RESTRICT x,
                                 std::size_t half, std::uint8_t* HWY_RESTRICT qs) {
  const hn::Rebind<std::uint8_t, DF> du8;
  for (std::size_t j = 0; j < half; j += hn::Lanes(df)) {
    const auto lo = BestIndexFp4(df, lv, hn::LoadU(df, x + j));
    const auto hi = BestIndexFp4(df, lv, hn::LoadU(df, x + half + j));
    hn::StoreU(hn::DemoteTo(du8, hn::Or(lo, hn::ShiftLeft<4>(hi))), du8, qs + j);
  }
}

template <>
struct SimdKernels<MXFP4> {
  // Per block: amax (order-free), the scale byte in scalar code, then the
  // nearest code of every element across the lanes (midpoint form: the
  // scale is a power of two at least amax/16).
  static void quantize_row(const float* HWY_RESTRICT x, MXFP4::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 16> df;
    for (std::size_t b = 0; b < n / 32; ++b) {
      const float* xb = x + b * 32;
      const std::uint8_t e = ggml::mxfp4_scale_exponent(AbsMax(df, xb, 32));
      y[b].e = e;
      const float d = ggml::e8m0_to_fp32_half(e);
      if (e > 252) {  // 8*d overflows to Inf: the general scan (amax near FLT_MAX)
        QuantizeFp4Pairs(df, Fp4Levels(d), xb, 16, y[b].qs);
        continue;
      }
      const hn::Rebind<std::uint8_t, decltype(df)> du8;
      for (std::size_t j = 0; j < 16; j += hn::Lanes(df)) {
        const auto lo = BestIndexFp4Pow2(df, d, hn::LoadU(df, xb + j));
        const auto hi = BestIndexFp4Pow2(df, d, hn::LoadU(df, xb + 16 + j));
        hn::StoreU(hn::DemoteTo(du8, hn::Or(lo, hn::ShiftLeft<4>(hi))), du8, y[b].qs + j);
      }
    }
  }

  static void dequantize_row(const MXFP4::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::CappedTag<float, 16> df;
    HWY_ALIGN std::int8_t v[32];
    for (std::size_t b = 0; b < n / 32; ++b) {
      LookupNibbles32(ggml::kValuesFp4, x[b].qs, v);
      ScaleInt8(df, v, 32, ggml::e8m0_to_fp32_half(x[b].e), y + b * 32);
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
