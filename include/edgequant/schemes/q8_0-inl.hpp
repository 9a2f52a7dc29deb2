// SIMD kernels for Q8_0: the reference quantizer, the activation quantizer
// and dequantization (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q8_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q8_0_INL_
#undef EDGEQUANT_SCHEMES_Q8_0_INL_
#else
#define EDGEQUANT_SCHEMES_Q8_0_INL_
#endif

#include <algorithm>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_legacy-inl.hpp"
#include "edgequant/schemes/q8_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q8_0> {
  // Same arithmetic as the reference: amax (order-free), d and 1/d (per lane
  // of a block group, or scalar), one multiply per element, round half away
  // from zero.
  static void quantize_row(const float* HWY_RESTRICT x, Q8_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_0::quantize_row_ref(x, y, n);
      return;
    }
    auto levels = [&](const float* HWY_RESTRICT xb, float id, std::int8_t* HWY_RESTRICT qs) {
      if (ggml::inverse_scale_overflowed(id)) {
        for (int j = 0; j < 32; ++j) qs[j] = 0;
        return;
      }
      const auto vid = hn::Set(df, id);
      for (std::size_t j = 0; j < 32; j += N) {
        const auto q = RoundHalfAway(df, hn::Mul(hn::LoadU(df, xb + j), vid));
        StoreLowBytes(di, hn::ConvertTo(di, q), qs + j);
      }
    };
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        const auto d = hn::Div(AbsMaxGroup(df, x + b * 32), hn::Set(df, 127.0f));
        float id[8];
        hn::StoreU(InverseOrZero(df, d), df, id);
        StoreF16Lanes(df, d, y + b, &Q8_0::Block::d);
        for (std::size_t k = 0; k < N; ++k) levels(x + (b + k) * 32, id[k], y[b + k].qs);
      }
    }
#endif
    for (; b < nb; ++b) {
      const float d = AbsMax(df, x + b * 32, 32) / ((1 << 7) - 1);
      y[b].d = ggml::fp16(d);
      levels(x + b * 32, d != 0.f ? 1.0f / d : 0.0f, y[b].qs);
    }
  }

  // x86 quantize_row_q8_0: id = 127/amax, round half to even.
  static void quantize_activation(const float* HWY_RESTRICT x, Q8_0::Block* HWY_RESTRICT y,
                                  std::size_t n) {
    const hn::CappedTag<float, 8> df;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_0::quantize_activation_ref(x, y, n);
      return;
    }
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        const auto amax = AbsMaxGroup(df, x + b * 32);
        float id[8];
        hn::StoreU(ActivationInverse(df, amax), df, id);
        StoreF16Lanes(df, hn::Div(amax, hn::Set(df, 127.f)), y + b, &Q8_0::Block::d);
        for (std::size_t k = 0; k < N; ++k)
          Q8ActivationLevels(df, x + (b + k) * 32, id[k], y[b + k].qs);
      }
    }
#endif
    for (; b < nb; ++b) {
      const float amax = AbsMax(df, x + b * 32, 32);
      y[b].d = ggml::fp16(amax / 127.f);
      Q8ActivationLevels(df, x + b * 32, amax != 0.0f ? 127.f / amax : 0.0f, y[b].qs);
    }
  }

  static void dequantize_row(const Q8_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    dequantize<false>(x, y, n);
  }
  static void dequantize_row_stream(const Q8_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
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
  static void dequantize(const Q8_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y, std::size_t n) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::int8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_0::dequantize_row_ref(x, y, n);
      return;
    }
    const std::size_t nb = n / 32;
    for (std::size_t b0 = 0; b0 < nb; b0 += kScaleGroup) {
      const std::size_t g = std::min(kScaleGroup, nb - b0);
      float dv[kScaleGroup];
      LoadF16Field(x + b0, g, &Q8_0::Block::d, dv);
      for (std::size_t k = 0; k < g; ++k) {
        const auto vd = hn::Set(df, dv[k]);
        for (std::size_t j = 0; j < 32; j += N) {
          const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, x[b0 + k].qs + j)));
          StoreOut<kStream>(df, hn::Mul(q, vd), y + (b0 + k) * 32 + j);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
