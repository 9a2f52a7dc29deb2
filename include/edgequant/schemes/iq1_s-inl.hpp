// SIMD kernels for IQ1_S (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_IQ1_S_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_IQ1_S_INL_
#undef EDGEQUANT_SCHEMES_IQ1_S_INL_
#else
#define EDGEQUANT_SCHEMES_IQ1_S_INL_
#endif

#include <cfloat>
#include <cmath>
#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/iq1_s.hpp"
#include "edgequant/schemes/iq_grid-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<IQ1_S> {
  static constexpr int kBlock = 32;
  static constexpr int kPairs = (kBlock + 1) * (kBlock + 2) / 2;  // i1 <= i2 in 0..32

  // The reference's steps. The (i1, i2) partition scores run one lane per
  // i2 (each lane the reference's three-term expression), the acceptance in
  // the reference's order with a vector pre-filter (iqk::AcceptScan), the
  // neighbour searches one lane per candidate.
  static void quantize_row(const float* HWY_RESTRICT x, IQ1_S::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    const hn::ScalableTag<float> df;
    const int N = static_cast<int>(hn::Lanes(df));
    const iq::GridSearch& gs = iq::GridSearch::get(IQ1_S::grid);
    const float* x_p = iq::kIQ1Plus;
    const float* x_m = iq::kIQ1Minus;
    alignas(64) float scales[8], weight[kBlock];
    alignas(64) float sumx[kBlock + 1 + 16] = {}, sumw[kBlock + 1 + 16] = {};
    alignas(64) float qx[2][kPairs + 16], q2[2][kPairs + 16];
    std::int8_t L[kBlock], shifts[8];
    int idx[kBlock];
    std::uint16_t index[4];
    for (std::size_t ibl = 0; ibl < n / IQ1_S::block_elems; ++ibl) {
      const float* xbl = x + ibl * IQ1_S::block_elems;
      const float* qwbl = importance ? importance + ibl * IQ1_S::block_elems : iq::kUnitWeights.data();
      IQ1_S::Block& b = y[ibl];
      b.d = ggml::fp16(0.f);
      std::memset(b.qs, 0, sizeof(b.qs));
      std::memset(b.qh, 0, sizeof(b.qh));
      float max_scale = 0;
      bool aborts = false;
      const float sigma2 = 2 * iq::superblock_sumx2(xbl) / ggml::kQK_K;
      for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + kBlock * ib;
        iqk::ImportanceWeights(xb, qwbl + kBlock * ib, sigma2, kBlock, weight);
        float max = std::fabs(xb[0]);
        for (int i = 1; i < kBlock; ++i) max = ggml::max_of(max, std::fabs(xb[i]));
        if (max < iq::kEpsIQ1S) {
          scales[ib] = 0;
          shifts[ib] = 1;
          continue;
        }
        iqk::StableArgsort<kBlock>(xb, idx);
        for (int j = 0; j < kBlock; ++j) {
          const int i = idx[j];
          sumx[j + 1] = sumx[j] + weight[i] * xb[i];
          sumw[j + 1] = sumw[j] + weight[i];
        }
        // Scores of every (i1, i2), pairs in the reference's order.
        const float* tabs[2] = {x_p, x_m};
        int off = 0;
        for (int i1 = 0; i1 <= kBlock; ++i1) {
          const auto s1 = hn::Set(df, sumx[i1]), w1 = hn::Set(df, sumw[i1]);
          const auto s_end = hn::Set(df, sumx[kBlock]), w_end = hn::Set(df, sumw[kBlock]);
          for (int s = 0; s < 2; ++s) {
            const float* t = tabs[s];
            const auto a = hn::Set(df, (sumx[i1] - sumx[0]) * t[0]);
            const auto aw = hn::Set(df, (sumw[i1] - sumw[0]) * t[0] * t[0]);
            const auto t1 = hn::Set(df, t[1]), t2 = hn::Set(df, t[2]);
            for (int i2 = i1; i2 <= kBlock; i2 += N) {
              const auto s2 = hn::LoadU(df, sumx + i2), w2 = hn::LoadU(df, sumw + i2);
              const auto vx = hn::Add(hn::Add(a, hn::Mul(hn::Sub(s2, s1), t1)),
                                      hn::Mul(hn::Sub(s_end, s2), t2));
              const auto vw = hn::Add(hn::Add(aw, hn::Mul(hn::Mul(hn::Sub(w2, w1), t1), t1)),
                                      hn::Mul(hn::Mul(hn::Sub(w_end, w2), t2), t2));
              hn::StoreU(vx, df, qx[s] + off + (i2 - i1));
              hn::StoreU(vw, df, q2[s] + off + (i2 - i1));
            }
          }
          off += kBlock + 1 - i1;
        }
        float best_score = -FLT_MAX, scale = max;
        const int last = iqk::AcceptScan<2>({qx[0], qx[1]}, {q2[0], q2[1]}, kPairs, best_score, scale);
        if (last < 0) {
          scales[ib] = 0;
          shifts[ib] = 1;
          continue;
        }
        int best_shift = last % 2 == 0 ? 1 : -1;
        int besti1 = 0, pair = last / 2;
        while (pair > kBlock - besti1) {
          pair -= kBlock + 1 - besti1;
          ++besti1;
        }
        const int besti2 = besti1 + pair;
        for (int j = 0; j < kBlock; ++j) {
          L[idx[j]] = static_cast<std::int8_t>(j < besti1 ? 0 : j < besti2 ? 1 : 2);
        }
        if (scale < 0) {
          for (auto& l : L) l = static_cast<std::int8_t>(2 - l);
          scale = -scale;
          best_shift = -best_shift;
        }
        const float* xx = best_shift == 1 ? x_p : x_m;
        bool all_on_grid = true;
        for (int k = 0; k < 4; ++k) {
          const int u = iq::pack_levels(L + 8 * k, 8, 2);
          int g = gs.map[u];
          if (g < 0) {
            all_on_grid = false;
            g = iqk::BestNeighbourIQ1(gs, u, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k, aborts);
          }
          index[k] = static_cast<std::uint16_t>(g);
        }
        if (!all_on_grid) {
          float sumqx = 0, sumq2 = 0;
          for (int k = 0; k < 4; ++k) {
            for (int j = 0; j < 8; ++j) {
              const float w = weight[8 * k + j];
              const float q = xx[gs.level(index[k], j)];
              sumqx += w * q * xb[8 * k + j];
              sumq2 += w * q * q;
            }
          }
          if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
        }
        unsigned h = 0;
        for (int k = 0; k < 4; ++k) {
          b.qs[4 * ib + k] = static_cast<std::uint8_t>(index[k] & 255);
          h |= static_cast<unsigned>(index[k] >> 8) << (3 * k);
        }
        b.qh[ib] = static_cast<std::uint16_t>(h);
        aborts |= !(scale >= 0);
        scales[ib] = scale;
        shifts[ib] = static_cast<std::int8_t>(best_shift);
        max_scale = ggml::max_of(max_scale, scale);
      }
      IQ1_S::finish_block(b, scales, shifts, max_scale);
      if (aborts) b.d = iq::kAbortScale;
    }
  }

  static void dequantize_row(const IQ1_S::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    static constexpr float kDelta[2] = {iq::kIQ1Delta, -iq::kIQ1Delta};
    std::uint8_t buf[8];
    for (std::size_t i = 0; i < n / IQ1_S::block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      for (int ib = 0; ib < 8; ++ib) {
        const unsigned qh = x[i].qh[ib];
        const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
        const float delta = kDelta[qh >> 15];  // a table, not a branch on random bits
        for (int l = 0; l < 4; ++l, y += 8) {
          const auto& e = iq::k_iq1s_grid[x[i].qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
          iqk::DecodeShifted8(reinterpret_cast<const std::int8_t*>(iqk::EntryBytes(e, buf)), dl, delta, y);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
