// SIMD kernels for Q4_0 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q4_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q4_0_INL_
#undef EDGEQUANT_SCHEMES_Q4_0_INL_
#else
#define EDGEQUANT_SCHEMES_Q4_0_INL_
#endif

#include <algorithm>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_legacy-inl.hpp"
#include "edgequant/schemes/q4_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q4_0> {
  // Without importance: vectorised over the 32 elements (no sums involved),
  // blocks in groups (kBlockGroups). With importance: quantize_weighted.
  static void quantize_row(const float* HWY_RESTRICT x, Q4_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float* importance) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if (importance != nullptr) {
      quantize_weighted(x, y, n, importance);
      return;
    }
    if (16 % N != 0) {
      Q4_0::quantize_row_ref(x, y, n);
      return;
    }
    const auto half8 = hn::Set(df, 8.5f);
    const auto fifteen = hn::Set(df, 15.0f);
    const auto sixteen = hn::Set(df, 16.0f);
    auto levels = [&](const float* HWY_RESTRICT xb, float id, std::uint8_t* HWY_RESTRICT qs) {
      if (ggml::inverse_scale_overflowed(id)) {
        for (int j = 0; j < 16; ++j) qs[j] = 0;
        return;
      }
      const auto vid = hn::Set(df, id);
      for (std::size_t j = 0; j < 16; j += N) {
        // MIN(15, (int8)(x*id + 8.5f)): the value is positive, so the cast is
        // Floor; lo + 16*hi is exact in float.
        const auto lo =
            hn::Min(fifteen, hn::Floor(hn::Add(hn::Mul(hn::LoadU(df, xb + j), vid), half8)));
        const auto hi =
            hn::Min(fifteen, hn::Floor(hn::Add(hn::Mul(hn::LoadU(df, xb + j + 16), vid), half8)));
        StoreLowBytes(di, IntegerBits(df, hn::Add(lo, hn::Mul(hi, sixteen))), qs + j);
      }
    };
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        const auto d = hn::Div(SignedAbsMaxGroup(df, x + b * 32), hn::Set(df, -8.0f));
        float id[8];
        hn::StoreU(InverseOrZero(df, d), df, id);
        StoreF16Lanes(df, d, y + b, &Q4_0::Block::d);
        for (std::size_t k = 0; k < N; ++k) levels(x + (b + k) * 32, id[k], y[b + k].qs);
      }
    }
#endif
    for (; b < nb; ++b) {
      const float d = SignedAbsMax(df, x + b * 32, 32) / -8;
      y[b].d = ggml::fp16(d);
      levels(x + b * 32, d != 0.f ? 1.0f / d : 0.0f, y[b].qs);
    }
  }

  // With importance: quantize_row_q4_0_impl, blocks in groups of one block per
  // lane (the scale search's sums stay sequential within each lane).
  static void quantize_weighted(const float* HWY_RESTRICT x, Q4_0::Block* HWY_RESTRICT y,
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
        StoreF16Lanes(df, MakeQxQuantsLanes(df, 8, xv, wv, L), y + b, &Q4_0::Block::d);
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
    for (; b < nb; ++b) Q4_0::quantize_block_weighted(x + b * 32, qw + b * 32, sigma2, y[b]);
  }

  static void dequantize_row(const Q4_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    dequantize<false>(x, y, n);
  }
  static void dequantize_row_stream(const Q4_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
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
  static void dequantize(const Q4_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y, std::size_t n) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (16 % N != 0) {
      Q4_0::dequantize_row_ref(x, y, n);
      return;
    }
    const auto mask = hn::Set(di, 0x0F);
    const auto eight = hn::Set(di, 8);
    const std::size_t nb = n / 32;
    for (std::size_t b0 = 0; b0 < nb; b0 += kScaleGroup) {
      const std::size_t g = std::min(kScaleGroup, nb - b0);
      float dv[kScaleGroup];
      LoadF16Field(x + b0, g, &Q4_0::Block::d, dv);
      for (std::size_t k = 0; k < g; ++k) {
        const auto vd = hn::Set(df, dv[k]);
        const std::uint8_t* qs = x[b0 + k].qs;
        float* yb = y + (b0 + k) * 32;
        for (std::size_t j = 0; j < 16; j += N) {
          const auto q = hn::PromoteTo(di, hn::LoadU(d8, qs + j));
          const auto lo = hn::Sub(hn::And(q, mask), eight);
          const auto hi = hn::Sub(hn::ShiftRight<4>(q), eight);
          StoreOut<kStream>(df, hn::Mul(hn::ConvertTo(df, lo), vd), yb + j);
          StoreOut<kStream>(df, hn::Mul(hn::ConvertTo(df, hi), vd), yb + j + 16);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
