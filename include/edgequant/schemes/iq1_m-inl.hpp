// SIMD kernels for IQ1_M (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ1_M_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ1_M_INL_
#undef EDGEQUANT_SCHEMES_IQ1_M_INL_
#else
#define EDGEQUANT_SCHEMES_IQ1_M_INL_
#endif

#include <cfloat>
#include <cmath>
#include <cstring>

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
        for (int k2 = 0; k2 < nb; ++k2) {
          if (CannotPass<kChunks>(v, k2, best.score)) continue;
          alignas(32) float t[8];
          for (int c = 0; c < kChunks; ++c) hn::Store(v[c][k2], d8, t + c * kN);
          for (int k = 0; k < 4; ++k) {
            if (t[4 + k] > 0 && t[k] * t[k] > best.score * t[4 + k]) {
              best.scale = t[k] / t[4 + k];
              best.score = best.scale * t[k];
              best.i1 = i1;
              best.i2 = i2 + k2;
              best.k = k;
            }
          }
        }
      }
    }
  }

  // True when none of the 4 (qx, q2) of row v[.][k] can pass
  // `q2 > 0 && qx*qx > best*q2`, checked in registers (storing the row and
  // reloading its upper half would stall store forwarding on many cores).
  template <int kChunks, class V>
  static HWY_INLINE bool CannotPass(const V (&v)[kChunks][4], int k, float best) {
    const hn::CappedTag<float, 4> d4;
    const auto fails = [&](auto vx, auto vw) {
      return hn::AllFalse(d4, hn::And(hn::Gt(vw, hn::Zero(d4)),
                                      hn::Gt(hn::Mul(vx, vx), hn::Mul(hn::Set(d4, best), vw))));
    };
#if HWY_TARGET != HWY_SCALAR  // (no UpperHalf there)
    if constexpr (kChunks == 1) return fails(hn::LowerHalf(d4, v[0][k]), hn::UpperHalf(d4, v[0][k]));
#endif
    if constexpr (kChunks == 2) {
      return fails(v[0][k], v[1][k]);
    } else {
      (void)fails;
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
    alignas(64) float scales[16], weight[kBlock];
    // rows[level][j]: lanes 0..3 = (w*t_k)*x, lanes 4..7 = (w*t_k)*t_k for k = 0..3
    alignas(64) float rows[3][kBlock][8];
    // t_k per half (first / second group of 8) and level, lanes k = 0..3 twice
    alignas(64) float tk[2][3][8];
    for (int h = 0; h < 2; ++h) {
      for (int r = 0; r < 3; ++r) {
        for (int k = 0; k < 4; ++k) tk[h][r][k] = tk[h][r][4 + k] = IQ1_M::shift_table(k, h)[r];
      }
    }
    std::int8_t L[kBlock], shifts[16];
    int idx[kBlock];
    std::uint16_t index[2];
    for (std::size_t ibl = 0; ibl < n / IQ1_M::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ1_M::block_elems;
      const float* qwbl = importance ? importance + ibl * IQ1_M::block_elems : nullptr;
      IQ1_M::Block& b = y[ibl];
      std::memset(&b, 0, sizeof(b));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + kBlock * ib;
        if (qwbl) {
          iqk::ImportanceWeights(xb, qwbl + kBlock * ib, sigma2, kBlock, weight);
        } else {
          for (int i = 0; i < kBlock; ++i) weight[i] = xb[i] * xb[i];
        }
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = ggml::max_of(max, std::fabs(xb[i]));
        if (max < iq::kEpsIQ1M) {
          scales[ib] = 0;
          shifts[ib] = 0;
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
        SearchPairs<static_cast<int>(8 / hn::MaxLanes(decltype(d8)()))>(d8, rows, best);
#endif
        float scale = best.scale;
        const int besti1 = best.i1, besti2 = best.i2;
        int best_k = best.k;
        if (besti1 < 0 || besti2 < 0 || best_k < 0) {
          scales[ib] = 0;
          shifts[ib] = 0;
          continue;
        }
        for (int j = 0; j < kBlock; ++j) {
          L[idx[j]] = static_cast<std::int8_t>(j < besti1 ? 0 : j < besti2 ? 1 : 2);
        }
        if (scale < 0) {
          for (auto& l : L) l = static_cast<std::int8_t>(2 - l);
          scale = -scale;
          best_k = 3 - best_k;
        }
        bool all_on_grid = true;
        for (int k = 0; k < 2; ++k) {
          const int u = iq::pack_levels(L + 8 * k, 8, 2);
          int g = gs.map[u];
          if (g < 0) {
            all_on_grid = false;
            g = iqk::BestNeighbourIQ1(gs, u, xb + 8 * k, weight + 8 * k, scale,
                                      IQ1_M::shift_table(best_k, k), L + 8 * k, aborts);
          }
          index[k] = static_cast<std::uint16_t>(g);
        }
        if (!all_on_grid) {
          float sumqx = 0, sumq2 = 0;
          for (int k = 0; k < 2; ++k) {
            const float* xx = IQ1_M::shift_table(best_k, k);
            for (int j = 0; j < 8; ++j) {
              const float w = weight[8 * k + j];
              const float q = xx[gs.level(index[k], j)];
              sumqx += w * q * xb[8 * k + j];
              sumq2 += w * q * q;
            }
          }
          if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
        }
        b.qs[2 * ib] = static_cast<std::uint8_t>(index[0] & 255);
        b.qs[2 * ib + 1] = static_cast<std::uint8_t>(index[1] & 255);
        b.qh[ib] = static_cast<std::uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        shifts[ib] = static_cast<std::int8_t>(best_k);
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ1_M::finish_block(b, xbl, qwbl, sigma2, gs, scales, shifts, max_scale);
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
