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
#include "hwy/cache_control.h"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// ggml's nearest_int, bit for bit (also for Inf/NaN): add 1.5*2^23, keep the
// low mantissa bits.
template <class D>
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> NearestInt(D d, hn::Vec<D> v) {
  const hn::RebindToSigned<D> di;
  const auto bits = hn::BitCast(di, hn::Add(v, hn::Set(d, 12582912.f)));
  return hn::Sub(hn::And(bits, hn::Set(di, 0x007fffff)), hn::Set(di, 0x00400000));
}

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

// --- Importance-weighted scale searches, one block per lane ----------------
// make_qx_quants / make_qkx3_quants (§2.1, §2.4) run for Lanes(d) blocks at
// once: vector i holds element i of every block, each lane runs the
// reference's float operations in the reference's order (its sums stay
// sequential over the elements), and branches become per-lane selects.

// Element i of blocks x + 32k (k < Lanes(d)) into x_out[i]; their weights
// qw * sqrt(sigma2 + x*x) (the legacy imatrix weights) into w_out[i].
template <class D>
HWY_INLINE void LoadWeightedLanes(D d, const float* HWY_RESTRICT x, const float* HWY_RESTRICT qw,
                                  float sigma2, hn::Vec<D>* x_out, hn::Vec<D>* w_out) {
  constexpr std::size_t kMax = hn::MaxLanes(D());
  const std::size_t N = hn::Lanes(d);
  HWY_ALIGN float xt[32 * kMax], wt[32 * kMax], w[32];
  const auto vs = hn::Set(d, sigma2);
  for (std::size_t k = 0; k < N; ++k) {
    const float* xb = x + 32 * k;
    const float* qb = qw + 32 * k;
    for (std::size_t j = 0; j < 32; j += N) {
      const auto v = hn::LoadU(d, xb + j);
      hn::StoreU(hn::Mul(hn::LoadU(d, qb + j), hn::Sqrt(hn::Add(vs, hn::Mul(v, v)))), d, w + j);
    }
    for (std::size_t i = 0; i < 32; ++i) {
      xt[i * N + k] = xb[i];
      wt[i * N + k] = w[i];
    }
  }
  for (std::size_t i = 0; i < 32; ++i) {
    x_out[i] = hn::Load(d, xt + i * N);
    w_out[i] = hn::Load(d, wt + i * N);
  }
}

// make_qx_quants(32, nmax, x, L, rmse_type 1, w) per lane: levels L[i] in
// [0, 2*nmax), returns the scale.
template <class D>
HWY_INLINE hn::Vec<D> MakeQxQuantsLanes(D d, int nmax, const hn::Vec<D>* x, const hn::Vec<D>* w,
                                        hn::Vec<hn::RebindToSigned<D>>* L) {
  const hn::RebindToSigned<D> di;
  using VI = hn::Vec<decltype(di)>;
  const auto zero = hn::Zero(d);
  auto amax = zero, max = zero;
  for (int i = 0; i < 32; ++i) {
    const auto ax = hn::Abs(x[i]);
    const auto m = hn::Gt(ax, amax);
    amax = hn::IfThenElse(m, ax, amax);
    max = hn::IfThenElse(m, x[i], max);
  }
  const auto offset = hn::Set(di, nmax);
  const auto lo = hn::Set(di, -nmax), hi = hn::Set(di, nmax - 1);
  auto level = [&](hn::Vec<D> iscale, int i) {
    return hn::Max(lo, hn::Min(hi, NearestInt(d, hn::Mul(iscale, x[i]))));
  };
  hn::Vec<D> wx[32];  // w*x, the first product of every sumlx term
  for (int i = 0; i < 32; ++i) wx[i] = hn::Mul(w[i], x[i]);
  auto iscale = hn::Div(hn::Set(d, static_cast<float>(-nmax)), max);
  auto sumlx = zero, suml2 = zero;
  for (int i = 0; i < 32; ++i) {
    const VI l = level(iscale, i);
    L[i] = hn::Add(l, offset);
    const auto fl = hn::ConvertTo(d, l);
    sumlx = hn::Add(sumlx, hn::Mul(wx[i], fl));
    suml2 = hn::Add(suml2, hn::Mul(hn::Mul(w[i], fl), fl));
  }
  auto scale = hn::IfThenElseZero(hn::Ne(suml2, zero), hn::Div(sumlx, suml2));
  auto best = hn::Mul(scale, sumlx);
  VI trial[32];
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = hn::Div(hn::Set(d, -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))), max);
    sumlx = suml2 = zero;
    for (int i = 0; i < 32; ++i) {
      trial[i] = level(iscale, i);
      const auto fl = hn::ConvertTo(d, trial[i]);
      sumlx = hn::Add(sumlx, hn::Mul(wx[i], fl));
      suml2 = hn::Add(suml2, hn::Mul(hn::Mul(w[i], fl), fl));
    }
    const auto accept =
        hn::And(hn::Gt(suml2, zero), hn::Gt(hn::Mul(sumlx, sumlx), hn::Mul(best, suml2)));
    if (hn::AllFalse(d, accept)) continue;
    const auto accept_i = hn::RebindMask(di, accept);
    for (int i = 0; i < 32; ++i) L[i] = hn::IfThenElse(accept_i, hn::Add(trial[i], offset), L[i]);
    scale = hn::IfThenElse(accept, hn::Div(sumlx, suml2), scale);
    best = hn::IfThenElse(accept, hn::Mul(scale, sumlx), best);
  }
  // amax < GROUP_MAX_EPS: all levels 0, scale 0.
  const auto tiny = hn::Lt(amax, hn::Set(d, ggml::kGroupMaxEps));
  const auto tiny_i = hn::RebindMask(di, tiny);
  for (int i = 0; i < 32; ++i) L[i] = hn::IfThenZeroElse(tiny_i, L[i]);
  return hn::IfThenZeroElse(tiny, scale);
}

