// SIMD kernels for IQ4_NL, and the vector IQ4 scale search and nearest-index
// rule IQ4_XS shares (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ4_NL_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ4_NL_INL_
#undef EDGEQUANT_SCHEMES_IQ4_NL_INL_
#else
#define EDGEQUANT_SCHEMES_IQ4_NL_INL_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/kernels/nibble_lut-inl.hpp"
#include "edgequant/schemes/iq4_nl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Lanes of the IQ4 kernels: at most 16, so that 16 divides into whole vectors
// and the transposed buffers below stay small.
using Iq4Tag = hn::CappedTag<float, 16>;
inline constexpr std::size_t kIq4MaxLanes = 16;

// table[idx] in every lane, idx in [0, kSize), kSize a power of two <= 16;
// `table` is 64-byte aligned and readable for 16 floats. One lane permute per
// N table entries, so any vector width works (N = 1 included).
template <std::size_t kSize, class DF>
HWY_INLINE hn::Vec<DF> LookupFloat(DF df, const float* HWY_RESTRICT table,
                                   hn::Vec<hn::RebindToSigned<DF>> idx) {
  const hn::RebindToSigned<DF> di;
  const std::size_t N = hn::Lanes(df);
  if (N >= kSize) return hn::TableLookupLanes(hn::Load(df, table), hn::IndicesFromVec(df, idx));
  const auto sub = hn::IndicesFromVec(df, hn::And(idx, hn::Set(di, static_cast<int>(N - 1))));
  auto r = hn::TableLookupLanes(hn::Load(df, table), sub);
  for (std::size_t t = N; t < kSize; t += N) {
    const auto in_t = hn::RebindMask(df, hn::Gt(idx, hn::Set(di, static_cast<int>(t - 1))));
    r = hn::IfThenElse(in_t, hn::TableLookupLanes(hn::Load(df, table + t), sub), r);
  }
  return r;
}

// best_index_iq4nl(v) in every lane as a 4-step binary search over the
// boundaries: index >= i iff !(v < boundary[i]), a monotone predicate, so the
// search finds the same count as the reference (NaN passes every step: 15).
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> Iq4Index(DF df, hn::Vec<DF> v) {
  const hn::RebindToSigned<DF> di;
  const auto& b = ggml::kIq4nlBoundaries.b;
  const auto& t = ggml::kIq4nlSearch;
  const auto lt8 = hn::Lt(v, hn::Set(df, b[7]));
  auto idx = hn::IfThenZeroElse(hn::RebindMask(di, lt8), hn::Set(di, 8));
  const auto thr4 = hn::IfThenElse(lt8, hn::Set(df, b[3]), hn::Set(df, b[11]));
  idx = hn::Or(idx, hn::IfThenZeroElse(hn::RebindMask(di, hn::Lt(v, thr4)), hn::Set(di, 4)));
  const auto thr2 = LookupFloat<4>(df, t.quarter, hn::ShiftRight<2>(idx));
  idx = hn::Or(idx, hn::IfThenZeroElse(hn::RebindMask(di, hn::Lt(v, thr2)), hn::Set(di, 2)));
  const auto thr1 = LookupFloat<8>(df, t.odd, hn::ShiftRight<1>(idx));
  return hn::Or(idx, hn::IfThenZeroElse(hn::RebindMask(di, hn::Lt(v, thr1)), hn::Set(di, 1)));
}

// kValuesIq4nl[best_index_iq4nl(v)] in every lane.
template <class DF>
HWY_INLINE hn::Vec<DF> Iq4Value(DF df, hn::Vec<DF> v) {
  return LookupFloat<16>(df, ggml::kIq4nlSearch.value, Iq4Index(df, v));
}

