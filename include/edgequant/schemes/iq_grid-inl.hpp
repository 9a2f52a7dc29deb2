// SIMD building blocks of the grid I-quants (Highway per-target header): the
// neighbour searches with one lane per candidate, the scale search of the
// IQ2/IQ3 types with one lane per trial scale, and a sequential-acceptance
// scan for the IQ1 partition searches. Every lane does the reference's float
// operations in the reference's order, so the bytes equal the scalar code's.
#if defined(EDGEQUANT_SCHEMES_IQ_GRID_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ_GRID_INL_
#undef EDGEQUANT_SCHEMES_IQ_GRID_INL_
#else
#define EDGEQUANT_SCHEMES_IQ_GRID_INL_
#endif

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq_grid.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {
namespace iqk {

// ggml's nearest_int on every lane: add 1.5*2^23, keep the low mantissa bits.
template <class DF>
HWY_INLINE hn::Vec<hn::RebindToSigned<DF>> NearestInt(DF df, hn::Vec<DF> v) {
  const hn::RebindToSigned<DF> di;
  const auto t = hn::BitCast(di, hn::Add(v, hn::Set(df, 12582912.f)));
  return hn::Sub(hn::And(t, hn::Set(di, 0x007fffff)), hn::Set(di, 0x00400000));
}

// Distance terms of one group at scale s: T[kStride*j + r] = (w[j]*diff)*diff
// with diff = s*q[r] - x[j], for the group's elements j and levels r. A
// candidate's distance is then Σ_j T[kStride*j + level_j] (PickTerm).
// kStride = 4 for the 3-level grids (IQ2: q = 1,3,5; IQ1: the shifted level
// values), 8 for the 8-level IQ3 grids (q = 1,3,...,15). q has kStride
// entries (unused ones 0); T needs kStride*nel + 16 floats.
template <int kStride>
HWY_INLINE void Terms(const float* HWY_RESTRICT q, int nel, float s, const float* HWY_RESTRICT x,
                      const float* HWY_RESTRICT w, float* HWY_RESTRICT T) {
  const hn::CappedTag<float, kStride> d;
  const int N = static_cast<int>(hn::Lanes(d));
  for (int r = 0; r < kStride; r += N) {
    const auto sq = hn::Mul(hn::Set(d, s), hn::LoadU(d, q + r));
    for (int j = 0; j < nel; ++j) {
      const auto diff = hn::Sub(sq, hn::Set(d, x[j]));
      hn::StoreU(hn::Mul(hn::Mul(hn::Set(d, w[j]), diff), diff), d, T + kStride * j + r);
    }
  }
}

// Term of element j for every lane's level: a table lookup in the element's
// kStride terms (one permute when the vector holds them all; two and a blend
// for 8 levels in 4 lanes; a plain load for 1-lane vectors).
template <int kBits, class DF, class VI>
HWY_INLINE hn::Vec<DF> PickTerm(DF df, VI code, int j, const float* HWY_RESTRICT T) {
  constexpr int kStride = kBits == 2 ? 4 : 8;
  const hn::RebindToSigned<DF> di;
  const std::size_t N = hn::Lanes(df);
  const auto r = hn::And(hn::ShiftRightSame(code, kBits * j), hn::Set(di, (1 << kBits) - 1));
  const float* t = T + kStride * j;
  if (N >= kStride) return hn::TableLookupLanes(hn::LoadU(df, t), hn::IndicesFromVec(df, r));
  if (N == 1) return hn::Set(df, t[hn::GetLane(r)]);
  // 8 levels in 4 lanes: low and high halves, select on bit 2.
  const auto r4 = hn::And(r, hn::Set(di, 3));
  const auto lo = hn::TableLookupLanes(hn::LoadU(df, t), hn::IndicesFromVec(df, r4));
  const auto hi = hn::TableLookupLanes(hn::LoadU(df, t + 4), hn::IndicesFromVec(df, r4));
  return hn::IfThenElse(hn::RebindMask(df, hn::Gt(r, hn::Set(di, 3))), hi, lo);
}

// Position in the list of the first candidate with the smallest distance
// below FLT_MAX (the reference's strict-< scan), or -1 if none. One lane per
// candidate; each lane sums its terms (pick(code, j): element j's term at
// each lane's level) in element order starting from 0, as the reference
// does. Each lane keeps its own first minimum (strict <); the answer is the
// earliest position among the lanes holding the overall minimum, which is
// the scan's. No reduction or branch per vector. `codes` may be read up to a
// vector past n (padded).
// kOne: the caller knows n <= the lane count (one vector, no loop).
template <int kNel, bool kOne = false, class DF, class Pick>
HWY_INLINE int BestCandidateWith(DF df, const std::uint16_t* HWY_RESTRICT codes, int n, Pick&& pick) {
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<std::uint16_t, decltype(df)> du16;
  const int N = static_cast<int>(hn::Lanes(df));
  auto best = hn::Set(df, FLT_MAX);
  auto best_pos = hn::Set(di, -1);
  auto pos = hn::Iota(di, 0);
  const auto step = hn::Set(di, N);
  if constexpr (kOne) {
    const auto code = hn::PromoteTo(di, hn::LoadU(du16, codes));
    auto d2 = pick(code, 0);  // (= 0 + term 0, up to the sign of a zero, which no comparison sees)
    for (int j = 1; j < kNel; ++j) d2 = hn::Add(d2, pick(code, j));
    best = hn::IfThenElse(hn::And(hn::Lt(d2, best), hn::FirstN(df, static_cast<std::size_t>(n))), d2, best);
  } else {
    for (int c = 0; c < n; c += N) {
      const auto code = hn::PromoteTo(di, hn::LoadU(du16, codes + c));
      auto d2 = pick(code, 0);
      for (int j = 1; j < kNel; ++j) d2 = hn::Add(d2, pick(code, j));
      const auto lt = hn::And(hn::Lt(d2, best), hn::FirstN(df, static_cast<std::size_t>(n - c)));
      best = hn::IfThenElse(lt, d2, best);
      best_pos = hn::IfThenElse(hn::RebindMask(di, lt), pos, best_pos);
      pos = hn::Add(pos, step);
    }
  }
  const auto vm = hn::MinOfLanes(df, best);
  if (!(hn::GetLane(vm) < FLT_MAX)) return -1;
  // One vector (most lists): lane order is list order.
  if (kOne || n <= N) return static_cast<int>(hn::FindKnownFirstTrue(df, hn::Eq(best, vm)));
  const auto at_min = hn::RebindMask(di, hn::Eq(best, vm));
  return hn::GetLane(hn::MinOfLanes(di, hn::IfThenElse(at_min, best_pos, hn::Set(di, INT32_MAX))));
}

// BestCandidate over the terms table T of Terms<kStride>.
template <int kNel, int kBits>
HWY_INLINE int BestCandidate(const float* HWY_RESTRICT T, const std::uint16_t* HWY_RESTRICT codes,
                             int n) {
  const hn::ScalableTag<float> df;
  return BestCandidateWith<kNel>(df, codes, n, [&](auto code, int j) HWY_ATTR {
    return PickTerm<kBits>(df, code, j, T);
  });
}

// One group's distance terms held in registers: for scale s, element j's
// vector holds (w[j]*diff)*diff with diff = s*q[level] - x[j] (Terms'
// operations) for every level, picked per candidate by one permute; nothing
// stored and reloaded. The x and w broadcasts are made once per group (Best
// runs per scale). Only when a vector holds the kStride levels (Fits()).
template <int kNel, int kBits>
struct RegTerms {
  static constexpr int kStride = kBits == 2 ? 4 : 8;
  using DF = hn::ScalableTag<float>;
  using V = hn::Vec<DF>;
  V q, xv[kNel], wv[kNel];

  static bool Fits() { return hn::Lanes(DF()) >= static_cast<std::size_t>(kStride); }

  // q: the kStride level values; x, w: the group's values and weights.
  RegTerms(const float* HWY_RESTRICT qs, const float* HWY_RESTRICT x, const float* HWY_RESTRICT w) {
    const DF df;
    alignas(64) float qv[hn::MaxLanes(df) > kStride ? hn::MaxLanes(df) : kStride] = {};
    for (int r = 0; r < kStride; ++r) qv[r] = qs[r];
    q = hn::Load(df, qv);
    for (int j = 0; j < kNel; ++j) {
      xv[j] = hn::Set(df, x[j]);
      wv[j] = hn::Set(df, w[j]);
    }
  }

  // BestCandidate's answer for the list codes[0..n) at scale s.
  HWY_INLINE int Best(float s, const std::uint16_t* HWY_RESTRICT codes, int n) const {
    const DF df;
    const hn::RebindToSigned<DF> di;
    const V sq = hn::Mul(hn::Set(df, s), q);
    V tv[kNel];
    for (int j = 0; j < kNel; ++j) {
      const V diff = hn::Sub(sq, xv[j]);
      tv[j] = hn::Mul(hn::Mul(wv[j], diff), diff);
    }
    const auto mask = hn::Set(di, (1 << kBits) - 1);
    const auto pick = [&](auto code, int j) HWY_ATTR {
      return hn::TableLookupLanes(tv[j], hn::IndicesFromVec(df, hn::And(hn::ShiftRightSame(code, kBits * j), mask)));
    };
    return n <= static_cast<int>(hn::Lanes(df)) ? BestCandidateWith<kNel, true>(df, codes, n, pick)
                                                : BestCandidateWith<kNel>(df, codes, n, pick);
  }
};

// Which groups the IQ2/IQ3 types redo with the final scale (§4.16–4.20).
enum class Redo : std::uint8_t {
  kOffGrid,      // IQ2_XS, IQ2_S, IQ3_XXS: off-grid groups, if any
  kAllIfAnyOff,  // IQ3_S: every group, if any is off the grid
  kAlways,       // IQ2_XXS: every group, whenever the scale is positive
};

// The scale search shared by IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S for one
// sub-block of B elements in groups of kNel: for trial scales
// id = (2*kMaxQ-1 + is*step)/denom, levels clamp(nearest_int(0.5*(id*x-1))),
// off-grid groups moved to their best neighbour at 1/id, accepted when
// sumqx²/sumq2 improves; then the redo pass at the chosen scale. The trial
// scales run one per lane (levels, codes and the sums sumqx/sumq2 in element
// order); the map lookups and neighbour searches run per lane and group; the
// acceptance runs in `is` order. Writes the final levels to L and returns the
// scale; sets `aborts` where ggml's asserts would fail.
template <int B, int kNel, int kBits, int kMaxQ>
struct GridScaleSearch {
  static constexpr int kGroups = B / kNel;
  static constexpr int kMaxTrials = 32;
  static constexpr int kPad = kMaxTrials + 16;  // room for the widest vector's tail

  // Terms of group g at scale s, then the best listed neighbour of code u.
  // Writes that point's levels to L (kNel entries); sets aborts if none.
  static HWY_INLINE void Neighbour(const iq::GridSearch& gs, int u, const float* xval,
                                   const float* waux, float s, std::int8_t* L, bool& aborts) {
    const int code = NeighbourCode(gs, u, xval, waux, s, aborts);
    for (int j = 0; j < kNel; ++j) L[j] = static_cast<std::int8_t>((code >> (kBits * j)) & ((1 << kBits) - 1));
  }

  // Level values 2l+1 of the grid (kStride entries).
  static const float* Levels() {
    alignas(32) static constexpr float kQ2[4] = {1, 3, 5, 0};
    alignas(32) static constexpr float kQ3[8] = {1, 3, 5, 7, 9, 11, 13, 15};
    return kBits == 2 ? kQ2 : kQ3;
  }

  // The code at position pos of u's list (the first when none was found:
  // ggml's assert, recorded in aborts).
  static HWY_INLINE int Chosen(const iq::GridSearch& gs, int u, int pos, bool& aborts) {
    if (pos < 0) {
      aborts = true;
      pos = 0;
    }
    return gs.list_codes(u)[1 + pos];
  }

  // The same, returning the point's packed levels (kBits per element).
  static HWY_INLINE int NeighbourCode(const iq::GridSearch& gs, int u, const float* xval,
                                      const float* waux, float s, bool& aborts) {
    const std::uint16_t* codes = gs.list_codes(u) + 1;
    const int n = gs.list(u)[0];
    if (RegTerms<kNel, kBits>::Fits()) {
      return Chosen(gs, u, RegTerms<kNel, kBits>(Levels(), xval, waux).Best(s, codes, n), aborts);
    }
    alignas(64) float T[48];
    Terms<kBits == 2 ? 4 : 8>(Levels(), kNel, s, xval, waux, T);
    return Chosen(gs, u, BestCandidate<kNel, kBits>(T, codes, n), aborts);
  }

  // The neighbour searches of one group for its off-grid trials ts[0..nt)
  // (scale inv[t], code codes_g[t]); writes the levels to lev[j][t]. The
  // group's x and w broadcasts are made once for all its trials.
  static HWY_INLINE void SearchGroup(const iq::GridSearch& gs, const std::int32_t* codes_g,
                                     const std::int16_t* ts, int nt, const float* xval,
                                     const float* waux, const float* inv, std::int32_t (*lev)[kPad],
                                     bool& aborts) {
    const auto decode = [&](int t, int code) {
      for (int j = 0; j < kNel; ++j) lev[j][t] = (code >> (kBits * j)) & ((1 << kBits) - 1);
    };
    if (!RegTerms<kNel, kBits>::Fits()) {
      for (int i = 0; i < nt; ++i) decode(ts[i], NeighbourCode(gs, codes_g[ts[i]], xval, waux, inv[ts[i]], aborts));
      return;
    }
    const RegTerms<kNel, kBits> terms(Levels(), xval, waux);
    for (int i = 0; i < nt; ++i) {
      const int t = ts[i], u = codes_g[t];
      decode(t, Chosen(gs, u, terms.Best(inv[t], gs.list_codes(u) + 1, gs.list(u)[0]), aborts));
    }
  }

  static float Run(const iq::GridSearch& gs, const float* HWY_RESTRICT xval,
                   const float* HWY_RESTRICT weight, const float* HWY_RESTRICT waux, float denom,
                   float scale, int is_lo, int is_hi, float step, bool on_grid_init, Redo redo,
                   std::int8_t* HWY_RESTRICT L, bool& aborts) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const int N = static_cast<int>(hn::Lanes(df));
    const int ntrials = is_hi - is_lo + 1;

    alignas(64) float wx[B];
    for (int i = 0; i < B; ++i) wx[i] = weight[i] * xval[i];  // (w*x)*q as in the reference
    alignas(64) float ids[kPad];
    for (float& v : ids) v = 1;  // (padding lanes: finite inverses)
    for (int t = 0; t < ntrials; ++t) {
      ids[t] = (2 * kMaxQ - 1 + static_cast<float>(is_lo + t) * step) / denom;
    }
    alignas(64) std::int32_t lev[B][kPad];      // level of element i for trial t
    alignas(64) std::int32_t codes[kGroups][kPad];
    alignas(64) float sqx[kPad], sq2[kPad];
    bool on_grid[kMaxTrials][kGroups];
    std::int16_t work[kMaxTrials * kGroups];
    alignas(64) float inv[kPad];  // 1/ids[t], the trial's scale for its neighbour searches

    const auto half = hn::Set(df, 0.5f);
    const auto one = hn::Set(df, 1.0f);
    const auto zero_i = hn::Zero(di);
    const auto max_i = hn::Set(di, kMaxQ - 1);
    const auto one_i = hn::Set(di, 1);
    for (int c0 = 0; c0 < ntrials; c0 += N) {
      const auto vid = hn::Load(df, ids + c0);
      hn::Store(hn::Div(hn::Set(df, 1.0f), vid), df, inv + c0);  // (IEEE division: 1/ids[t] per lane)
      for (int g = 0; g < kGroups; ++g) {
        auto vu = hn::Zero(di);
        for (int j = 0; j < kNel; ++j) {
          const int i = g * kNel + j;
          const auto v = hn::Mul(half, hn::Sub(hn::Mul(vid, hn::Set(df, xval[i])), one));
          const auto l = hn::Min(hn::Max(NearestInt(df, v), zero_i), max_i);
          hn::Store(l, di, lev[i] + c0);
          vu = hn::Or(vu, hn::ShiftLeftSame(l, kBits * j));
        }
        hn::Store(vu, di, codes[g] + c0);
      }
      // Off-grid (trial, group) pairs first, without branching on the map
      // (about half the lookups miss: unpredictable), then their searches.
      const int c1 = c0 + N < ntrials ? c0 + N : ntrials;
      int nwork_g[kGroups] = {};  // off-grid trials of group g: work[g * kMaxTrials + ...]
      for (int t = c0; t < c1; ++t) {
        for (int g = 0; g < kGroups; ++g) {
          const bool on = gs.map[codes[g][t]] >= 0;
          on_grid[t][g] = on;
          work[g * kMaxTrials + nwork_g[g]] = static_cast<std::int16_t>(t);
          nwork_g[g] += !on;
        }
      }
      for (int g = 0; g < kGroups; ++g) {
        SearchGroup(gs, codes[g], work + g * kMaxTrials, nwork_g[g], xval + g * kNel, waux + g * kNel,
                    inv, lev + g * kNel, aborts);
      }
      auto vqx = hn::Zero(df), vq2 = hn::Zero(df);
      for (int i = 0; i < B; ++i) {
        const auto q = hn::ConvertTo(df, hn::Add(hn::ShiftLeft<1>(hn::Load(di, lev[i] + c0)), one_i));
        vqx = hn::Add(vqx, hn::Mul(hn::Set(df, wx[i]), q));
        vq2 = hn::Add(vq2, hn::Mul(hn::Mul(hn::Set(df, weight[i]), q), q));
      }
      hn::Store(vqx, df, sqx + c0);
      hn::Store(vq2, df, sq2 + c0);
    }

    float best = 0;
    int accepted = -1;
    for (int t = 0; t < ntrials; ++t) {
      if (sq2[t] > 0 && sqx[t] * sqx[t] > best * sq2[t]) {
        scale = sqx[t] / sq2[t];
        best = scale * sqx[t];
        accepted = t;
      }
    }
    bool group_on_grid[kGroups];
    bool any_off = false;
    for (int g = 0; g < kGroups; ++g) {
      group_on_grid[g] = accepted >= 0 ? on_grid[accepted][g] : on_grid_init;
      any_off |= !group_on_grid[g];
    }
    for (int i = 0; i < B; ++i) L[i] = accepted >= 0 ? static_cast<std::int8_t>(lev[i][accepted]) : 0;

    const bool do_redo = (redo == Redo::kAlways || any_off) && scale > 0;
    if (!do_redo) return scale;
    const float id = 1 / scale;
    for (int g = 0; g < kGroups; ++g) {
      if (redo == Redo::kOffGrid && group_on_grid[g]) continue;
      std::int8_t* Lk = L + g * kNel;
      int u = 0;
      for (int j = 0; j < kNel; ++j) {
        const int l = ggml::nearest_int(0.5f * (id * xval[g * kNel + j] - 1));
        Lk[j] = static_cast<std::int8_t>(ggml::max_of(0, ggml::min_of(kMaxQ - 1, l)));
        u |= Lk[j] << (kBits * j);
      }
      if (gs.map[u] < 0) Neighbour(gs, u, xval + g * kNel, waux + g * kNel, scale, Lk, aborts);
    }
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < B; ++i) {
      const float q = static_cast<float>(2 * L[i] + 1);
      sumqx += wx[i] * q;
      sumq2 += weight[i] * q * q;
    }
    if (sumq2 > 0) scale = sumqx / sumq2;
    return scale;
  }
};

