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
  // blocks in groups (kBlockGroups). With importance the scale search sums
  // in element order: the reference.
  static void quantize_row(const float* HWY_RESTRICT x, Q4_0::Block* HWY_RESTRICT y,
                           std::size_t n, const float* importance) {
    const hn::CappedTag<float, 8> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (importance != nullptr || 16 % N != 0) {
      Q4_0::quantize_row_ref(x, y, n, importance);
      return;
    }
    const auto half8 = hn::Set(df, 8.5f);
    const auto fifteen = hn::Set(di, 15);
    auto levels = [&](const float* HWY_RESTRICT xb, float id, std::uint8_t* HWY_RESTRICT qs) {
      if (ggml::inverse_scale_overflowed(id)) {
        for (int j = 0; j < 16; ++j) qs[j] = 0;
        return;
      }
      const auto vid = hn::Set(df, id);
      for (std::size_t j = 0; j < 16; j += N) {
        // (int8)(x*id + 8.5f) truncates; the value is positive, so ConvertTo matches.
        const auto lo = hn::Min(
            fifteen, hn::ConvertTo(di, hn::Add(hn::Mul(hn::LoadU(df, xb + j), vid), half8)));
        const auto hi = hn::Min(
            fifteen, hn::ConvertTo(di, hn::Add(hn::Mul(hn::LoadU(df, xb + j + 16), vid), half8)));
        hn::StoreU(hn::DemoteTo(d8, hn::Or(lo, hn::ShiftLeft<4>(hi))), d8, qs + j);
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

  static void dequantize_row(const Q4_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
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
          hn::StoreU(hn::Mul(hn::ConvertTo(df, lo), vd), df, yb + j);
          hn::StoreU(hn::Mul(hn::ConvertTo(df, hi), vd), df, yb + j + 16);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
