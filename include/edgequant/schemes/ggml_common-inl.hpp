// Lane-parallel versions of the ggml_common.hpp scale searches (Highway
// per-target header). One lane = one sub-block: each lane runs the scalar
// reference's loop in element order with the same float operations (no FMA,
// no reassociation), so every lane's result is bit-identical to the scalar
// search whatever the vector width. Inputs are transposed: xt[i * VN + k] is
// element i of the sub-block in (virtual) lane k, VN lanes per batch.
#if defined(EDGEQUANT_SCHEMES_GGML_COMMON_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_GGML_COMMON_INL_
#undef EDGEQUANT_SCHEMES_GGML_COMMON_INL_
#else
#define EDGEQUANT_SCHEMES_GGML_COMMON_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {
namespace ggml_lanes {

// A search batch is M vectors ("chains") of at most 16 lanes (AVX-512
// width): M * N virtual lanes, at most kMaxBatch. Every search is a serial
// chain per lane (sums in element order, divisions), so several independent
// vectors in flight hide the latencies. Searches whose loop bodies need few
// registers use more chains.
using DL = hn::CappedTag<float, 16>;
using VL = hn::Vec<DL>;
using ML = decltype(hn::Lt(VL(), VL()));
inline constexpr std::size_t kChains2 = HWY_MAX(2, 16 / hn::MaxLanes(DL()));
inline constexpr std::size_t kChains4 = HWY_MAX(4, 16 / hn::MaxLanes(DL()));
inline constexpr std::size_t kMaxBatch = 64;
static_assert(kChains4 * hn::MaxLanes(DL()) <= kMaxBatch);

// Virtual lanes of a batch of M chains on this CPU.
template <std::size_t M>
HWY_INLINE std::size_t BatchLanes() {
  return M * hn::Lanes(DL());
}

// nearest_int (§0.2) as a float, for |v| < 2^22: adding 1.5*2^23 rounds to an
// integer (half to even), subtracting it back is exact. Used where the value
// is bounded by construction (levels inside the searches).
template <class D, class V>
HWY_INLINE V RoundSmall(D d, V v) {
  const V magic = hn::Set(d, 12582912.f);
  return hn::Sub(hn::Add(v, magic), magic);
}

// nearest_int (§0.2) bit for bit for every input, its wrap-around past 2^22
// included: used where the argument is a quotient that can be huge.
template <class D>
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> NearestInt(D d, hn::Vec<D> v) {
  const hn::RebindToSigned<D> di;
  const auto bits = hn::BitCast(di, hn::Add(v, hn::Set(d, 12582912.f)));
  return hn::Sub(hn::And(bits, hn::Set(di, 0x007fffff)), hn::Set(di, 0x00400000));
}

template <std::size_t M>
HWY_INLINE bool AllFalse(const ML* m) {
  bool none = true;
  for (std::size_t c = 0; c < M; ++c) none &= hn::AllFalse(DL(), m[c]);
  return none;
}

// dst[i * VN + k] = src[k * stride + i] for i < n and k < valid; idle lanes
// (k >= valid) get zeros, which every search treats as an all-zero sub-block.
inline void Transpose(const float* HWY_RESTRICT src, std::size_t stride, std::size_t n,
                      std::size_t VN, std::size_t valid, float* HWY_RESTRICT dst) {
  for (std::size_t k = 0; k < VN; ++k) {
    if (k < valid) {
      const float* s = src + k * stride;
      for (std::size_t i = 0; i < n; ++i) dst[i * VN + k] = s[i];
    } else {
      for (std::size_t i = 0; i < n; ++i) dst[i * VN + k] = 0.0f;
    }
  }
}

// make_qkx2_quants / make_qkx3_quants with weights (§2.3, §2.4) on a batch
// of transposed sub-blocks. The two differ only in the degenerate test
// (max == min vs max <= min), the same thing for finite input since
// min <= max. Per lane: scale, the_min, and the iscale and min that produced
// the winning levels (levels_qkx rebuilds them).
template <std::size_t SB, bool kMad, std::size_t M>
HWY_INLINE void SearchQkx(const float* HWY_RESTRICT xt, const float* HWY_RESTRICT wt, int nmax,
                          float rmin, float rdelta, int nstep, float* HWY_RESTRICT out_scale,
                          float* HWY_RESTRICT out_the_min, float* HWY_RESTRICT out_liscale,
                          float* HWY_RESTRICT out_lmin) {
  const DL d;
  const std::size_t N = hn::Lanes(d);
  const std::size_t VN = M * N;
  const VL zero = hn::Zero(d);
  const VL fnmax = hn::Set(d, static_cast<float>(nmax));
  auto X = [&](std::size_t i, std::size_t c) { return hn::LoadU(d, xt + i * VN + c * N); };
  auto W = [&](std::size_t i, std::size_t c) { return hn::LoadU(d, wt + i * VN + c * N); };
  auto error = [&](VL diff) { return kMad ? hn::Abs(diff) : hn::Mul(diff, diff); };

  VL min[M], max[M], sum_w[M], sum_x[M];
  for (std::size_t c = 0; c < M; ++c) {
    min[c] = max[c] = X(0, c);
    sum_w[c] = W(0, c);
    sum_x[c] = hn::Mul(sum_w[c], X(0, c));
  }
  for (std::size_t i = 1; i < SB; ++i) {
    for (std::size_t c = 0; c < M; ++c) {
      const VL x = X(i, c), w = W(i, c);
      min[c] = hn::IfThenElse(hn::Lt(x, min[c]), x, min[c]);
      max[c] = hn::IfThenElse(hn::Gt(x, max[c]), x, max[c]);
      sum_w[c] = hn::Add(sum_w[c], w);
      sum_x[c] = hn::Add(sum_x[c], hn::Mul(w, x));
    }
  }
  ML degenerate[M];
  VL scale[M], best[M], liscale[M], lmin[M];
  for (std::size_t c = 0; c < M; ++c) {
    min[c] = hn::IfThenElse(hn::Gt(min[c], zero), zero, min[c]);
    degenerate[c] = hn::Le(max[c], min[c]);
    liscale[c] = hn::Div(fnmax, hn::Sub(max[c], min[c]));
    scale[c] = hn::Div(hn::Set(d, 1.0f), liscale[c]);
    lmin[c] = min[c];
    best[c] = zero;
  }
  for (std::size_t i = 0; i < SB; ++i) {
    for (std::size_t c = 0; c < M; ++c) {
      const VL x = X(i, c);
      const VL l =
          hn::Min(hn::Max(RoundSmall(d, hn::Mul(liscale[c], hn::Sub(x, min[c]))), zero), fnmax);
      const VL diff = hn::Sub(hn::Add(hn::Mul(scale[c], l), min[c]), x);
      best[c] = hn::Add(best[c], hn::Mul(W(i, c), error(diff)));
    }
  }

  HWY_ALIGN float lbuf[SB * kMaxBatch];
  for (int is = 0; is <= nstep; ++is) {
    const float num = rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax);
    VL iscale[M], sum_l[M], sum_l2[M], sum_xl[M];
    for (std::size_t c = 0; c < M; ++c) {
      iscale[c] = hn::Div(hn::Set(d, num), hn::Sub(max[c], min[c]));
      sum_l[c] = sum_l2[c] = sum_xl[c] = zero;
    }
    for (std::size_t i = 0; i < SB; ++i) {
      for (std::size_t c = 0; c < M; ++c) {
        const VL x = X(i, c);
        const VL l =
            hn::Min(hn::Max(RoundSmall(d, hn::Mul(iscale[c], hn::Sub(x, min[c]))), zero), fnmax);
        hn::Store(l, d, lbuf + i * VN + c * N);
        const VL wl = hn::Mul(W(i, c), l);
        sum_l[c] = hn::Add(sum_l[c], wl);
        sum_l2[c] = hn::Add(sum_l2[c], hn::Mul(wl, l));
        sum_xl[c] = hn::Add(sum_xl[c], hn::Mul(wl, x));
      }
    }
    ML pos[M];
    VL this_scale[M], this_min[M];
    for (std::size_t c = 0; c < M; ++c) {
      const VL D = hn::Sub(hn::Mul(sum_w[c], sum_l2[c]), hn::Mul(sum_l[c], sum_l[c]));
      pos[c] = hn::AndNot(degenerate[c], hn::Gt(D, zero));
      this_scale[c] =
          hn::Div(hn::Sub(hn::Mul(sum_w[c], sum_xl[c]), hn::Mul(sum_x[c], sum_l[c])), D);
      this_min[c] = hn::Div(hn::Sub(hn::Mul(sum_l2[c], sum_x[c]), hn::Mul(sum_l[c], sum_xl[c])), D);
      const ML clip = hn::Gt(this_min[c], zero);
      this_min[c] = hn::IfThenElse(clip, zero, this_min[c]);
      this_scale[c] = hn::IfThenElse(clip, hn::Div(sum_xl[c], sum_l2[c]), this_scale[c]);
    }
    if (AllFalse<M>(pos)) continue;
    VL cur[M];
    for (std::size_t c = 0; c < M; ++c) cur[c] = zero;
    for (std::size_t i = 0; i < SB; ++i) {
      for (std::size_t c = 0; c < M; ++c) {
        const VL l = hn::Load(d, lbuf + i * VN + c * N);
        const VL diff = hn::Sub(hn::Add(hn::Mul(this_scale[c], l), this_min[c]), X(i, c));
        cur[c] = hn::Add(cur[c], hn::Mul(W(i, c), error(diff)));
      }
    }
    ML better[M];
    for (std::size_t c = 0; c < M; ++c) better[c] = hn::And(pos[c], hn::Lt(cur[c], best[c]));
    if (AllFalse<M>(better)) continue;
    for (std::size_t c = 0; c < M; ++c) {
      best[c] = hn::IfThenElse(better[c], cur[c], best[c]);
      scale[c] = hn::IfThenElse(better[c], this_scale[c], scale[c]);
      liscale[c] = hn::IfThenElse(better[c], iscale[c], liscale[c]);
      lmin[c] = hn::IfThenElse(better[c], min[c], lmin[c]);
      min[c] = hn::IfThenElse(better[c], this_min[c], min[c]);
    }
  }
  // Degenerate lanes: scale 0 and levels 0 (iscale 0 rebuilds them).
  for (std::size_t c = 0; c < M; ++c) {
    hn::StoreU(hn::IfThenElse(degenerate[c], zero, scale[c]), d, out_scale + c * N);
    hn::StoreU(hn::Neg(min[c]), d, out_the_min + c * N);
    hn::StoreU(hn::IfThenElse(degenerate[c], zero, liscale[c]), d, out_liscale + c * N);
    hn::StoreU(hn::IfThenElse(degenerate[c], zero, lmin[c]), d, out_lmin + c * N);
  }
}

