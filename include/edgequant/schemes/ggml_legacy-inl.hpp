// Per-target helpers shared by the SIMD kernels of ggml's 32-element block
// types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1) and Q8_K (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_GGML_LEGACY_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_GGML_LEGACY_INL_
#undef EDGEQUANT_SCHEMES_GGML_LEGACY_INL_
#else
#define EDGEQUANT_SCHEMES_GGML_LEGACY_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Blocks whose fp16 fields are converted together: one vector conversion for
// several blocks instead of the scalar converter per block.
inline constexpr std::size_t kScaleGroup = 8;

// fp32 -> fp16 bits of kScaleGroup values, round to nearest even. The hardware
// converters (x86 F16C on AVX2 and better, AArch64) are bit-identical to
// f32_to_f16 (see float_types-inl.hpp); Highway 1.0.3 emulates the others
// with truncation, so those targets use the scalar converter.
HWY_INLINE void F32ToF16Group(const float* HWY_RESTRICT in, f16_bits* HWY_RESTRICT out) {
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2) || HWY_TARGET == HWY_NEON
  const hn::CappedTag<float, 4> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  auto* o = reinterpret_cast<hwy::float16_t*>(out);
  for (std::size_t i = 0; i < kScaleGroup; i += hn::Lanes(df)) {
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, in + i)), dh, o + i);
  }
#else
  for (std::size_t i = 0; i < kScaleGroup; ++i) out[i] = ggml::fp16(in[i]);
#endif
}

// fp16 bits -> fp32 of kScaleGroup values (exact).
HWY_INLINE void F16ToF32Group(const f16_bits* HWY_RESTRICT in, float* HWY_RESTRICT out) {
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2) || HWY_TARGET == HWY_NEON
  const hn::CappedTag<float, 4> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto* h = reinterpret_cast<const hwy::float16_t*>(in);
  for (std::size_t i = 0; i < kScaleGroup; i += hn::Lanes(df)) {
    hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, h + i)), df, out + i);
  }
#else
  for (std::size_t i = 0; i < kScaleGroup; ++i) out[i] = ggml::fp32(in[i]);
#endif
}

// Writes fp16(v[k]) into field `f` of blocks y[0..g), g <= kScaleGroup.
template <class Block>
HWY_INLINE void StoreF16Field(const float* HWY_RESTRICT v, std::size_t g, Block* HWY_RESTRICT y,
                              f16_bits Block::*f) {
  f16_bits h[kScaleGroup];
  F32ToF16Group(v, h);
  for (std::size_t k = 0; k < g; ++k) y[k].*f = h[k];
}

// Reads field `f` of blocks x[0..g) as fp32 into v[0..g).
template <class Block>
HWY_INLINE void LoadF16Field(const Block* HWY_RESTRICT x, std::size_t g, f16_bits Block::*f,
                             float* HWY_RESTRICT v) {
  f16_bits h[kScaleGroup] = {};
  for (std::size_t k = 0; k < g; ++k) h[k] = x[k].*f;
  F16ToF32Group(h, v);
}

// The signed value of the first of x[0..n) with the largest |x| (ggml's
// `if (amax < fabsf(v))` scan), n a multiple of Lanes(d); 0 for a zero block.
template <class D>
HWY_INLINE float SignedAbsMax(D d, const float* HWY_RESTRICT x, std::size_t n) {
  const float amax = AbsMax(d, x, n);
  if (amax == 0.0f) return 0.0f;
  const auto va = hn::Set(d, amax);
  for (std::size_t j = 0; j < n; j += hn::Lanes(d)) {
    const intptr_t k = hn::FindFirstTrue(d, hn::Eq(hn::Abs(hn::LoadU(d, x + j)), va));
    if (k >= 0) return x[j + static_cast<std::size_t>(k)];
  }
  return amax;  // not reached for finite x
}

