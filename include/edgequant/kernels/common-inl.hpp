// Per-target building blocks shared by every scheme's SIMD code, and the
// per-target RowKernels getter (Highway per-target header).
#if defined(EDGEQUANT_KERNELS_COMMON_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_KERNELS_COMMON_INL_
#undef EDGEQUANT_KERNELS_COMMON_INL_
#else
#define EDGEQUANT_KERNELS_COMMON_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/core/config.hpp"
#include "edgequant/kernels/row_kernels.hpp"
#include "hwy/highway.h"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Schemes specialise this with static quantize_row / dequantize_row (same
// signatures as the scalar reference, typed blocks). Missing members fall
// back to the scalar reference.
template <class S>
struct SimdKernels {};

template <class S>
concept HasSimdQuantize = requires(const float* x, typename S::Block* y, std::size_t n,
                                   const float* w) { SimdKernels<S>::quantize_row(x, y, n, w); };
template <class S>
concept HasSimdDequantize = requires(const typename S::Block* x, float* y, std::size_t n) {
  SimdKernels<S>::dequantize_row(x, y, n);
};

template <class S>
concept HasSimdActivation = requires(const float* x, typename S::Block* y, std::size_t n) {
  SimdKernels<S>::quantize_activation(x, y, n);
};

template <class S>
struct ErasedSimd {
  static void quantize(const float* x, void* y, std::size_t n, const float* w) {
    SimdKernels<S>::quantize_row(x, static_cast<typename S::Block*>(y), n, w);
  }
  static void dequantize(const void* x, float* y, std::size_t n) {
    SimdKernels<S>::dequantize_row(static_cast<const typename S::Block*>(x), y, n);
  }
  static void activation(const float* x, void* y, std::size_t n) {
    SimdKernels<S>::quantize_activation(x, static_cast<typename S::Block*>(y), n);
  }
};

// The SIMD kernels this target has for S (null members: use the reference).
template <class S>
inline RowKernels row_kernels() {
  RowKernels k;
  if constexpr (HasSimdQuantize<S>) k.quantize = &ErasedSimd<S>::quantize;
  if constexpr (HasSimdDequantize<S>) k.dequantize = &ErasedSimd<S>::dequantize;
  if constexpr (HasSimdActivation<S>) k.activation = &ErasedSimd<S>::activation;
  return k;
}

// round() semantics (half away from zero) from Highway's half-to-even Round:
// exact for every float.
template <class D, class V>
HWY_INLINE V RoundHalfAway(D d, V v) {
  const V t = hn::Trunc(v);
  const V frac = hn::Abs(hn::Sub(v, t));
  const auto tie = hn::Eq(frac, hn::Set(d, 0.5f));
  return hn::IfThenElse(tie, hn::Add(t, hn::CopySign(hn::Set(d, 1.0f), v)), hn::Round(v));
}

// Max of |x[0..n)|, n a multiple of Lanes(d). Max is exact in any order.
template <class D>
HWY_INLINE float AbsMax(D d, const float* HWY_RESTRICT x, std::size_t n) {
  auto m = hn::Zero(d);
  for (std::size_t i = 0; i < n; i += hn::Lanes(d)) m = hn::Max(m, hn::Abs(hn::LoadU(d, x + i)));
  return hn::GetLane(hn::MaxOfLanes(d, m));
}

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
