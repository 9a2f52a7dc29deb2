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
#include <cstring>

#include "edgequant/core/config.hpp"
#include "edgequant/kernels/row_kernels.hpp"
#include "hwy/cache_control.h"
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
concept HasSimdDequantizeStream = requires(const typename S::Block* x, float* y, std::size_t n) {
  SimdKernels<S>::dequantize_row_stream(x, y, n);
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
  static void dequantize_stream(const void* x, float* y, std::size_t n) {
    SimdKernels<S>::dequantize_row_stream(static_cast<const typename S::Block*>(x), y, n);
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
  if constexpr (HasSimdDequantizeStream<S>) k.dequantize_stream = &ErasedSimd<S>::dequantize_stream;
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

// Index of the first NaN/Inf in x[0..n), or n. The |x| bit patterns of
// non-finite floats are the integers >= 0x7f800000: an integer max over a
// chunk (order-free) finds the chunk, a scalar scan the index.
inline std::size_t FirstNonFinite(const float* HWY_RESTRICT x, std::size_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const std::size_t N = hn::Lanes(df);
  const auto abs_mask = hn::Set(di, 0x7fffffff);
  const auto finite_max = hn::Set(di, 0x7f7fffff);
  auto abs_bits = [&](std::size_t i) { return hn::And(hn::BitCast(di, hn::LoadU(df, x + i)), abs_mask); };
  std::size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const auto m = hn::Max(hn::Max(abs_bits(i), abs_bits(i + N)),
                           hn::Max(abs_bits(i + 2 * N), abs_bits(i + 3 * N)));
    if (!hn::AllFalse(di, hn::Gt(m, finite_max))) break;
  }
  for (; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return i;
  }
  return n;
}

// Dequantized output: regular stores, or (kStream) non-temporal stores in
// 16-byte pieces, for which `p` must be 16-byte aligned (StreamAligned).
template <bool kStream, class D>
HWY_INLINE void StoreOut(D d, hn::Vec<D> v, float* HWY_RESTRICT p) {
#if HWY_TARGET != HWY_SCALAR
  if constexpr (kStream && hn::MaxLanes(D()) == 8) {
    const hn::Half<D> dh;
    hn::Stream(hn::LowerHalf(dh, v), dh, p);
    hn::Stream(hn::UpperHalf(dh, v), dh, p + 4);
    return;
  } else if constexpr (kStream && hn::MaxLanes(D()) == 4) {
    hn::Stream(v, d, p);
    return;
  }
#endif
  hn::StoreU(v, d, p);
}
inline bool StreamAligned(const float* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
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
