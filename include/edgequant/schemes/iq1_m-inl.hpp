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
    const hn::CappedTag<float, 4> d4;
    const int N = static_cast<int>(hn::Lanes(d8));
    const int N4 = static_cast<int>(hn::Lanes(d4));
    const iq::GridSearch& gs = iq::GridSearch::get(IQ1_M::grid);
    alignas(64) float scales[16], weight[kBlock];
    // rows[level][j]: lanes 0..3 = (w*t_k)*x, lanes 4..7 = (w*t_k)*t_k for k = 0..3
    alignas(64) float rows[3][kBlock][8];
    alignas(64) float prefix[8], part[8], tail[8];
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
        iq::stable_argsort(xb, kBlock, idx);
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
        float best_score = -FLT_MAX, scale = max;
        int besti1 = -1, besti2 = -1, best_k = -1;
        const auto zero4 = hn::Zero(d4);
        for (int c = 0; c < 8; c += N) hn::Store(hn::Zero(d8), d8, prefix + c);
        for (int i1 = 0; i1 <= kBlock; ++i1) {
          if (i1 > 0) {
            for (int c = 0; c < 8; c += N) {
              hn::Store(hn::Add(hn::Load(d8, prefix + c), hn::Load(d8, rows[0][i1 - 1] + c)), d8, prefix + c);
            }
          }
          for (int c = 0; c < 8; c += N) hn::Store(hn::Load(d8, prefix + c), d8, part + c);
          for (int i2 = i1; i2 <= kBlock; ++i2) {
            for (int c = 0; c < 8; c += N) {
              auto v = hn::Load(d8, part + c);
              if (i2 > i1) {
                v = hn::Add(v, hn::Load(d8, rows[1][i2 - 1] + c));
                hn::Store(v, d8, part + c);
              }
              for (int j = i2; j < kBlock; ++j) v = hn::Add(v, hn::Load(d8, rows[2][j] + c));
              hn::Store(v, d8, tail + c);
            }
            bool may_pass = false;
            for (int c = 0; c < 4; c += N4) {
              const auto vx = hn::Load(d4, tail + c), vw = hn::Load(d4, tail + 4 + c);
              may_pass |= !hn::AllFalse(
                  d4, hn::And(hn::Gt(vw, zero4), hn::Gt(hn::Mul(vx, vx), hn::Mul(hn::Set(d4, best_score), vw))));
            }
            if (!may_pass) continue;
            for (int k = 0; k < 4; ++k) {
              if (tail[4 + k] > 0 && tail[k] * tail[k] > best_score * tail[4 + k]) {
                scale = tail[k] / tail[4 + k];
                best_score = scale * tail[k];
                besti1 = i1;
                besti2 = i2;
                best_k = k;
              }
            }
          }
        }
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
