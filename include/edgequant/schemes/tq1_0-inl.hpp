// SIMD kernels for TQ1_0, and the vector ternary level TQ2_0 shares
// (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_TQ1_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_TQ1_0_INL_
#undef EDGEQUANT_SCHEMES_TQ1_0_INL_
#else
#define EDGEQUANT_SCHEMES_TQ1_0_INL_
#endif

#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/tq1_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// ggml::ternary_level(p) in every lane for p = x * (1/amax) of the same
// block. For finite input that p is either ±Inf/NaN (1/amax overflowed: level
// 1) or |p| <= |x|*fl(1/amax) < 1 + 2^-22 (|x| <= amax), where round half away
// plus 1 is 1 + [p >= 0.5] - [p <= -0.5]: two compares instead of a rounding.
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> TernaryLevel(DF df, hn::Vec<DF> p) {
  const hn::RebindToSigned<DF> di;
  const auto small = hn::Lt(hn::Abs(p), hn::Set(df, 2.0f));  // false for Inf, NaN
  const auto up = hn::RebindMask(di, hn::And(small, hn::Ge(p, hn::Set(df, 0.5f))));
  const auto down = hn::RebindMask(di, hn::And(small, hn::Le(p, hn::Set(df, -0.5f))));
  return hn::Sub(hn::Add(hn::Set(di, 1), hn::VecFromMask(di, down)), hn::VecFromMask(di, up));
}

// (v*256 + 242) / 243 for v in 0..242 as (num * 69043) >> 24 in uint32: the
// multiplier is ceil(2^24/243); its error 233*num stays below 2^24 for every
// num <= 62194 (checked for all of them by a static_assert in tq1_0.hpp).
template <class DU>
HWY_INLINE hn::Vec<DU> Tq1PackVec(DU du, hn::Vec<DU> v) {
  const auto num = hn::Add(hn::ShiftLeft<8>(v), hn::Set(du, 242u));
  return hn::ShiftRight<24>(hn::Mul(num, hn::Set(du, 69043u)));
}

template <>
struct SimdKernels<TQ1_0> {
  // amax is order-free; byte m holds the trits of elements m + stride*k, so
  // the five trits of a byte sit in the same lane of five contiguous loads.
  static void quantize_row(const float* HWY_RESTRICT x, TQ1_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 16> df;
    for (std::size_t b = 0; b < n / 256; ++b) {
      const float* xb = x + b * 256;
      const float d = AbsMax(df, xb, 256);
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[b].d = ggml::fp16(d);
      pack5(df, xb, 32, id, y[b].qs);
      pack5(df, xb + 160, 16, id, y[b].qs + 32);
      for (int j = 0; j < 4; ++j) {
        std::uint8_t q = 0;
        for (int k = 0; k < 4; ++k) {
          q = static_cast<std::uint8_t>(q * 3 + ggml::ternary_level(xb[240 + j + 4 * k] * id));
        }
        y[b].qh[j] = ggml::tq1_pack(static_cast<std::uint8_t>(q * 3));
      }
    }
  }

  // Trit k of byte q: ((q * 3^k mod 256) * 3) >> 8; y = (t - 1) * d.
  static void dequantize_row(const TQ1_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::CappedTag<float, 16> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    // The 16 qh elements 240 + 4k + j: byte j, multiplier 3^k.
    alignas(64) static constexpr std::int32_t kQhPow[16] = {1, 1, 1, 1, 3,  3,  3,  3,
                                                            9, 9, 9, 9, 27, 27, 27, 27};
    for (std::size_t b = 0; b < n / 256; ++b) {
      const auto vd = hn::Set(df, ggml::fp32(x[b].d));
      float* yb = y + b * 256;
      for (int k = 0; k < 5; ++k) {
        const auto pw = hn::Set(di, kPow3[k]);
        for (std::size_t m = 0; m < 32; m += N) {
          hn::StoreU(trit_value(df, load_bytes(df, x[b].qs + m), pw, vd), df, yb + 32 * k + m);
        }
        for (std::size_t m = 0; m < 16; m += N) {
          hn::StoreU(trit_value(df, load_bytes(df, x[b].qs + 32 + m), pw, vd), df,
                     yb + 160 + 16 * k + m);
        }
      }
      std::uint8_t qh4[16];
      for (int k = 0; k < 4; ++k) std::memcpy(qh4 + 4 * k, x[b].qh, 4);
      for (std::size_t m = 0; m < 16; m += N) {
        hn::StoreU(trit_value(df, load_bytes(df, qh4 + m), hn::LoadU(di, kQhPow + m), vd), df,
                   yb + 240 + m);
      }
    }
  }

 private:
  static constexpr std::int32_t kPow3[5] = {1, 3, 9, 27, 81};

  // N bytes zero-extended to int32 lanes.
  template <class DF>
  static hn::Vec<hn::RebindToSigned<DF>> load_bytes(DF, const std::uint8_t* p) {
    const hn::RebindToUnsigned<DF> du;
    return hn::BitCast(hn::RebindToSigned<DF>(),
                       hn::PromoteTo(du, hn::LoadU(hn::Rebind<std::uint8_t, DF>(), p)));
  }

  template <class DF, class VI>
  static hn::Vec<DF> trit_value(DF df, VI q, VI pow, hn::Vec<DF> vd) {
    const hn::RebindToSigned<DF> di;
    const auto qm = hn::And(hn::Mul(q, pow), hn::Set(di, 0xFF));
    const auto t = hn::ShiftRight<8>(hn::Mul(qm, hn::Set(di, 3)));
    return hn::Mul(hn::ConvertTo(df, hn::Sub(t, hn::Set(di, 1))), vd);
  }

  // Bytes out[m] for m < count: the five trits of x[m + stride*k], k = 0..4.
  template <class DF>
  static void pack5(DF df, const float* HWY_RESTRICT x, std::size_t stride, float id,
                    std::uint8_t* HWY_RESTRICT out) {
    const hn::RebindToSigned<DF> di;
    const hn::RebindToUnsigned<DF> du;
    const hn::Rebind<std::uint8_t, DF> du8;
    const auto vid = hn::Set(df, id);
    const auto three = hn::Set(di, 3);
    for (std::size_t m = 0; m < stride; m += hn::Lanes(df)) {
      auto v = hn::Zero(di);
      for (std::size_t k = 0; k < 5; ++k) {
        v = hn::Add(hn::Mul(v, three),
                    TernaryLevel(df, hn::Mul(hn::LoadU(df, x + m + stride * k), vid)));
      }
      hn::StoreU(hn::DemoteTo(du8, hn::BitCast(di, Tq1PackVec(du, hn::BitCast(du, v)))), du8,
                 out + m);
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
