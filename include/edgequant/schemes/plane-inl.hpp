// Per-target building blocks of the plane schemes' SIMD kernels and the
// per-target PlaneKernels getter (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_PLANE_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_PLANE_INL_
#undef EDGEQUANT_SCHEMES_PLANE_INL_
#else
#define EDGEQUANT_SCHEMES_PLANE_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/core/config.hpp"
#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/plane.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Schemes specialise this with static quantize_row / dequantize_row (the
// reference's signatures). Missing members use the scalar reference.
template <class S>
struct SimdPlane {};

template <class S>
concept HasSimdPlaneQuantize = requires(const float* x, std::size_t k, RowPlanes o, FloatType t) {
  SimdPlane<S>::quantize_row(x, k, o, t);
};
template <class S>
concept HasSimdPlaneDequantize = requires(ConstRowPlanes in, std::size_t k, float* y, FloatType t) {
  SimdPlane<S>::dequantize_row(in, k, y, t);
};

template <class S>
inline PlaneKernels plane_kernels() {
  PlaneKernels k;
  if constexpr (HasSimdPlaneQuantize<S>) k.quantize = &SimdPlane<S>::quantize_row;
  if constexpr (HasSimdPlaneDequantize<S>) k.dequantize = &SimdPlane<S>::dequantize_row;
  return k;
}

// rintf for every float on every target: truncate, then round the exact
// fraction (Highway's portable Round is off by one for 0.49999997f).
template <class D, class V>
HWY_INLINE V RoundEvenExact(D d, V v) {
  const hn::RebindToSigned<D> di;
  const V t = hn::Trunc(v);
  const V frac = hn::Abs(hn::Sub(v, t));
  const auto one_i = hn::Set(di, 1);
  const auto odd = hn::RebindMask(d, hn::Eq(hn::And(hn::ConvertTo(di, t), one_i), one_i));
  const V half = hn::Set(d, 0.5f);
  const auto up = hn::Or(hn::Gt(frac, half), hn::And(hn::Eq(frac, half), odd));
  return hn::IfThenElse(up, hn::Add(t, hn::CopySignToAbs(hn::Set(d, 1.0f), v)), t);
}

// roundf (half away from zero) for every float on every target.
template <class D, class V>
HWY_INLINE V RoundAwayExact(D d, V v) {
  const V t = hn::Trunc(v);
  const V frac = hn::Abs(hn::Sub(v, t));
  return hn::IfThenElse(hn::Ge(frac, hn::Set(d, 0.5f)),
                        hn::Add(t, hn::CopySignToAbs(hn::Set(d, 1.0f), v)), t);
}

// Min and max of x[0..n), n a multiple of Lanes(d); exact in any order for
// finite data (only the sign of a zero extreme may depend on the order:
// callers that care handle all-zero groups themselves).
template <class D>
HWY_INLINE void MinMaxOf(D d, const float* HWY_RESTRICT x, std::size_t n, float& mn, float& mx) {
  auto vmin = hn::LoadU(d, x);
  auto vmax = vmin;
  for (std::size_t i = hn::Lanes(d); i < n; i += hn::Lanes(d)) {
    const auto v = hn::LoadU(d, x + i);
    vmin = hn::Min(vmin, v);
    vmax = hn::Max(vmax, v);
  }
  mn = hn::GetLane(hn::MinOfLanes(d, vmin));
  mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
}

// Integral float lanes in [0, 255] -> bytes.
template <class D, class V>
HWY_INLINE void StoreCodes(D /*tag*/, V v, std::uint8_t* HWY_RESTRICT out) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<std::uint8_t, D> d8;
  hn::StoreU(hn::DemoteTo(d8, hn::ConvertTo(di, v)), d8, out);
}

// Bytes -> float lanes.
template <class D>
HWY_INLINE hn::Vec<D> LoadCodes(D d, const std::uint8_t* HWY_RESTRICT p) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<std::uint8_t, D> d8;
  return hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, p)));
}

// Round-to-nearest-even of float lanes to bfloat16, read back as float
// (NaN lanes pass through unchanged).
template <class D, class V>
HWY_INLINE V RoundToBf16(D d, V v) {
  const hn::RebindToUnsigned<D> du;
  const auto u = hn::BitCast(du, v);
  const auto lsb = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u));
  const auto r = hn::And(hn::Add(hn::Add(u, hn::Set(du, 0x7fffu)), lsb), hn::Set(du, 0xffff0000u));
  return hn::IfThenElse(hn::IsNaN(v), v, hn::BitCast(d, r));
}

// round_to_f16 lane-wise (the same integer rounding; exact for every float).
template <class D, class V>
HWY_INLINE V RoundToF16(D d, V v) {
  const hn::RebindToSigned<D> di;
  const auto u = hn::BitCast(di, v);
  const auto sign = hn::And(u, hn::Set(di, INT32_MIN));
  const auto a = hn::And(u, hn::Set(di, 0x7fffffff));
  const auto lsb = hn::And(hn::ShiftRight<13>(a), hn::Set(di, 1));
  const auto normal = hn::Or(sign, hn::And(hn::Add(hn::Add(a, hn::Set(di, 0x0fff)), lsb),
                                           hn::Set(di, static_cast<std::int32_t>(0xffffe000u))));
  const V half = hn::Set(d, 0.5f);
  const auto sub = hn::Or(sign, hn::BitCast(di, hn::Sub(hn::Add(hn::BitCast(d, a), half), half)));
  const auto inf = hn::Or(sign, hn::Set(di, 0x7f800000));
  auto r = hn::IfThenElse(hn::Lt(a, hn::Set(di, 0x38800000)), sub, normal);
  r = hn::IfThenElse(hn::Gt(a, hn::Set(di, 0x477fefff)), inf, r);  // a >= 0x477ff000
  return hn::IfThenElse(hn::IsNaN(v), v, hn::BitCast(d, r));
}

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