// Indices 0..kN-1 sorted ascending by x, equal values in index order (the
// stable sort of ggml's IQ1 quantizers, §0.3), without branches: element i
// goes to position #{j : x_j < x_i} + #{j < i : x_j == x_i}. Float compares,
// so -0.0 ties with +0.0 as in the reference's comparator. kN is a multiple
// of the lane count (16 or 32).
template <int kN>
HWY_INLINE void StableArgsort(const float* HWY_RESTRICT x, int* HWY_RESTRICT idx) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const int N = static_cast<int>(hn::Lanes(df));
  for (int i = 0; i < kN; ++i) {
    const auto xi = hn::Set(df, x[i]);
    const auto vi = hn::Set(di, i);
    std::size_t rank = 0;
    for (int c = 0; c < kN; c += N) {
      const auto v = hn::LoadU(df, x + c);
      const auto before = hn::RebindMask(df, hn::Lt(hn::Iota(di, c), vi));
      rank += hn::CountTrue(df, hn::Or(hn::Lt(v, xi), hn::And(hn::Eq(v, xi), before)));
    }
    idx[rank] = i;
  }
}

// The reference's sequential acceptance over candidates in order (candidate
// c, then column k = 0..kCols-1 within it):
//   if (q2 > 0 && qx*qx > best*q2) { scale = qx/q2; best = scale*qx; }
// A vector pass with the current `best` skips runs of candidates that cannot
// pass (they fail in the sequential order too, best being unchanged before
// them); the first possible one is checked in scalar code, then the scan
// resumes after it. Returns c*kCols + k of the last accepted candidate, or
// -1. Arrays are read up to a vector past n.
template <int kCols>
HWY_INLINE int AcceptScan(const float* const (&qx)[kCols], const float* const (&q2)[kCols], int n,
                          float& best, float& scale) {
  const hn::ScalableTag<float> df;
  const int N = static_cast<int>(hn::Lanes(df));
  const auto zero = hn::Zero(df);
  int last = -1;
  int c = 0;
  while (c < n) {
    const auto vbest = hn::Set(df, best);
    auto any = hn::FirstN(df, 0);
    for (int k = 0; k < kCols; ++k) {
      const auto x = hn::LoadU(df, qx[k] + c);
      const auto w = hn::LoadU(df, q2[k] + c);
      any = hn::Or(any, hn::And(hn::Gt(w, zero), hn::Gt(hn::Mul(x, x), hn::Mul(vbest, w))));
    }
    any = hn::And(any, hn::FirstN(df, static_cast<std::size_t>(n - c)));
    if (hn::AllFalse(df, any)) {
      c += N;
      continue;
    }
    c += static_cast<int>(hn::FindFirstTrue(df, any));
    for (int k = 0; k < kCols; ++k) {
      const float x = qx[k][c], w = q2[k][c];
      if (w > 0 && x * x > best * w) {
        scale = x / w;
        best = scale * x;
        last = c * kCols + k;
      }
    }
    ++c;
  }
  return last;
}

