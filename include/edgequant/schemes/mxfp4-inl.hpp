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
  // nearest code of every element across the lanes.
  static void quantize_row(const float* HWY_RESTRICT x, MXFP4::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 16> df;
    for (std::size_t b = 0; b < n / 32; ++b) {
      const float* xb = x + b * 32;
      const std::uint8_t e = ggml::mxfp4_scale_exponent(AbsMax(df, xb, 32));
      y[b].e = e;
      const Fp4Levels lv(ggml::e8m0_to_fp32_half(e));
      QuantizeFp4Pairs(df, lv, xb, 16, y[b].qs);
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