// Indices of id*x[j] (low nibble) and id*x[j+16] (high nibble), 16 bytes.
template <class DF>
HWY_INLINE void Iq4PackBlock(DF df, const float* HWY_RESTRICT xb, float id,
                             std::uint8_t* HWY_RESTRICT qs) {
  const hn::Rebind<std::uint8_t, DF> du8;
  const auto vid = hn::Set(df, id);
  for (std::size_t j = 0; j < 16; j += hn::Lanes(df)) {
    const auto lo = Iq4Index(df, hn::Mul(vid, hn::LoadU(df, xb + j)));
    const auto hi = Iq4Index(df, hn::Mul(vid, hn::LoadU(df, xb + 16 + j)));
    hn::StoreU(hn::DemoteTo(du8, hn::Or(lo, hn::ShiftLeft<4>(hi))), du8, qs + j);
  }
}

// Σ w*q*x and Σ w*q*q of one candidate grid, each lane its own block, the
// terms added in element order as the reference does.
template <class DF>
HWY_INLINE void Iq4Sums(DF df, const float* HWY_RESTRICT xt, const float* HWY_RESTRICT wt,
                        hn::Vec<DF> id, hn::Vec<DF>& sumqx, hn::Vec<DF>& sumq2) {
  const std::size_t N = hn::Lanes(df);
  auto sx = hn::Zero(df);
  auto s2 = hn::Zero(df);
  for (std::size_t j = 0; j < 32; ++j) {
    const auto x = hn::Load(df, xt + j * N);
    const auto q = Iq4Value(df, hn::Mul(id, x));
    const auto wq = hn::Mul(hn::Load(df, wt + j * N), q);
    sx = hn::Add(sx, hn::Mul(wq, x));
    s2 = hn::Add(s2, hn::Mul(wq, q));
  }
  sumqx = sx;
  sumq2 = s2;
}

// ggml::iq4_block_scale for Lanes(df) blocks at once. xt/wt hold the blocks
// transposed: element j of lane l at [j*N + l]. Same operations per lane, in
// the same order, as the scalar search; lanes below GROUP_MAX_EPS give 0.
template <class DF>
HWY_INLINE hn::Vec<DF> Iq4BlockScales(DF df, const float* HWY_RESTRICT xt,
                                      const float* HWY_RESTRICT wt) {
  const std::size_t N = hn::Lanes(df);
  auto amax = hn::Zero(df);
  auto max = hn::Zero(df);
  for (std::size_t j = 0; j < 32; ++j) {
    const auto x = hn::Load(df, xt + j * N);
    const auto gt = hn::Gt(hn::Abs(x), amax);  // strict: the first largest wins
    amax = hn::IfThenElse(gt, hn::Abs(x), amax);
    max = hn::IfThenElse(gt, x, max);
  }
  const auto small = hn::Lt(amax, hn::Set(df, ggml::kGroupMaxEps));
  const auto zero = hn::Zero(df);
  auto d = hn::Div(hn::Neg(max), hn::Set(df, static_cast<float>(ggml::kValuesIq4nl[0])));
  hn::Vec<DF> sumqx, sumq2;
  Iq4Sums(df, xt, wt, hn::Div(hn::Set(df, 1.0f), d), sumqx, sumq2);
  d = hn::IfThenElseZero(hn::Gt(sumq2, zero), hn::Div(sumqx, sumq2));
  auto best = hn::Mul(d, sumqx);
  for (int itry = -7; itry <= 7; ++itry) {
    const auto id = hn::Div(hn::Set(df, static_cast<float>(itry + ggml::kValuesIq4nl[0])), max);
    Iq4Sums(df, xt, wt, id, sumqx, sumq2);
    const auto better =
        hn::And(hn::Gt(sumq2, zero), hn::Gt(hn::Mul(sumqx, sumqx), hn::Mul(best, sumq2)));
    const auto dn = hn::Div(sumqx, sumq2);
    d = hn::IfThenElse(better, dn, d);
    best = hn::IfThenElse(better, hn::Mul(dn, sumqx), best);
  }
  return hn::IfThenZeroElse(small, d);
}