// iq1_find_best_neighbour2 (§3.1) with one lane per candidate: the shifted
// level values xg, the raw weights w. Falls back to the scalar reference (and
// its full-grid scan) when no candidate scores below FLT_MAX.
HWY_INLINE int BestNeighbourIQ1(const iq::GridSearch& gs, int u, const float* HWY_RESTRICT x,
                                const float* HWY_RESTRICT w, float scale, const float* xg,
                                std::int8_t* L, bool& aborts) {
  alignas(16) const float q[4] = {xg[0], xg[1], xg[2], 0};
  const std::uint16_t* codes = gs.list_codes(u);
  const int n = gs.list(u)[0];
  int pos;
  if (RegTerms<8, 2>::Fits()) {
    pos = RegTerms<8, 2>(q, x, w).Best(scale, codes + 1, n);
  } else {
    alignas(64) float T[48];
    Terms<4>(q, 8, scale, x, w, T);
    pos = BestCandidate<8, 2>(T, codes + 1, n);
  }
  if (pos < 0) return iq::find_best_neighbour_iq1(gs, u, x, w, scale, xg, L, aborts);
  const int code = codes[1 + pos];
  for (int j = 0; j < 8; ++j) L[j] = static_cast<std::int8_t>((code >> (2 * j)) & 3);
  return gs.list(u)[1 + pos];
}

