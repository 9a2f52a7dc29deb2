// SIMD kernels for Q8_1: the reference quantizer and the activation
// quantizer (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q8_1_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q8_1_INL_
#undef EDGEQUANT_SCHEMES_Q8_1_INL_
#else
#define EDGEQUANT_SCHEMES_Q8_1_INL_
#endif

#include <algorithm>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_legacy-inl.hpp"
#include "edgequant/schemes/q8_1.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q8_1> {
  // quantize_row_q8_1_ref: amax (order-free), round half away from zero; Σq
  // is an integer sum (order-free). Blocks in groups as Q8_0's.
  static void quantize_row(const float* HWY_RESTRICT x, Q8_1::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_1::quantize_row_ref(x, y, n);
      return;
    }
    // Stores the levels, returns the int32 lanes of Σq.
    auto levels = [&](const float* HWY_RESTRICT xb, float id, std::int8_t* HWY_RESTRICT qs) {
      auto sum = hn::Zero(di);
      if (ggml::inverse_scale_overflowed(id)) {
        for (int j = 0; j < 32; ++j) qs[j] = 0;
        return sum;
      }
      const auto vid = hn::Set(df, id);
      for (std::size_t j = 0; j < 32; j += N) {
        const auto q = hn::ConvertTo(di, RoundHalfAway(df, hn::Mul(hn::LoadU(df, xb + j), vid)));
        sum = hn::Add(sum, q);
        StoreLowBytes(di, q, qs + j);
      }
      return sum;
    };
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        const auto d = hn::Div(AbsMaxGroup(df, x + b * 32), hn::Set(df, 127.0f));
        float id[8];
        hn::StoreU(InverseOrZero(df, d), df, id);
        hn::Vec<decltype(di)> sums[8];
        for (std::size_t k = 0; k < N; ++k) sums[k] = levels(x + (b + k) * 32, id[k], y[b + k].qs);
        const auto s = hn::Mul(hn::ConvertTo(df, TransposeReduce(di, sums, AddOp())), d);
        StoreF16Lanes(df, d, y + b, &Q8_1::Block::d);
        StoreF16Lanes(df, s, y + b, &Q8_1::Block::s);
      }
    }
#endif
    for (; b < nb; ++b) {
      const float d = AbsMax(df, x + b * 32, 32) / ((1 << 7) - 1);
      const auto sum = levels(x + b * 32, d != 0.f ? 1.0f / d : 0.0f, y[b].qs);
      y[b].d = ggml::fp16(d);
      y[b].s = ggml::fp16(static_cast<float>(hn::GetLane(hn::SumOfLanes(di, sum))) * d);
    }
  }

  // x86 quantize_row_q8_1: id = 127/amax, round half to even, s = fp16(d*Σq).
  static void quantize_activation(const float* HWY_RESTRICT x, Q8_1::Block* HWY_RESTRICT y,
                                  std::size_t n) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_1::quantize_activation_ref(x, y, n);
      return;
    }
    const std::size_t nb = n / 32;
    std::size_t b = 0;
#if HWY_TARGET != HWY_SCALAR
    if constexpr (kBlockGroups<decltype(df)>) {
      for (; b + N <= nb; b += N) {
        const auto amax = AbsMaxGroup(df, x + b * 32);
        const auto d = hn::Div(amax, hn::Set(df, 127.f));
        float id[8];
        hn::StoreU(ActivationInverse(df, amax), df, id);
        hn::Vec<decltype(di)> sums[8];
        for (std::size_t k = 0; k < N; ++k) {
          sums[k] = Q8ActivationLevels(df, x + (b + k) * 32, id[k], y[b + k].qs);
        }
        const auto s = hn::Mul(d, hn::ConvertTo(df, TransposeReduce(di, sums, AddOp())));
        StoreF16Lanes(df, d, y + b, &Q8_1::Block::d);
        StoreF16Lanes(df, s, y + b, &Q8_1::Block::s);
      }
    }
#endif
    for (; b < nb; ++b) {
      const float amax = AbsMax(df, x + b * 32, 32);
      const float d = amax / 127.f;
      const auto sum =
          Q8ActivationLevels(df, x + b * 32, amax != 0.0f ? 127.f / amax : 0.0f, y[b].qs);
      y[b].d = ggml::fp16(d);
      y[b].s = ggml::fp16(d * static_cast<float>(hn::GetLane(hn::SumOfLanes(di, sum))));
    }
  }

  static void dequantize_row(const Q8_1::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::int8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (32 % N != 0) {
      Q8_1::dequantize_row_ref(x, y, n);
      return;
    }
    const std::size_t nb = n / 32;
    for (std::size_t b0 = 0; b0 < nb; b0 += kScaleGroup) {
      const std::size_t g = std::min(kScaleGroup, nb - b0);
      float dv[kScaleGroup];
      LoadF16Field(x + b0, g, &Q8_1::Block::d, dv);
      for (std::size_t k = 0; k < g; ++k) {
        const auto vd = hn::Set(df, dv[k]);
        for (std::size_t j = 0; j < 32; j += N) {
          const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, x[b0 + k].qs + j)));
          hn::StoreU(hn::Mul(q, vd), df, y + (b0 + k) * 32 + j);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