// The levels of a SearchQkx lane: clamp(nearest_int(iscale * (x - min)), 0, nmax).
inline void levels_qkx(const float* x, int n, int nmax, float iscale, float min, std::uint8_t* L) {
  for (int i = 0; i < n; ++i) {
    const int l = ggml::nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(ggml::max_of(0, ggml::min_of(nmax, l)));
  }
}

// Signed max |x| per lane, first occurrence on ties (§2.1 step 1).
template <std::size_t SB, std::size_t M>
HWY_INLINE void SignedAbsMax(const float* HWY_RESTRICT xt, VL* amax, VL* max) {
  const DL d;
  const std::size_t N = hn::Lanes(d);
  for (std::size_t c = 0; c < M; ++c) amax[c] = max[c] = hn::Zero(d);
  for (std::size_t i = 0; i < SB; ++i) {
    for (std::size_t c = 0; c < M; ++c) {
      const VL x = hn::LoadU(d, xt + (i * M + c) * N);
      const VL ax = hn::Abs(x);
      const ML upd = hn::Gt(ax, amax[c]);
      amax[c] = hn::IfThenElse(upd, ax, amax[c]);
      max[c] = hn::IfThenElse(upd, x, max[c]);
    }
  }
}

// make_qx_quants, rmse_type 1 (§2.1), weights `wt` (transposed) or x*x when
// null. Per lane: the scale, the iscale of the winning levels, and whether
// the sub-block was all (near) zero (levels 0).
template <std::size_t SB, std::size_t M>
HWY_INLINE void SearchQx(const float* HWY_RESTRICT xt, const float* HWY_RESTRICT wt, int nmax,
                         float* HWY_RESTRICT out_scale, float* HWY_RESTRICT out_liscale,
                         std::uint8_t* HWY_RESTRICT out_zero) {
  const DL d;
  const std::size_t N = hn::Lanes(d);
  const std::size_t VN = M * N;
  const VL zero = hn::Zero(d);
  const VL lo = hn::Set(d, static_cast<float>(-nmax));
  const VL hi = hn::Set(d, static_cast<float>(nmax - 1));
  HWY_ALIGN float wbuf[SB * kMaxBatch];
  HWY_ALIGN float wxbuf[SB * kMaxBatch];
  for (std::size_t i = 0; i < SB * VN; i += N) {
    const VL x = hn::LoadU(d, xt + i);
    const VL w = wt ? hn::LoadU(d, wt + i) : hn::Mul(x, x);
    hn::Store(w, d, wbuf + i);
    hn::Store(hn::Mul(w, x), d, wxbuf + i);  // w*x*l is (w*x)*l
  }
  VL amax[M], max[M];
  SignedAbsMax<SB, M>(xt, amax, max);

  VL sumlx[M], suml2[M];
  auto sums = [&](const VL* iscale) {
    for (std::size_t c = 0; c < M; ++c) sumlx[c] = suml2[c] = zero;
    for (std::size_t i = 0; i < SB; ++i) {
      for (std::size_t c = 0; c < M; ++c) {
        const std::size_t o = i * VN + c * N;
        const VL l =
            hn::Min(hn::Max(RoundSmall(d, hn::Mul(iscale[c], hn::LoadU(d, xt + o))), lo), hi);
        sumlx[c] = hn::Add(sumlx[c], hn::Mul(hn::Load(d, wxbuf + o), l));
        suml2[c] = hn::Add(suml2[c], hn::Mul(hn::Mul(hn::Load(d, wbuf + o), l), l));
      }
    }
  };
  VL iscale[M], scale[M], best[M], liscale[M];
  for (std::size_t c = 0; c < M; ++c) iscale[c] = hn::Div(lo, max[c]);
  sums(iscale);
  for (std::size_t c = 0; c < M; ++c) {
    scale[c] = hn::IfThenElse(hn::Ne(suml2[c], zero), hn::Div(sumlx[c], suml2[c]), zero);
    best[c] = hn::Mul(scale[c], sumlx[c]);
    liscale[c] = iscale[c];
  }
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const VL num = hn::Set(d, -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)));
    for (std::size_t c = 0; c < M; ++c) iscale[c] = hn::Div(num, max[c]);
    sums(iscale);
    ML better[M];
    for (std::size_t c = 0; c < M; ++c) {
      better[c] = hn::And(hn::Gt(suml2[c], zero),
                          hn::Gt(hn::Mul(sumlx[c], sumlx[c]), hn::Mul(best[c], suml2[c])));
    }
    if (AllFalse<M>(better)) continue;
    for (std::size_t c = 0; c < M; ++c) {
      scale[c] = hn::IfThenElse(better[c], hn::Div(sumlx[c], suml2[c]), scale[c]);
      best[c] = hn::IfThenElse(better[c], hn::Mul(scale[c], sumlx[c]), best[c]);
      liscale[c] = hn::IfThenElse(better[c], iscale[c], liscale[c]);
    }
  }
  HWY_ALIGN float zf[16];
  for (std::size_t c = 0; c < M; ++c) {
    const ML is_zero = hn::Lt(amax[c], hn::Set(d, ggml::kGroupMaxEps));
    hn::StoreU(hn::IfThenElse(is_zero, zero, scale[c]), d, out_scale + c * N);
    hn::StoreU(liscale[c], d, out_liscale + c * N);
    hn::Store(hn::IfThenElseZero(is_zero, hn::Set(d, 1.0f)), d, zf);
    for (std::size_t k = 0; k < N; ++k) out_zero[c * N + k] = zf[k] != 0.0f;
  }
}