// make_qkx3_quants(32, nmax, x, w, L, &the_min, Laux, rmin, rdelta, nstep,
// use_mad = false) per lane: levels L[i] in [0, nmax], *the_min, returns the
// scale. (`min` moves with each accepted step, as in the reference.)
template <class D>
HWY_INLINE hn::Vec<D> MakeQkx3QuantsLanes(D d, int nmax, const hn::Vec<D>* x, const hn::Vec<D>* w,
                                          hn::Vec<hn::RebindToSigned<D>>* L, hn::Vec<D>* the_min,
                                          float rmin, float rdelta, int nstep) {
  const hn::RebindToSigned<D> di;
  using VI = hn::Vec<decltype(di)>;
  const auto zero = hn::Zero(d);
  auto min = x[0], max = x[0];
  auto sum_w = w[0];
  auto sum_x = hn::Mul(sum_w, x[0]);
  for (int i = 1; i < 32; ++i) {
    min = hn::IfThenElse(hn::Lt(x[i], min), x[i], min);
    max = hn::IfThenElse(hn::Gt(x[i], max), x[i], max);
    sum_w = hn::Add(sum_w, w[i]);
    sum_x = hn::Add(sum_x, hn::Mul(w[i], x[i]));
  }
  min = hn::IfThenElse(hn::Gt(min, zero), zero, min);
  const auto min0 = min;
  const auto flat = hn::Le(max, min);  // the reference returns here
  const auto vzero_i = hn::Zero(di), top = hn::Set(di, nmax);
  auto level = [&](hn::Vec<D> iscale, int i) {
    return hn::Max(vzero_i, hn::Min(top, NearestInt(d, hn::Mul(iscale, hn::Sub(x[i], min)))));
  };
  auto iscale = hn::Div(hn::Set(d, static_cast<float>(nmax)), hn::Sub(max, min));
  auto scale = hn::Div(hn::Set(d, 1.0f), iscale);
  auto best_mad = zero;
  for (int i = 0; i < 32; ++i) {
    L[i] = level(iscale, i);
    auto diff = hn::Sub(hn::Add(hn::Mul(scale, hn::ConvertTo(d, L[i])), min), x[i]);
    diff = hn::Mul(diff, diff);
    best_mad = hn::Add(best_mad, hn::Mul(w[i], diff));
  }
  VI aux[32];
  for (int is = 0; is <= nstep; ++is) {
    const float c = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
    iscale = hn::Div(hn::Set(d, c), hn::Sub(max, min));
    auto sum_l = zero, sum_l2 = zero, sum_xl = zero;
    for (int i = 0; i < 32; ++i) {
      aux[i] = level(iscale, i);
      const auto fl = hn::ConvertTo(d, aux[i]);
      const auto wl = hn::Mul(w[i], fl);
      sum_l = hn::Add(sum_l, wl);
      sum_l2 = hn::Add(sum_l2, hn::Mul(wl, fl));
      sum_xl = hn::Add(sum_xl, hn::Mul(wl, x[i]));
    }
    const auto det = hn::Sub(hn::Mul(sum_w, sum_l2), hn::Mul(sum_l, sum_l));
    const auto positive = hn::Gt(det, zero);
    if (hn::AllFalse(d, positive)) continue;
    auto this_scale = hn::Div(hn::Sub(hn::Mul(sum_w, sum_xl), hn::Mul(sum_x, sum_l)), det);
    auto this_min = hn::Div(hn::Sub(hn::Mul(sum_l2, sum_x), hn::Mul(sum_l, sum_xl)), det);
    const auto clamp_min = hn::Gt(this_min, zero);
    this_min = hn::IfThenElse(clamp_min, zero, this_min);
    this_scale = hn::IfThenElse(clamp_min, hn::Div(sum_xl, sum_l2), this_scale);
    auto mad = zero;
    for (int i = 0; i < 32; ++i) {
      auto diff = hn::Sub(hn::Add(hn::Mul(this_scale, hn::ConvertTo(d, aux[i])), this_min), x[i]);
      diff = hn::Mul(diff, diff);
      mad = hn::Add(mad, hn::Mul(w[i], diff));
    }
    const auto accept = hn::And(positive, hn::Lt(mad, best_mad));
    if (hn::AllFalse(d, accept)) continue;
    const auto accept_i = hn::RebindMask(di, accept);
    for (int i = 0; i < 32; ++i) L[i] = hn::IfThenElse(accept_i, aux[i], L[i]);
    best_mad = hn::IfThenElse(accept, mad, best_mad);
    scale = hn::IfThenElse(accept, this_scale, scale);
    min = hn::IfThenElse(accept, this_min, min);
  }
  const auto flat_i = hn::RebindMask(di, flat);
  for (int i = 0; i < 32; ++i) L[i] = hn::IfThenZeroElse(flat_i, L[i]);
  *the_min = hn::Neg(hn::IfThenElse(flat, min0, min));
  return hn::IfThenZeroElse(flat, scale);
}

