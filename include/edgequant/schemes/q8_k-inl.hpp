// SIMD kernels for Q8_K: quantize_row_q8_K_ref, which is also the x86
// backend's activation quantizer (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q8_K_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q8_K_INL_
#undef EDGEQUANT_SCHEMES_Q8_K_INL_
#else
#define EDGEQUANT_SCHEMES_Q8_K_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_legacy-inl.hpp"
#include "edgequant/schemes/q8_k.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q8_K> {
  // amax and the first element reaching it (order-free), levels per element
  // with NearestInt (bit-exact), block sums in integers.
  static void quantize_activation(const float* HWY_RESTRICT x, Q8_K::Block* HWY_RESTRICT y,
                                  std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const std::size_t N = hn::Lanes(df);
    if (16 % N != 0) {
      Q8_K::quantize_row_ref(x, y, n);
      return;
    }
    const auto top = hn::Set(di, 127);
    for (std::size_t b = 0; b < n / 256; ++b) {
      const float* xb = x + b * 256;
      Q8_K::Block& blk = y[b];
      const float max = SignedAbsMax(df, xb, 256);
      const float iscale = -127.f / max;
      if (max == 0.0f || !std::isfinite(iscale)) {
        // Zero block, or a max so small that iscale overflowed: the
        // reference's bit-level nearest_int defines the bytes.
        Q8_K::quantize_row_ref(xb, &blk, 256);
        continue;
      }
      const auto vs = hn::Set(df, iscale);
      for (std::size_t j0 = 0; j0 < 256; j0 += 16) {
        auto sum = hn::Zero(di);
        for (std::size_t j = j0; j < j0 + 16; j += N) {
          const auto q = hn::Min(top, NearestInt(df, hn::Mul(vs, hn::LoadU(df, xb + j))));
          sum = hn::Add(sum, q);
          StoreLowBytes(di, q, blk.qs + j);
        }
        blk.bsums[j0 / 16] = static_cast<std::int16_t>(hn::GetLane(hn::SumOfLanes(di, sum)));
      }
      blk.d = 1 / iscale;
    }
  }

  static void quantize_row(const float* HWY_RESTRICT x, Q8_K::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    quantize_activation(x, y, n);
  }

  static void dequantize_row(const Q8_K::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::int8_t, decltype(df)> d8;
    const std::size_t N = hn::Lanes(df);
    if (256 % N != 0) {
      Q8_K::dequantize_row_ref(x, y, n);
      return;
    }
    for (std::size_t b = 0; b < n / 256; ++b) {
      const auto vd = hn::Set(df, x[b].d);
      for (std::size_t j = 0; j < 256; j += N) {
        const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, x[b].qs + j)));
        hn::StoreU(hn::Mul(vd, q), df, y + b * 256 + j);
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
