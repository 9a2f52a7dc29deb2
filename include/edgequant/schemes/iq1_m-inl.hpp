// SIMD kernels for IQ1_M (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ1_M_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ1_M_INL_
#undef EDGEQUANT_SCHEMES_IQ1_M_INL_
#else
#define EDGEQUANT_SCHEMES_IQ1_M_INL_
#endif

#include <array>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq1_m.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ1_M> {
  static constexpr int kBlock = 16;

  struct Best {
    float score, scale;
    int i1, i2, k;
  };

  // The (i1, i2) search of one sub-block: rows[level][j] holds the 8 terms
  // of sorted element j (lanes 0..3: (w*t_k)*x, lanes 4..7: (w*t_k)*t_k). A
  // row is kChunks vectors of 8/kChunks lanes (compile-time, so the sums
  // live in registers). Four consecutive i2 are summed at once: four
  // independent add chains instead of one latency-bound chain per pair.
  template <int kChunks, class D8>
  static HWY_INLINE void SearchPairs(D8 d8, const float (*rows)[kBlock][8], Best& best) {
    constexpr int kN = 8 / kChunks;
    using V = hn::Vec<D8>;
    V prefix[kChunks], part[kChunks];
    for (int c = 0; c < kChunks; ++c) prefix[c] = hn::Zero(d8);
    for (int i1 = 0; i1 <= kBlock; ++i1) {
      if (i1 > 0) {
        for (int c = 0; c < kChunks; ++c) prefix[c] = hn::Add(prefix[c], hn::Load(d8, rows[0][i1 - 1] + c * kN));
      }
      for (int c = 0; c < kChunks; ++c) part[c] = prefix[c];
      for (int i2 = i1; i2 <= kBlock; i2 += 4) {
        const int nb = kBlock + 1 - i2 < 4 ? kBlock + 1 - i2 : 4;
        V v[kChunks][4];
        for (int c = 0; c < kChunks; ++c) {
          if (i2 > i1) part[c] = hn::Add(part[c], hn::Load(d8, rows[1][i2 - 1] + c * kN));
          v[c][0] = part[c];
          for (int k = 1; k < 4; ++k) {
            if (k < nb) part[c] = hn::Add(part[c], hn::Load(d8, rows[1][i2 + k - 1] + c * kN));
            v[c][k] = part[c];
          }
          // Pair i2+k starts its tail at j = i2+k: a staggered start, then
          // all four chains together.
          if (i2 < kBlock) {
            const auto r = hn::Load(d8, rows[2][i2] + c * kN);
            v[c][0] = hn::Add(v[c][0], r);
          }
          if (i2 + 1 < kBlock) {
            const auto r = hn::Load(d8, rows[2][i2 + 1] + c * kN);
            v[c][0] = hn::Add(v[c][0], r);
            v[c][1] = hn::Add(v[c][1], r);
          }
          if (i2 + 2 < kBlock) {
            const auto r = hn::Load(d8, rows[2][i2 + 2] + c * kN);
            v[c][0] = hn::Add(v[c][0], r);
            v[c][1] = hn::Add(v[c][1], r);
            v[c][2] = hn::Add(v[c][2], r);
          }
          for (int j = i2 + 3; j < kBlock; ++j) {
            const auto r = hn::Load(d8, rows[2][j] + c * kN);
            v[c][0] = hn::Add(v[c][0], r);
            v[c][1] = hn::Add(v[c][1], r);
            v[c][2] = hn::Add(v[c][2], r);
            v[c][3] = hn::Add(v[c][3], r);
          }
        }
        // Most groups hold no better pair: one test for the four. (The
        // sums stay in registers: only a passing group is stored, with
        // constant indices, then read by the runtime k2.)
        if (GroupCannotPass<kChunks>(d8, v, nb, best.score)) continue;
        alignas(32) float t[4][8];
        for (int k2 = 0; k2 < 4; ++k2) {
          for (int c = 0; c < kChunks; ++c) hn::Store(v[c][k2], d8, t[k2] + c * kN);
        }
        for (int k2 = 0; k2 < nb; ++k2) {
          for (int k = 0; k < 4; ++k) {
            if (t[k2][4 + k] > 0 && t[k2][k] * t[k2][k] > best.score * t[k2][4 + k]) {
              best.scale = t[k2][k] / t[k2][4 + k];
              best.score = best.scale * t[k2][k];
              best.i1 = i1;
              best.i2 = i2 + k2;
              best.k = k;
            }
          }
        }
      }
    }
  }