// min and max of x[0..32) exactly as ggml's sequential `v < min` / `v > max`
// scans give them, signed zeros included: when the minimum is zero the scan
// keeps the first zero it met, and max == min == that zero for a zero block.
template <class D>
HWY_INLINE void MinMax32(D d, const float* HWY_RESTRICT x, float* min_out, float* max_out) {
  auto vmin = hn::LoadU(d, x);
  auto vmax = vmin;
  for (std::size_t j = hn::Lanes(d); j < 32; j += hn::Lanes(d)) {
    const auto v = hn::LoadU(d, x + j);
    vmin = hn::Min(vmin, v);
    vmax = hn::Max(vmax, v);
  }
  float min = hn::GetLane(hn::MinOfLanes(d, vmin));
  float max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (min == 0.0f) {
    for (int j = 0; j < 32; ++j) {
      if (x[j] == 0.0f) {
        min = x[j];
        break;
      }
    }
    if (max == 0.0f) max = min;
  }
  *min_out = min;
  *max_out = max;
}

// --- Groups of blocks: one block per lane ---------------------------------
// Where vectors are one or two 128-bit blocks of 4 or 8 floats (x86, NEON),
// the kernels take G = Lanes(d) blocks at a time: each block's reduction
// vector is transposed into lane k of one vector, so the per-block scalar
// work (divisions, fp16 conversions, sign selection) runs once per group on
// vectors, without branches. Min, max and integer sums are order-free.
// Kernels guard their group loop with the same `#if HWY_TARGET != HWY_SCALAR`.
#if HWY_TARGET != HWY_SCALAR  // (1-lane vectors have no interleave/concat ops)
template <class D>
inline constexpr bool kBlockGroups = (HWY_ARCH_X86 || HWY_TARGET == HWY_NEON) &&
                                     (hn::MaxLanes(D()) == 4 || hn::MaxLanes(D()) == 8);

// Lane k of the result = op over the lanes of v[k], k < Lanes(d).
template <class D, class Op>
HWY_INLINE hn::Vec<D> TransposeReduce(D d, const hn::Vec<D>* v, Op op) {
  const hn::Repartition<std::uint64_t, D> d64;
  // Per 128-bit block: lane k = op over that block's lanes of w[k], k < 4.
  auto quad = [&](const hn::Vec<D>* w) {
    const auto u01 = op(hn::InterleaveLower(d, w[0], w[1]), hn::InterleaveUpper(d, w[0], w[1]));
    const auto u23 = op(hn::InterleaveLower(d, w[2], w[3]), hn::InterleaveUpper(d, w[2], w[3]));
    const auto lo = hn::InterleaveLower(d64, hn::BitCast(d64, u01), hn::BitCast(d64, u23));
    const auto hi = hn::InterleaveUpper(d64, hn::BitCast(d64, u01), hn::BitCast(d64, u23));
    return op(hn::BitCast(d, lo), hn::BitCast(d, hi));
  };
  if constexpr (hn::MaxLanes(D()) == 4) {
    return quad(v);
  } else {
    const auto a = quad(v), b = quad(v + 4);
    return op(hn::ConcatLowerLower(d, b, a), hn::ConcatUpperUpper(d, b, a));
  }
}

struct MaxOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Max(a, b);
  }
};
struct MinOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Min(a, b);
  }
};
struct AddOp {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const {
    return hn::Add(a, b);
  }
};

// Lane k: max |x| of block k (32 floats at x + 32k).
template <class D>
HWY_INLINE hn::Vec<D> AbsMaxGroup(D d, const float* HWY_RESTRICT x) {
  const std::size_t N = hn::Lanes(d);
  hn::Vec<D> m[8];
  for (std::size_t k = 0; k < N; ++k) {
    auto a = hn::Abs(hn::LoadU(d, x + 32 * k));
    for (std::size_t j = N; j < 32; j += N) a = hn::Max(a, hn::Abs(hn::LoadU(d, x + 32 * k + j)));
    m[k] = a;
  }
  return TransposeReduce(d, m, MaxOp());
}