// The levels of a SearchQx lane: nmax + clamp(nearest_int(iscale * x), -nmax, nmax - 1),
// or 0 for an all-zero sub-block.
inline void levels_qx(const float* x, int n, int nmax, float iscale, bool zero, std::int8_t* L) {
  for (int i = 0; i < n; ++i) {
    const int l = ggml::nearest_int(iscale * x[i]);
    L[i] = zero ? std::int8_t{0}
                : static_cast<std::int8_t>(nmax + ggml::max_of(-nmax, ggml::min_of(nmax - 1, l)));
  }
}

// make_q3_quants (§2.2), weights x*x. Per lane: the scale; the levels (biased
// by nmax) go to lt, transposed. A lane that made no change in a pass would
// make none in the next (same state), so a chain's passes go on while any of
// its lanes changes.
template <std::size_t SB, std::size_t M>
HWY_INLINE void SearchQ3(const float* HWY_RESTRICT xt, int nmax, float* HWY_RESTRICT out_scale,
                         float* HWY_RESTRICT lt) {
  const DL d;
  const hn::RebindToSigned<DL> di;
  const std::size_t N = hn::Lanes(d);
  const std::size_t VN = M * N;
  const VL zero = hn::Zero(d);
  const VL lo = hn::Set(d, static_cast<float>(-nmax));
  const VL hi = hn::Set(d, static_cast<float>(nmax - 1));
  HWY_ALIGN float wbuf[SB * kMaxBatch];
  HWY_ALIGN float wxbuf[SB * kMaxBatch];
  VL amax[M], max[M];
  SignedAbsMax<SB, M>(xt, amax, max);
  ML is_zero[M];
  VL iscale[M], sumlx[M], suml2[M];
  for (std::size_t c = 0; c < M; ++c) {
    is_zero[c] = hn::Lt(amax[c], hn::Set(d, ggml::kGroupMaxEps));
    iscale[c] = hn::Div(lo, max[c]);
    sumlx[c] = suml2[c] = zero;
  }
  for (std::size_t i = 0; i < SB; ++i) {
    for (std::size_t c = 0; c < M; ++c) {
      const std::size_t o = i * VN + c * N;
      const VL x = hn::LoadU(d, xt + o);
      const VL l = hn::Min(hn::Max(RoundSmall(d, hn::Mul(iscale[c], x)), lo), hi);
      hn::StoreU(l, d, lt + o);
      const VL w = hn::Mul(x, x);
      const VL wx = hn::Mul(w, x);  // w*x*l is (w*x)*l
      hn::Store(w, d, wbuf + o);
      hn::Store(wx, d, wxbuf + o);
      sumlx[c] = hn::Add(sumlx[c], hn::Mul(wx, l));
      suml2[c] = hn::Add(suml2[c], hn::Mul(hn::Mul(w, l), l));
    }
  }
  const auto ilo = hn::Set(di, -nmax);
  const auto ihi = hn::Set(di, nmax - 1);
  bool active[M];
  for (std::size_t c = 0; c < M; ++c) active[c] = !hn::AllTrue(d, is_zero[c]);
  for (int itry = 0; itry < 5; ++itry) {
    ML changed[M];
    for (std::size_t c = 0; c < M; ++c) changed[c] = hn::Lt(zero, zero);  // all false
    for (std::size_t i = 0; i < SB; ++i) {
      for (std::size_t c = 0; c < M; ++c) {
        if (!active[c]) continue;
        const std::size_t o = i * VN + c * N;
        const VL x = hn::LoadU(d, xt + o);
        const VL w = hn::Load(d, wbuf + o);
        const VL wx = hn::Load(d, wxbuf + o);
        const VL li = hn::LoadU(d, lt + o);
        const VL slx = hn::Sub(sumlx[c], hn::Mul(wx, li));
        const VL sl2 = hn::Sub(suml2[c], hn::Mul(hn::Mul(w, li), li));
        const auto nl_i = hn::Min(hn::Max(NearestInt(d, hn::Div(hn::Mul(x, sl2), slx)), ilo), ihi);
        const VL nl = hn::ConvertTo(d, nl_i);
        const VL slx2 = hn::Add(slx, hn::Mul(wx, nl));
        const VL sl22 = hn::Add(sl2, hn::Mul(hn::Mul(w, nl), nl));
        const ML accept = hn::And(
            hn::And(hn::AndNot(is_zero[c], hn::Gt(slx, zero)), hn::Ne(nl, li)),
            hn::And(hn::Gt(sl22, zero), hn::Gt(hn::Mul(hn::Mul(slx2, slx2), suml2[c]),
                                               hn::Mul(hn::Mul(sumlx[c], sumlx[c]), sl22))));
        hn::StoreU(hn::IfThenElse(accept, nl, li), d, lt + o);
        sumlx[c] = hn::IfThenElse(accept, slx2, sumlx[c]);
        suml2[c] = hn::IfThenElse(accept, sl22, suml2[c]);
        changed[c] = hn::Or(changed[c], accept);
      }
    }
    bool any = false;
    for (std::size_t c = 0; c < M; ++c) {
      active[c] = active[c] && !hn::AllFalse(d, changed[c]);
      any |= active[c];
    }
    if (!any) break;
  }
  const VL bias = hn::Set(d, static_cast<float>(nmax));
  for (std::size_t i = 0; i < SB; ++i) {
    for (std::size_t c = 0; c < M; ++c) {
      const std::size_t o = i * VN + c * N;
      const VL l = hn::Add(hn::LoadU(d, lt + o), bias);
      hn::StoreU(hn::IfThenElse(is_zero[c], zero, l), d, lt + o);
    }
  }
  for (std::size_t c = 0; c < M; ++c) {
    const VL scale = hn::IfThenElse(hn::Gt(suml2[c], zero), hn::Div(sumlx[c], suml2[c]), zero);
    hn::StoreU(hn::IfThenElse(is_zero[c], zero, scale), d, out_scale + c * N);
  }
}