// The 32 level vectors as out[i * Lanes + k] = level i of block k.
template <class DI>
HWY_INLINE void StoreLevelLanes(DI di, const hn::Vec<DI>* L, std::int32_t* HWY_RESTRICT out) {
  const std::size_t N = hn::Lanes(di);
  for (std::size_t i = 0; i < 32; ++i) hn::Store(L[i], di, out + i * N);
}

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

// The integer trunc(v) of a non-negative v < 2^22, given floor_v = Floor(v)
// (= trunc for v >= 0): the low mantissa bits of floor_v + 2^23 (exact), the
// upper bits 0x4B000000. Cheaper than ConvertTo, whose overflow fix-up x86
// pays on every vector. Callers mask the bits they need.
template <class D>
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> IntegerBits(D d, hn::Vec<D> floor_v) {
  const hn::RebindToSigned<D> di;
  return hn::BitCast(di, hn::Add(floor_v, hn::Set(d, 8388608.0f)));
}

// Stores the low byte of each 32-bit lane: an exact narrowing of values in
// [-128, 255] (no saturation needed; cheaper than DemoteTo on x86).
template <class DI, class V>
HWY_INLINE void StoreLowBytes(DI di, V v, void* HWY_RESTRICT p) {
  const hn::Rebind<std::uint8_t, DI> d8;
#if HWY_TARGET == HWY_AVX3_DL
  // Highway 1.0.3's 256-bit TruncateTo on this target passes
  // _mm256_permutexvar_epi8 its operands swapped (wrong bytes): mask the low
  // byte and narrow with saturation instead.
  hn::StoreU(hn::DemoteTo(d8, hn::And(v, hn::Set(di, 0xFF))), d8, static_cast<std::uint8_t*>(p));
#else
  const hn::RebindToUnsigned<DI> du;
  hn::StoreU(hn::TruncateTo(d8, hn::BitCast(du, v)), d8, static_cast<std::uint8_t*>(p));
  (void)di;
#endif
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
  const auto low4 = hn::Set(di, 0x0F);
  const auto bit4 = hn::Set(di, 0x10);
  StoreLowBytes(di, hn::Or(hn::And(lo, low4), hn::ShiftLeft<4>(hn::And(hi, low4))), qs + j);
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
  auto sum = hn::Zero(di);
  if (ggml::inverse_scale_overflowed(id)) {
    for (int j = 0; j < 32; ++j) qs[j] = -128;
    return sum;
  }
  const auto vid = hn::Set(df, id);
  for (std::size_t j = 0; j < 32; j += hn::Lanes(df)) {
    // Half to even = nearest_int here (|x*id| <= 127), without ConvertTo.
    const auto q = NearestInt(df, hn::Mul(hn::LoadU(df, x + j), vid));
    sum = hn::Add(sum, q);
    StoreLowBytes(di, q, qs + j);
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