#if HWY_TARGET != HWY_SCALAR  // (vectors of 4 or 8 lanes)
  // The search's outcome proved without the reference's 612 sequential
  // candidate tests. Summed in any order, a candidate's qx and q2 are within
  // E = 2^-18 * sum_j(|r0| + 2|r1| + |r2|) (~64 units of rounding of the
  // terms' magnitude; the sums below take at most ~35) of both the
  // reference's sequential sums and the exact ones. So with qx = A[i1] +
  // B[i2] (one add per candidate: A = P0 - P1 at i1, B = P1 + S2 at i2,
  // from prefix sums P0, P1 and the suffix sum S2), ub = (|qx| + Ex)^2 /
  // (q2 - E2), rounded up, bounds the reference's qx^2/q2 (its
  // score). If the candidate with the largest ub, summed in the reference's
  // order, scores above every other ub, the reference's scan ends on it:
  // each candidate before it scores lower (it passes whatever best they
  // left), each one after it fails against its score. Otherwise (near-ties,
  // zero weights, huge or tiny values) this returns false and the
  // sequential search decides.
  template <int kChunks, class D8>
  static HWY_INLINE bool SearchPairsBounded(D8 d8, const float (*rows)[kBlock][8], Best& best) {
    constexpr int kN = 8 / kChunks;
    constexpr int kC = kBlock + 1;
    constexpr int kFlat = 4 * kC;
    using V = hn::Vec<D8>;
    // Bx/B2[4*i2 + k]: B of qx / of q2, then padding that yields tiny ub;
    // Ax/A2[i1]: A of qx / of q2 for k = 0..3, twice (lane l is k = l % 4).
    alignas(64) float Bx[kFlat + 8], B2[kFlat + 8], Ax[kC][8], A2[kC][8];
    // Row v (lanes 0..3 qx, 4..7 q2, in kChunks vectors) to the layouts above.
    const auto split = [&](const V (&v)[kChunks], float* x4, float* q4) {
      if constexpr (kChunks == 1) {
        const hn::Half<D8> dh;
        hn::StoreU(hn::LowerHalf(dh, v[0]), dh, x4);
        hn::StoreU(hn::UpperHalf(dh, v[0]), dh, q4);
      } else {
        hn::StoreU(v[0], d8, x4);
        hn::StoreU(v[1], d8, q4);
      }
    };
    const auto twice = [&](const V (&v)[kChunks], float* x8, float* q8) {
      if constexpr (kChunks == 1) {
        hn::Store(hn::ConcatLowerLower(d8, v[0], v[0]), d8, x8);
        hn::Store(hn::ConcatUpperUpper(d8, v[0], v[0]), d8, q8);
      } else {
        for (int h = 0; h < 8; h += kN) {
          hn::Store(v[0], d8, x8 + h);
          hn::Store(v[1], d8, q8 + h);
        }
      }
    };
    V e[kChunks];  // E per lane
    {
      V s2[kChunks], p0[kChunks], p1[kChunks], t[kChunks], qmin[kChunks], a[kChunks], b[kChunks];
      for (int c = 0; c < kChunks; ++c) s2[c] = p0[c] = p1[c] = t[c] = qmin[c] = hn::Zero(d8);
      alignas(64) float S2[kC][8];
      for (int c = 0; c < kChunks; ++c) hn::Store(s2[c], d8, S2[kBlock] + c * kN);
      for (int j = kBlock - 1; j >= 0; --j) {
        for (int c = 0; c < kChunks; ++c) {
          const V r0 = hn::Load(d8, rows[0][j] + c * kN), r1 = hn::Load(d8, rows[1][j] + c * kN),
                  r2 = hn::Load(d8, rows[2][j] + c * kN);
          s2[c] = hn::Add(s2[c], r2);
          hn::Store(s2[c], d8, S2[j] + c * kN);
          const V a1 = hn::Abs(r1);
          t[c] = hn::Add(t[c], hn::Add(hn::Add(hn::Abs(r0), hn::Abs(r2)), hn::Add(a1, a1)));
          qmin[c] = hn::Add(qmin[c], hn::Min(hn::Min(r0, r1), r2));
        }
      }
      for (int i = 0; i < kC; ++i) {
        for (int c = 0; c < kChunks; ++c) {
          if (i > 0) {
            p0[c] = hn::Add(p0[c], hn::Load(d8, rows[0][i - 1] + c * kN));
            p1[c] = hn::Add(p1[c], hn::Load(d8, rows[1][i - 1] + c * kN));
          }
          a[c] = hn::Sub(p0[c], p1[c]);
          b[c] = hn::Add(p1[c], hn::Load(d8, S2[i] + c * kN));
        }
        twice(a, Ax[i], A2[i]);
        split(b, Bx + 4 * i, B2 + 4 * i);
      }
      // Bounds that make every candidate's ub finite and well defined: no
      // overflow (|A|, |B| <= T <= 2^60) and q2 - E2 >= 2^-100 (normal) for
      // every candidate, q2 being at least the sum of each element's
      // smallest term (qmin) up to E2.
      const V big = hn::Set(d8, 0x1p60f), tiny = hn::Set(d8, 0x1p-100f);
      const V down = hn::Set(d8, 1 - 0x1p-20f), eps = hn::Set(d8, 0x1p-18f);
      for (int c = 0; c < kChunks; ++c) {
        if (!hn::AllTrue(d8, hn::Le(t[c], big))) return false;
        e[c] = hn::Mul(t[c], eps);
        const auto q_ok = hn::Ge(hn::Sub(hn::Mul(qmin[c], down), hn::Add(e[c], e[c])), tiny);
        // (q2 lanes only: 4..7 of one 8-lane vector, or the second vector)
        if constexpr (kChunks == 1) {
          if (!hn::AllTrue(d8, hn::Or(q_ok, hn::FirstN(d8, 4)))) return false;
        } else if (c == 1) {
          if (!hn::AllTrue(d8, q_ok)) return false;
        }
      }
    }
    // (kFlat = 68 floats: not vector-aligned)
    hn::StoreU(hn::Zero(d8), d8, Bx + kFlat);
    hn::StoreU(hn::Set(d8, 0x1p100f), d8, B2 + kFlat);
    if constexpr (kChunks == 2) {
      hn::StoreU(hn::Zero(d8), d8, Bx + kFlat + 4);
      hn::StoreU(hn::Set(d8, 0x1p100f), d8, B2 + kFlat + 4);
    }
    // ub's rounding-up factor, squared: above the reciprocal's error after
    // one Newton step (x86 estimates have 12+ bits: 2^-21 after it; NEON's
    // and SVE's 8: 2^-15) plus a few roundings.
#if HWY_ARCH_X86
    constexpr float kUp = 1 + 0x1p-18f;  // >= sqrt(1 + 2^-17)
#else
    constexpr float kUp = 1 + 0x1p-14f;  // >= sqrt(1 + 2^-13)
#endif
    const V sup = hn::Set(d8, kUp);
    V ex, e2;  // Ex, E2 of lane l's k = l % 4
    if constexpr (kChunks == 1) {
      ex = hn::Mul(hn::ConcatLowerLower(d8, e[0], e[0]), sup);
      e2 = hn::ConcatUpperUpper(d8, e[0], e[0]);
    } else {
      ex = hn::Mul(e[0], sup);
      e2 = e[1];
    }
    const V two = hn::Set(d8, 2.0f), iota = hn::Iota(d8, 0);
    V u1 = hn::Set(d8, -HUGE_VALF), u2 = u1, id1 = hn::Zero(d8);
    // Every candidate vector, unrolled at compile time: rows i1 = 0..16,
    // each kL candidates (i2, k) from 4*i1 (the last vector of a row may run
    // into the padding). Constant offsets and ids, no loop control and no
    // mispredicted row ends.
    constexpr int kL = static_cast<int>(hn::MaxLanes(D8()));
    const auto step = [&](const V ax, const V a2, int off, float id) HWY_ATTR __attribute__((always_inline)) {
      const V qx = hn::Add(ax, hn::LoadU(d8, Bx + off));
      const V q2 = hn::Add(a2, hn::LoadU(d8, B2 + off));
      const V m = hn::MulAdd(hn::Abs(qx), sup, ex);  // (|qx| + Ex) * kUp
      const V den = hn::Sub(q2, e2);
      V r = hn::ApproximateReciprocal(den);
      r = hn::Mul(r, hn::NegMulAdd(den, r, two));  // one Newton step
      const V ub = hn::Mul(hn::Mul(m, m), r);
      const auto gt = hn::Gt(ub, u1);
      u2 = hn::Max(u2, hn::Min(u1, ub));
      u1 = hn::IfThenElse(gt, ub, u1);
      id1 = hn::IfThenElse(gt, hn::Add(iota, hn::Set(d8, id)), id1);
    };
    const auto row = [&]<int I1>(std::integral_constant<int, I1>) HWY_ATTR __attribute__((always_inline)) {
      const V ax = hn::Load(d8, Ax[I1]), a2 = hn::Load(d8, A2[I1]);
      [&]<int... S>(std::integer_sequence<int, S...>) HWY_ATTR __attribute__((always_inline)) {
        (step(ax, a2, 4 * I1 + S * kL, static_cast<float>(128 * I1 + 4 * I1 + S * kL)), ...);
      }(std::make_integer_sequence<int, (4 * (kC - I1) + kL - 1) / kL>());
    };
    [&]<int... I>(std::integer_sequence<int, I...>) HWY_ATTR __attribute__((always_inline)) {
      (row(std::integral_constant<int, I>()), ...);
    }(std::make_integer_sequence<int, kC>());
    const int N = static_cast<int>(hn::Lanes(d8));
    alignas(64) float U1[8], U2[8], ID[8];
    hn::Store(u1, d8, U1);
    hn::Store(u2, d8, U2);
    hn::Store(id1, d8, ID);
    int top = 0;
    for (int l = 1; l < N; ++l) top = U1[l] > U1[top] ? l : top;
    float second = -HUGE_VALF;
    for (int l = 0; l < N; ++l) {
      second = second > U2[l] ? second : U2[l];
      if (l != top) second = second > U1[l] ? second : U1[l];
    }
    const int id = static_cast<int>(ID[top]);
    const int i1 = id / 128, i2 = (id % 128) / 4, k = id % 4;
    if (!(U1[top] < HUGE_VALF) || i2 > kBlock || i2 < i1) return false;  // (padding: undecided)
    // The winner's sums in the reference's order.
    float sqx = 0, sq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float* r = rows[j < i1 ? 0 : j < i2 ? 1 : 2][j];
      sqx += r[k];
      sq2 += r[4 + k];
    }
    if (!(sq2 > 0) || !((sqx * sqx / sq2) * (1 - 0x1p-20f) > second)) return false;
    best.scale = sqx / sq2;
    best.score = best.scale * sqx;
    best.i1 = i1;
    best.i2 = i2;
    best.k = k;
    return true;
  }