// Lane-wise Σ x² over SB transposed elements (sequential per lane), stored
// per virtual lane.
template <std::size_t SB, std::size_t M>
HWY_INLINE void SumSquares(const float* HWY_RESTRICT xt, float* HWY_RESTRICT out) {
  const DL d;
  const std::size_t N = hn::Lanes(d);
  for (std::size_t c = 0; c < M; ++c) {
    VL s = hn::Zero(d);
    for (std::size_t i = 0; i < SB; ++i) {
      const VL x = hn::LoadU(d, xt + (i * M + c) * N);
      s = hn::Add(s, hn::Mul(x, x));
    }
    hn::StoreU(s, d, out + c * N);
  }
}

// Σ x² over n elements, sequential (ggml's sigma2 sums).
inline float sum_squares(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

// Importance weights qw * sqrt(sigma2 + x²) of transposed sub-blocks
// (virtual lane k uses sigma2[k]); stores them to wt and their lane sums
// (sequential) to sw.
template <std::size_t SB, std::size_t M>
HWY_INLINE void ImportanceWeights(const float* HWY_RESTRICT xt, const float* HWY_RESTRICT qwt,
                                  const float* HWY_RESTRICT sigma2, float* HWY_RESTRICT wt,
                                  float* HWY_RESTRICT sw) {
  const DL d;
  const std::size_t N = hn::Lanes(d);
  for (std::size_t c = 0; c < M; ++c) {
    const VL s2 = hn::LoadU(d, sigma2 + c * N);
    VL s = hn::Zero(d);
    for (std::size_t i = 0; i < SB; ++i) {
      const std::size_t o = (i * M + c) * N;
      const VL x = hn::LoadU(d, xt + o);
      const VL w = hn::Mul(hn::LoadU(d, qwt + o), hn::Sqrt(hn::Add(s2, hn::Mul(x, x))));
      hn::StoreU(w, d, wt + o);
      s = hn::Add(s, w);
    }
    hn::StoreU(s, d, sw + c * N);
  }
}

// Runs a K-quant quantizer over a row: super-blocks in groups that fill a
// search batch (one sub-block per virtual lane, idle lanes zero).
//   prepare(sb0, g): per-group work (e.g. sigma2) before the searches
//   search(sb0, k0, valid): searches sub-blocks k0 .. k0 + valid of the group
//   finish(sb, j0): scales, re-quantization and packing of super-block sb,
//                   whose first sub-block is j0 in the group's arrays
template <std::size_t kSubs, class Prepare, class Search, class Finish>
HWY_INLINE void ForEachBatch(std::size_t n, std::size_t VN, Prepare prepare, Search search,
                             Finish finish) {
  const std::size_t G = HWY_MAX(std::size_t{1}, VN / kSubs);
  const std::size_t nsb = n / 256;
  for (std::size_t sb0 = 0; sb0 < nsb; sb0 += G) {
    const std::size_t g = HWY_MIN(G, nsb - sb0);
    prepare(sb0, g);
    for (std::size_t k0 = 0; k0 < g * kSubs; k0 += VN) search(sb0, k0, HWY_MIN(VN, g * kSubs - k0));
    for (std::size_t b = 0; b < g; ++b) finish(sb0 + b, b * kSubs);
  }
}

// Re-quantization of one sub-block with its stored scale dd and min dm
// (specs §4.8–§4.12 step 3): L = clamp(nearest_int((x + dm) / dd), lo, hi) + bias,
// or nearest_int(x / dd) when kMin is false. n a multiple of Lanes(DL).
template <bool kMin>
HWY_INLINE void Requantize(const float* HWY_RESTRICT x, std::size_t n, float dd, float dm, int lo,
                           int hi, int bias, std::uint8_t* HWY_RESTRICT L) {
  const DL d;
  const hn::RebindToSigned<DL> di;
  const hn::Rebind<std::uint8_t, DL> d8;
  const std::size_t N = hn::Lanes(d);
  const VL vdd = hn::Set(d, dd), vdm = hn::Set(d, dm);
  const auto vlo = hn::Set(di, lo), vhi = hn::Set(di, hi), vbias = hn::Set(di, bias);
  for (std::size_t i = 0; i < n; i += N) {
    const VL v = hn::LoadU(d, x + i);
    const VL q = kMin ? hn::Div(hn::Add(v, vdm), vdd) : hn::Div(v, vdd);
    const auto l = hn::Add(hn::Min(hn::Max(NearestInt(d, q), vlo), vhi), vbias);
    hn::StoreU(hn::DemoteTo(d8, l), d8, L + i);
  }
}

}  // namespace ggml_lanes
}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