// Lane k: min and max of block k, with MinMax32's signed-zero rule.
template <class D>
HWY_INLINE void MinMaxGroup(D d, const float* HWY_RESTRICT x, hn::Vec<D>* min_out,
                            hn::Vec<D>* max_out) {
  const std::size_t N = hn::Lanes(d);
  hn::Vec<D> lo[8], hi[8];
  for (std::size_t k = 0; k < N; ++k) {
    auto mn = hn::LoadU(d, x + 32 * k);
    auto mx = mn;
    for (std::size_t j = N; j < 32; j += N) {
      const auto v = hn::LoadU(d, x + 32 * k + j);
      mn = hn::Min(mn, v);
      mx = hn::Max(mx, v);
    }
    lo[k] = mn;
    hi[k] = mx;
  }
  auto mn = TransposeReduce(d, lo, MinOp());
  auto mx = TransposeReduce(d, hi, MaxOp());
  if (!hn::AllFalse(d, hn::Eq(mn, hn::Zero(d)))) {
    float a[8], b[8];
    hn::StoreU(mn, d, a);
    hn::StoreU(mx, d, b);
    for (std::size_t k = 0; k < N; ++k) {
      if (a[k] == 0.0f) MinMax32(d, x + 32 * k, &a[k], &b[k]);
    }
    mn = hn::LoadU(d, a);
    mx = hn::LoadU(d, b);
  }
  *min_out = mn;
  *max_out = mx;
}

// Lane k: the signed value of the first element of block k with the largest
// |x| (SignedAbsMax). From the block's max and min; where both signs reach
// the largest magnitude (or the block is zero) the first one is looked up.
template <class D>
HWY_INLINE hn::Vec<D> SignedAbsMaxGroup(D d, const float* HWY_RESTRICT x) {
  hn::Vec<D> mn = hn::Zero(d), mx = hn::Zero(d);
  const std::size_t N = hn::Lanes(d);
  hn::Vec<D> lo[8], hi[8];
  for (std::size_t k = 0; k < N; ++k) {
    auto a = hn::LoadU(d, x + 32 * k);
    auto b = a;
    for (std::size_t j = N; j < 32; j += N) {
      const auto v = hn::LoadU(d, x + 32 * k + j);
      a = hn::Min(a, v);
      b = hn::Max(b, v);
    }
    lo[k] = a;
    hi[k] = b;
  }
  mn = TransposeReduce(d, lo, MinOp());
  mx = TransposeReduce(d, hi, MaxOp());
  const auto neg = hn::Neg(mn);
  auto sel = hn::IfThenElse(hn::Gt(neg, mx), mn, mx);
  if (!hn::AllFalse(d, hn::Eq(neg, mx))) {
    float s[8], a[8], b[8];
    hn::StoreU(sel, d, s);
    hn::StoreU(neg, d, a);
    hn::StoreU(mx, d, b);
    for (std::size_t k = 0; k < N; ++k) {
      if (a[k] == b[k]) s[k] = SignedAbsMax(d, x + 32 * k, 32);
    }
    sel = hn::LoadU(d, s);
  }
  return sel;
}

#endif  // HWY_TARGET != HWY_SCALAR

// d != 0 ? 1/d : 0 per lane.
template <class D>
HWY_INLINE hn::Vec<D> InverseOrZero(D d, hn::Vec<D> v) {
  return hn::IfThenElseZero(hn::Ne(v, hn::Zero(d)), hn::Div(hn::Set(d, 1.0f), v));
}

// Writes fp16(lane k of v) into field `f` of blocks y[0..Lanes(d)).
template <class D, class Block>
HWY_INLINE void StoreF16Lanes(D d, hn::Vec<D> v, Block* HWY_RESTRICT y, f16_bits Block::*f) {
  float a[kScaleGroup] = {};
  hn::StoreU(v, d, a);
  StoreF16Field(a, hn::Lanes(d), y, f);
}