// Dequantization of one group of 8: y[j] = (db * bytes[j]) * (bit j of
// signs ? -1 : 1), the reference's two products (a multiply by -1, not a
// sign flip, so that NaN scales give the reference's bits too).
HWY_INLINE void DecodeSigned8(const std::uint8_t* HWY_RESTRICT bytes, unsigned signs, float db,
                              float* HWY_RESTRICT y) {
  const hn::CappedTag<float, 8> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<std::uint8_t, decltype(df)> d8;
  const std::size_t N = hn::Lanes(df);
  alignas(32) static constexpr std::int32_t kBit[8] = {1, 2, 4, 8, 16, 32, 64, 128};
  const auto vdb = hn::Set(df, db);
  const auto vs = hn::Set(di, static_cast<std::int32_t>(signs));
  const auto neg = hn::Set(df, -1.f), pos = hn::Set(df, 1.f);
  for (std::size_t c = 0; c < 8; c += N) {
    const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, bytes + c)));
    const auto bit = hn::Load(di, kBit + c);
    const auto is_neg = hn::RebindMask(df, hn::Eq(hn::And(vs, bit), bit));
    hn::StoreU(hn::Mul(hn::Mul(vdb, q), hn::IfThenElse(is_neg, neg, pos)), df, y + c);
  }
}

