// SIMD kernels for Q4_1 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q4_1_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q4_1_INL_
#undef EDGEQUANT_SCHEMES_Q4_1_INL_
#else
#define EDGEQUANT_SCHEMES_Q4_1_INL_
#endif

#include <algorithm>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_legacy-inl.hpp"
#include "edgequant/schemes/q4_1.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q4_1> {
  // Without importance: min/max are order-free (signed zeros handled by
  // MinMax32), the levels are per element, blocks in groups (kBlockGroups).
  // With importance: quantize_weighted.
  static void quantize_row(const float* HWY_RESTRICT x, Q4_1::Block* HWY_RESTRICT y, std::size_t n,
                           const float* importance) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if (importance != nullptr) {
      quantize_weighted(x, y, n, importance);
      return;
    }
    if (16 % N != 0) {
      Q4_1::quantize_row_ref(x, y, n);
      return;
    }
    const auto half = hn::Set(df, 0.5f);
    const auto fifteen = hn::Set(df, 15.0f);
    const auto sixteen = hn::Set(df, 16.0f);
    auto levels = [&](const float* HWY_RESTRICT xb, float min, float id,
                      std::uint8_t* HWY_RESTRICT qs) {
      if (ggml::inverse_scale_overflowed(id)) {
        for (int j = 0; j < 16; ++j) qs[j] = 0;
        return;
      }
      const auto vmin = hn::Set(df, min);
      const auto vid = hn::Set(df, id);
      for (std::size_t j = 0; j < 16; j += N) {
        // MIN(15, (int8)((x - min)*id + 0.5f)): non-negative, so the cast is
        // Floor; lo + 16*hi is exact in float.
        const auto lo = hn::Min(
            fifteen, hn::Floor(hn::Add(hn::Mul(hn::Sub(hn::LoadU(df, xb + j), vmin), vid), half)));
        const auto hi = hn::Min(
            fifteen,
            hn::Floor(hn::Add(hn::Mul(hn::Sub(hn::LoadU(df, xb + j + 16), vmin), vid), half)));
        StoreLowBytes(di, IntegerBits(df, hn::Add(lo, hn::Mul(hi, sixteen))), qs + j);
      }
    };
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        hn::Vec<decltype(df)> mn, mx;
        MinMaxGroup(df, x + b * 32, &mn, &mx);
        const auto d = hn::Div(hn::Sub(mx, mn), hn::Set(df, 15.0f));
        float id[8], min[8];
        hn::StoreU(InverseOrZero(df, d), df, id);
        hn::StoreU(mn, df, min);
        StoreF16Lanes(df, d, y + b, &Q4_1::Block::d);
        StoreF16Lanes(df, mn, y + b, &Q4_1::Block::m);
        for (std::size_t k = 0; k < N; ++k) levels(x + (b + k) * 32, min[k], id[k], y[b + k].qs);
      }
    }
#endif
    for (; b < nb; ++b) {
      float min, max;
      MinMax32(df, x + b * 32, &min, &max);
      const float d = (max - min) / ((1 << 4) - 1);
      y[b].d = ggml::fp16(d);
      y[b].m = ggml::fp16(min);
      levels(x + b * 32, min, d != 0.f ? 1.0f / d : 0.0f, y[b].qs);
    }
  }

  // With importance: quantize_row_q4_1_impl, blocks in groups of one block per
  // lane (the scale search's sums stay sequential within each lane).
  static void quantize_weighted(const float* HWY_RESTRICT x, Q4_1::Block* HWY_RESTRICT y,
                                std::size_t n, const float* HWY_RESTRICT qw) {
    const float sigma2 = ggml::row_sigma2(x, n);
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        hn::Vec<decltype(df)> xv[32], wv[32];
        hn::Vec<decltype(di)> L[32];
        LoadWeightedLanes(df, x + b * 32, qw + b * 32, sigma2, xv, wv);
        hn::Vec<decltype(df)> the_min;
        const auto d = MakeQkx3QuantsLanes(df, 15, xv, wv, L, &the_min, -0.9f, 0.05f, 36);
        StoreF16Lanes(df, d, y + b, &Q4_1::Block::d);
        StoreF16Lanes(df, hn::Neg(the_min), y + b, &Q4_1::Block::m);
        HWY_ALIGN std::int32_t lv[32 * 8];
        StoreLevelLanes(di, L, lv);
        for (std::size_t k = 0; k < N; ++k) {
          for (std::size_t j = 0; j < 16; ++j) {
            y[b + k].qs[j] = static_cast<std::uint8_t>(lv[j * N + k] | lv[(j + 16) * N + k] << 4);
          }
        }
      }
    }
#endif
    for (; b < nb; ++b) Q4_1::quantize_block_weighted(x + b * 32, qw + b * 32, sigma2, y[b]);
  }

  static void dequantize_row(const Q4_1::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    dequantize<false>(x, y, n);
  }
  static void dequantize_row_stream(const Q4_1::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                                    std::size_t n) {
    if (StreamAligned(y)) {
      dequantize<true>(x, y, n);
      hwy::FlushStream();
    } else {
      dequantize<false>(x, y, n);
    }
  }

 private:
  template <bool kStream>
  static void dequantize(const Q4_1::Block* HWY_RESTRICT x, float* HWY_RESTRICT y, std::size_t n) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (16 % N != 0) {
      Q4_1::dequantize_row_ref(x, y, n);
      return;
    }
    const auto mask = hn::Set(di, 0x0F);
    const std::size_t nb = n / 32;
    for (std::size_t b0 = 0; b0 < nb; b0 += kScaleGroup) {
      const std::size_t g = std::min(kScaleGroup, nb - b0);
      float dv[kScaleGroup], mv[kScaleGroup];
      LoadF16Field(x + b0, g, &Q4_1::Block::d, dv);
      LoadF16Field(x + b0, g, &Q4_1::Block::m, mv);
      for (std::size_t k = 0; k < g; ++k) {
        const auto vd = hn::Set(df, dv[k]);
        const auto vm = hn::Set(df, mv[k]);
        const std::uint8_t* qs = x[b0 + k].qs;
        float* yb = y + (b0 + k) * 32;
        for (std::size_t j = 0; j < 16; j += N) {
          const auto q = hn::PromoteTo(di, hn::LoadU(d8, qs + j));
          const auto lo = hn::ConvertTo(df, hn::And(q, mask));
          const auto hi = hn::ConvertTo(df, hn::ShiftRight<4>(q));
          // q*d is exact (4-bit times 11-bit), so the sum rounds as ggml's.
          StoreOut<kStream>(df, hn::Add(hn::Mul(lo, vd), vm), yb + j);
          StoreOut<kStream>(df, hn::Add(hn::Mul(hi, vd), vm), yb + j + 16);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