// Bit i = mask lane i (Lanes(d) <= 32).
template <class D, class M>
HWY_INLINE std::uint32_t MaskBits(D d, M m) {
  std::uint8_t bytes[8] = {};
  hn::StoreMaskBits(d, m, bytes);
  return static_cast<std::uint32_t>(bytes[0]) | static_cast<std::uint32_t>(bytes[1]) << 8 |
         static_cast<std::uint32_t>(bytes[2]) << 16 | static_cast<std::uint32_t>(bytes[3]) << 24;
}

// Stores 32 levels given as int32 vectors in Q5 layout: `lo` holds levels
// j..j+N-1, `hi` levels j+16..; nibbles into qs[j..], bit 4 into *qh_bits.
template <class DI, class V>
HWY_INLINE void StoreQ5Levels(DI di, V lo, V hi, std::size_t j, std::uint8_t* HWY_RESTRICT qs,
                              std::uint32_t* HWY_RESTRICT qh_bits) {
  const hn::Rebind<std::uint8_t, DI> d8;
  const auto low4 = hn::Set(di, 0x0F);
  const auto bit4 = hn::Set(di, 0x10);
  const auto packed = hn::Or(hn::And(lo, low4), hn::ShiftLeft<4>(hn::And(hi, low4)));
  hn::StoreU(hn::DemoteTo(d8, packed), d8, qs + j);
  *qh_bits |= MaskBits(di, hn::Ne(hn::And(lo, bit4), hn::Zero(di))) << j;
  *qh_bits |= MaskBits(di, hn::Ne(hn::And(hi, bit4), hn::Zero(di))) << (j + 16);
}

HWY_INLINE void StoreQh(std::uint32_t h, std::uint8_t* qh) {
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<std::uint8_t>(h >> (8 * k));
}

// Bit 4 of the Q5 levels j..j+N-1 (from qh bits j..) as int32 lanes (0 or 16).
template <class DI>
HWY_INLINE hn::Vec<DI> Q5HighBits(DI di, std::uint32_t qh, std::size_t j) {
  const hn::RebindToUnsigned<DI> du;
  const auto shifted = hn::Set(du, qh) >> hn::Iota(du, static_cast<std::uint32_t>(j));
  return hn::BitCast(di, hn::And(hn::ShiftLeft<4>(shifted), hn::Set(du, 0x10u)));
}

// Levels of one block of the x86 backend's Q8_0/Q8_1 activation quantizer
// (§5) for id = 127/amax: round half to even (_mm256_round_ps NEAREST;
// |x*id| <= 127). Returns the int32 lanes of Σq (reduce them in any order).
// An Inf id (tiny amax): every level -128 and Σq 0, as cvtps2dq and the pack
// instructions give.
template <class D>
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> Q8ActivationLevels(D df, const float* HWY_RESTRICT x,
                                                             float id,
                                                             std::int8_t* HWY_RESTRICT qs) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<std::int8_t, D> d8;
  auto sum = hn::Zero(di);
  if (ggml::inverse_scale_overflowed(id)) {
    for (int j = 0; j < 32; ++j) qs[j] = -128;
    return sum;
  }
  const auto vid = hn::Set(df, id);
  for (std::size_t j = 0; j < 32; j += hn::Lanes(df)) {
    const auto q = hn::ConvertTo(di, hn::Round(hn::Mul(hn::LoadU(df, x + j), vid)));
    sum = hn::Add(sum, q);
    hn::StoreU(hn::DemoteTo(d8, q), d8, qs + j);
  }
  return sum;
}

// 127/amax, or 0 for amax == 0 (the activation quantizer's inverse scale).
template <class D>
HWY_INLINE hn::Vec<D> ActivationInverse(D d, hn::Vec<D> amax) {
  return hn::IfThenElseZero(hn::Ne(amax, hn::Zero(d)), hn::Div(hn::Set(d, 127.f), amax));
}

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