// Dequantization of one IQ1 group of 8: y[j] = dl * (values[j] + delta).
HWY_INLINE void DecodeShifted8(const std::int8_t* HWY_RESTRICT values, float dl, float delta,
                               float* HWY_RESTRICT y) {
  const hn::CappedTag<float, 8> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<std::int8_t, decltype(df)> d8;
  const std::size_t N = hn::Lanes(df);
  const auto vdl = hn::Set(df, dl);
  const auto vdelta = hn::Set(df, delta);
  for (std::size_t c = 0; c < 8; c += N) {
    const auto v = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, values + c)));
    hn::StoreU(hn::Mul(vdl, hn::Add(v, vdelta)), df, y + c);
  }
}

// Bytes of a grid entry (byte j = element j) on any host.
template <class T>
HWY_INLINE const std::uint8_t* EntryBytes(const T& entry, std::uint8_t* buf) {
  if constexpr (std::endian::native == std::endian::little) {
    return reinterpret_cast<const std::uint8_t*>(&entry);
  } else {
    for (std::size_t j = 0; j < sizeof(T); ++j) buf[j] = static_cast<std::uint8_t>(entry >> (8 * j));
    return buf;
  }
}

// weight[i] = qw[i] * sqrt(sigma2 + x[i]²) for n elements (n a multiple of the
// lane count or handled by the scalar tail): element-wise, exact in any order.
HWY_INLINE void ImportanceWeights(const float* HWY_RESTRICT x, const float* HWY_RESTRICT qw,
                                  float sigma2, int n, float* HWY_RESTRICT weight) {
  const hn::ScalableTag<float> df;
  const int N = static_cast<int>(hn::Lanes(df));
  const auto s2 = hn::Set(df, sigma2);
  int i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(df, x + i);
    hn::StoreU(hn::Mul(hn::LoadU(df, qw + i), hn::Sqrt(hn::Add(s2, hn::Mul(v, v)))), df, weight + i);
  }
  for (; i < n; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + x[i] * x[i]);
}

// Element-wise square roots (the neighbour searches' weights).
HWY_INLINE void Sqrts(const float* HWY_RESTRICT w, int n, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const int N = static_cast<int>(hn::Lanes(df));
  int i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Sqrt(hn::LoadU(df, w + i)), df, out + i);
  for (; i < n; ++i) out[i] = std::sqrt(w[i]);
}

}  // namespace iqk
}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