#endif  // HWY_TARGET != HWY_SCALAR

  // True when no (qx, q2) of the first nb rows v[.][0..nb) can pass
  // `q2 > 0 && qx*qx > best*q2` (the same products as the scalar test, so
  // never a wrong skip). 8-lane rows: two rows per vector, qx halves
  // together and q2 halves together.
  template <int kChunks, class D8, class V>
  static HWY_INLINE bool GroupCannotPass(D8 d8, const V (&v)[kChunks][4], int nb, float best) {
    const auto vb = hn::Set(d8, best);
    const auto zero = hn::Zero(d8);
    const auto pass = [&](V qx, V q2) { return hn::And(hn::Gt(q2, zero), hn::Gt(hn::Mul(qx, qx), hn::Mul(vb, q2))); };
    if constexpr (kChunks == 1) {
#if HWY_TARGET != HWY_SCALAR  // (no ConcatUpperUpper there)
      auto m = pass(hn::ConcatLowerLower(d8, v[0][1], v[0][0]), hn::ConcatUpperUpper(d8, v[0][1], v[0][0]));
      if (nb > 2) {
        m = hn::Or(m, pass(hn::ConcatLowerLower(d8, v[0][3], v[0][2]), hn::ConcatUpperUpper(d8, v[0][3], v[0][2])));
      }
      return hn::AllFalse(d8, m);
#else
      (void)pass, (void)nb;
      return false;
#endif
    } else if constexpr (kChunks == 2) {
      auto m = pass(v[0][0], v[1][0]);
      for (int k = 1; k < nb; ++k) m = hn::Or(m, pass(v[0][k], v[1][k]));
      return hn::AllFalse(d8, m);
    } else {
      (void)pass, (void)nb;
      return false;  // 1-lane vectors: the scalar test decides
    }
  }

  // The reference's steps. For every (i1, i2) the reference sums, for each
  // of the 4 shift combinations k, the terms (w*t)*x and (w*t)*t of the sorted
  // elements from scratch, in sorted order. Here the 8 sums of a pair are the
  // 8 lanes of a row: rows of terms per sorted element and level are built
  // once, the level-0 prefix once per i1, the level-1 part grows with i2, and
  // only the level-2 tail is added per pair; every lane adds exactly the
  // reference's terms in the reference's order. Pairs are visited in the
  // reference's order, so the acceptance runs on the fly (a 4-lane pre-check,
  // then the scalar test per k).
  static void quantize_row(const float* HWY_RESTRICT x, IQ1_M::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    const hn::CappedTag<float, 8> d8;
    const int N = static_cast<int>(hn::Lanes(d8));
    const iq::GridSearch& gs = iq::GridSearch::get(IQ1_M::grid);
    alignas(64) float scales[16];
    // rows[level][j]: lanes 0..3 = (w*t_k)*x, lanes 4..7 = (w*t_k)*t_k for k = 0..3
    alignas(64) float rows[3][kBlock][8];
    // t_k per half (first / second group of 8) and level, lanes k = 0..3 twice
    alignas(64) float tk[2][3][8];
    for (int h = 0; h < 2; ++h) {
      for (int r = 0; r < 3; ++r) {
        for (int k = 0; k < 4; ++k) tk[h][r][k] = tk[h][r][4 + k] = IQ1_M::shift_table(k, h)[r];
      }
    }
    std::int8_t shifts[16];
    int idx[kBlock];
    // A sub-block whose levels are chosen, waiting for its grid lookups: they
    // run one sub-block later, so that the neighbour lists (~190 bytes each,
    // 1.7 MB in all: mostly beyond L2) are prefetched behind the next
    // search. Sub-blocks are independent until finish_block.
    struct Pending {
      int ib = -1;
      int best_k = 0;
      float scale = 0;
      int u[2] = {0, 0};
      std::int8_t L[kBlock];
    };
    Pending pend[2];
    for (std::size_t ibl = 0; ibl < n / IQ1_M::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ1_M::block_elems;
      const float* qwbl = importance ? importance + ibl * IQ1_M::block_elems : nullptr;
      IQ1_M::Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      float max_scale = 0;
      bool aborts = false;
      alignas(64) float wbl[IQ1_M::block_elems];  // weights of all 16 sub-blocks
      // The grid part of sub-block p.ib: neighbours for off-grid halves, the
      // scale refit, then its codes and scale.
      const auto finish = [&](Pending& p) {
        const int ib = p.ib;
        const float* xb = xbl + kBlock * ib;
        const float* weight = wbl + kBlock * ib;
        float scale = p.scale;
        std::uint16_t index[2];
        bool all_on_grid = true;
        for (int k = 0; k < 2; ++k) {
          int g = gs.map[p.u[k]];
          if (g < 0) {
            all_on_grid = false;
            g = iqk::BestNeighbourIQ1(gs, p.u[k], xb + 8 * k, weight + 8 * k, scale,
                                      IQ1_M::shift_table(p.best_k, k), p.L + 8 * k, aborts);
          }
          index[k] = static_cast<std::uint16_t>(g);
        }
        if (!all_on_grid) scale = IQ1_M::refit_scale(gs, index, p.best_k, xb, weight, scale);
        IQ1_M::store_codes(b, ib, index);
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        shifts[ib] = static_cast<std::int8_t>(p.best_k);
        max_scale = ggml::max_of(max_scale, scale);
        p.ib = -1;
      };
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + kBlock * ib;
        float* weight = wbl + kBlock * ib;
        if (qwbl) {
          iqk::ImportanceWeights(xb, qwbl + kBlock * ib, sigma2, kBlock, weight);
        } else {
          for (int i = 0; i < kBlock; ++i) weight[i] = xb[i] * xb[i];
        }
        Pending& prev = pend[(ib + 1) & 1];
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = ggml::max_of(max, std::fabs(xb[i]));
        if (max < iq::kEpsIQ1M) {
          scales[ib] = 0;
          shifts[ib] = 0;
          if (prev.ib >= 0) finish(prev);
          continue;
        }
        iqk::StableArgsort<kBlock>(xb, idx);
        for (int j = 0; j < kBlock; ++j) {
          const int i = idx[j];
          const auto w = hn::Set(d8, weight[i]);
          const auto xv = hn::Set(d8, xb[i]);
          for (int r = 0; r < 3; ++r) {
            const float* t = tk[i < kBlock / 2 ? 0 : 1][r];
            for (int c = 0; c < 8; c += N) {
              const auto tv = hn::Load(d8, t + c);
              // second factor: x in lanes 0..3, t_k in lanes 4..7
              const auto f = hn::IfThenElse(hn::FirstN(d8, c < 4 ? static_cast<std::size_t>(4 - c) : 0), xv, tv);
              hn::Store(hn::Mul(hn::Mul(w, tv), f), d8, rows[r][j] + c);
            }
          }
        }
        Best best{-FLT_MAX, max, -1, -1, -1};
#if HWY_HAVE_SCALABLE
        static_assert(false, "IQ1_M: add a pair search for scalable vectors");
#else
        bool decided = false;
#if HWY_TARGET != HWY_SCALAR
        decided = SearchPairsBounded<static_cast<int>(8 / hn::MaxLanes(decltype(d8)()))>(d8, rows, best);
#endif
        if (!decided) SearchPairs<static_cast<int>(8 / hn::MaxLanes(decltype(d8)()))>(d8, rows, best);
#endif
        if (prev.ib >= 0) finish(prev);
        if (best.i1 < 0 || best.i2 < 0 || best.k < 0) {
          scales[ib] = 0;
          shifts[ib] = 0;
          continue;
        }
        Pending& cur = pend[ib & 1];
        cur.ib = ib;
        cur.scale = best.scale;
        cur.best_k = best.k;
        for (int j = 0; j < kBlock; ++j) {
          cur.L[idx[j]] = static_cast<std::int8_t>(j < best.i1 ? 0 : j < best.i2 ? 1 : 2);
        }
        if (cur.scale < 0) {
          for (auto& l : cur.L) l = static_cast<std::int8_t>(2 - l);
          cur.scale = -cur.scale;
          cur.best_k = 3 - cur.best_k;
        }
        for (int k = 0; k < 2; ++k) {
          cur.u[k] = iq::pack_levels(cur.L + 8 * k, 8, 2);
          if (gs.map[cur.u[k]] < 0) {
            const auto* list = gs.list(cur.u[k]);
            const auto* codes = gs.list_codes(cur.u[k]);
            for (int line = 0; line < 256; line += 64) {
              hwy::Prefetch(reinterpret_cast<const char*>(list) + line);
              hwy::Prefetch(reinterpret_cast<const char*>(codes) + line);
            }
          }
        }
      }
      if (pend[1].ib >= 0) finish(pend[1]);
      if (pend[0].ib >= 0) finish(pend[0]);
      IQ1_M::finish_block(b, xbl, wbl, gs, scales, shifts, max_scale);
      if (aborts) IQ1_M::set_scale_bits(b, iq::kAbortScale);
    }
  }

  static void dequantize_row(const IQ1_M::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    static constexpr float kDelta[2] = {iq::kIQ1Delta, -iq::kIQ1Delta};
    std::uint8_t buf[8];
    for (std::size_t i = 0; i < n / IQ1_M::block_elems; ++i) {
      const float d = ggml::fp32(IQ1_M::scale_bits(x[i]));
      for (int ib = 0; ib < 8; ++ib) {
        const unsigned sc = x[i].scales[2 * (ib / 2)] | x[i].scales[2 * (ib / 2) + 1] << 8;
        const float dl[2] = {d * static_cast<float>(2 * ((sc >> (6 * (ib % 2))) & 7) + 1),
                             d * static_cast<float>(2 * ((sc >> (6 * (ib % 2) + 3)) & 7) + 1)};
        for (int l = 0; l < 4; ++l, y += 8) {
          const unsigned qh = x[i].qh[2 * ib + l / 2] >> (l % 2 ? 4 : 0);
          const auto& e = iq::k_iq1s_grid[x[i].qs[4 * ib + l] | ((qh & 7) << 8)];
          const float delta = kDelta[(qh >> 3) & 1];  // a table, not a branch on random bits
          iqk::DecodeShifted8(reinterpret_cast<const std::int8_t*>(iqk::EntryBytes(e, buf)), dl[l / 2], delta, y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
