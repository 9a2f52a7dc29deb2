// SIMD kernels for TQ2_0 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_TQ2_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_TQ2_0_INL_
#undef EDGEQUANT_SCHEMES_TQ2_0_INL_
#else
#define EDGEQUANT_SCHEMES_TQ2_0_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/tq1_0-inl.hpp"
#include "edgequant/schemes/tq2_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<TQ2_0> {
  // amax is order-free; byte 32c+m holds elements 128c + m + 32k at bits 2k,
  // i.e. the same lane of four contiguous loads.
  static void quantize_row(const float* HWY_RESTRICT x, TQ2_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::CappedTag<float, 16> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint8_t, decltype(df)> du8;
    const std::size_t N = hn::Lanes(df);
    const auto three = hn::Set(di, 3);
    for (std::size_t b = 0; b < n / 256; ++b) {
      const float* xb = x + b * 256;
      const float d = AbsMax(df, xb, 256);
      const float id = d != 0.f ? 1.0f / d : 0.0f;
      y[b].d = ggml::fp16(d);
      const auto vid = hn::Set(df, id);
      for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t m = 0; m < 32; m += N) {
          const float* xm = xb + 128 * c + m;
          auto level = [&](std::size_t k) {
            return hn::And(TernaryLevel(df, hn::Mul(hn::LoadU(df, xm + 32 * k), vid)), three);
          };
          const auto q = hn::Or(hn::Or(level(0), hn::ShiftLeft<2>(level(1))),
                                hn::Or(hn::ShiftLeft<4>(level(2)), hn::ShiftLeft<6>(level(3))));
          hn::StoreU(hn::DemoteTo(du8, q), du8, y[b].qs + 32 * c + m);
        }
      }
    }
  }

  static void dequantize_row(const TQ2_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::CappedTag<float, 16> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::RebindToUnsigned<decltype(df)> du;
    const hn::Rebind<std::uint8_t, decltype(df)> du8;
    const std::size_t N = hn::Lanes(df);
    const auto three = hn::Set(di, 3);
    const auto one = hn::Set(di, 1);
    for (std::size_t b = 0; b < n / 256; ++b) {
      const auto vd = hn::Set(df, ggml::fp32(x[b].d));
      float* yb = y + b * 256;
      for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t m = 0; m < 32; m += N) {
          const auto q = hn::BitCast(di, hn::PromoteTo(du, hn::LoadU(du8, x[b].qs + 32 * c + m)));
          auto store = [&](auto shifted, std::size_t k) {
            const auto v = hn::ConvertTo(df, hn::Sub(hn::And(shifted, three), one));
            hn::StoreU(hn::Mul(v, vd), df, yb + 128 * c + 32 * k + m);
          };
          store(q, 0);
          store(hn::ShiftRight<2>(q), 1);
          store(hn::ShiftRight<4>(q), 2);
          store(hn::ShiftRight<6>(q), 3);
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