// Copies `lanes` consecutive 32-element blocks (block stride 32) into the
// transposed layout, zero-filling lanes [lanes, N).
HWY_INLINE void Iq4Transpose(const float* HWY_RESTRICT x, std::size_t lanes, std::size_t N,
                             float* HWY_RESTRICT xt) {
  for (std::size_t l = 0; l < N; ++l) {
    if (l < lanes) {
      for (std::size_t j = 0; j < 32; ++j) xt[j * N + l] = x[l * 32 + j];
    } else {
      for (std::size_t j = 0; j < 32; ++j) xt[j * N + l] = 0.0f;
    }
  }
}

// Weights of every lane in the transposed layout: qw*sqrt(sigma2 + x²) with
// importance (qwt transposed like xt, sigma2 per lane), x² without.
template <class DF>
HWY_INLINE void Iq4Weights(DF df, const float* HWY_RESTRICT xt, const float* HWY_RESTRICT qwt,
                           hn::Vec<DF> sigma2, float* HWY_RESTRICT wt) {
  const std::size_t N = hn::Lanes(df);
  for (std::size_t j = 0; j < 32; ++j) {
    const auto x = hn::Load(df, xt + j * N);
    const auto x2 = hn::Mul(x, x);
    const auto w = qwt ? hn::Mul(hn::Load(df, qwt + j * N), hn::Sqrt(hn::Add(sigma2, x2))) : x2;
    hn::Store(w, df, wt + j * N);
  }
}

template <>
struct SimdKernels<IQ4_NL> {
  // Lanes = blocks: each block's scale search runs in its own lane with the
  // reference's operation order; the final indices are vectorised over the
  // elements of a block.
  static void quantize_row(const float* HWY_RESTRICT x, IQ4_NL::Block* HWY_RESTRICT y,
                           std::size_t n, const float* HWY_RESTRICT importance) {
    const Iq4Tag df;
    const std::size_t N = hn::Lanes(df);
    HWY_ALIGN float xt[32 * kIq4MaxLanes];
    HWY_ALIGN float qwt[32 * kIq4MaxLanes];
    HWY_ALIGN float wt[32 * kIq4MaxLanes];
    HWY_ALIGN float scales[kIq4MaxLanes];
    const std::size_t nb = n / 32;
    for (std::size_t b0 = 0; b0 < nb; b0 += N) {
      const std::size_t lanes = std::min(N, nb - b0);
      Iq4Transpose(x + b0 * 32, lanes, N, xt);
      if (importance != nullptr) Iq4Transpose(importance + b0 * 32, lanes, N, qwt);
      // sigma2 = (Σ x² in element order) * (2/32), per lane.
      auto s = hn::Zero(df);
      for (std::size_t j = 0; j < 32; ++j) {
        const auto v = hn::Load(df, xt + j * N);
        s = hn::Add(s, hn::Mul(v, v));
      }
      const auto sigma2 = hn::Mul(s, hn::Set(df, 2.f / 32));
      Iq4Weights(df, xt, importance ? qwt : nullptr, sigma2, wt);
      hn::Store(Iq4BlockScales(df, xt, wt), df, scales);
      for (std::size_t l = 0; l < lanes; ++l) {
        const float scale = scales[l];
        y[b0 + l].d = ggml::fp16(scale);
        Iq4PackBlock(df, x + (b0 + l) * 32, scale != 0.f ? 1 / scale : 0.f, y[b0 + l].qs);
      }
    }
  }

  static void dequantize_row(const IQ4_NL::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const Iq4Tag df;
    HWY_ALIGN std::int8_t v[32];
    for (std::size_t b = 0; b < n / 32; ++b) {
      LookupNibbles32(ggml::kValuesIq4nl, x[b].qs, v);
      ScaleInt8(df, v, 32, ggml::fp32(x[b].d), y + b * 32);
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
