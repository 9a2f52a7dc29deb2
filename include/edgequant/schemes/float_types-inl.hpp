// SIMD conversion kernels for F16 and BF16 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_FLOAT_TYPES_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_FLOAT_TYPES_INL_
#undef EDGEQUANT_SCHEMES_FLOAT_TYPES_INL_
#else
#define EDGEQUANT_SCHEMES_FLOAT_TYPES_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/float_types.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// f32 <-> f16 through the hardware converters, which round to nearest even
// exactly like f32_to_f16: x86 F16C (AVX2 and better) and AArch64. Other
// targets keep the scalar reference (Highway 1.0.3 emulates the conversion
// without F16C, and its rounding is not ours to vouch for).
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2) || HWY_ARCH_ARM_A64
template <>
struct SimdKernels<F16> {
  static void quantize_row(const float* HWY_RESTRICT x, F16::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::ScalableTag<float> df;
    const hn::Rebind<hwy::float16_t, decltype(df)> dh;
    const std::size_t N = hn::Lanes(df);
    auto* out = reinterpret_cast<hwy::float16_t*>(y);
    std::size_t i = 0;
    for (; i + N <= n; i += N) hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, x + i)), dh, out + i);
    F16::quantize_row_ref(x + i, y + i, n - i);
  }
  static void dequantize_row(const F16::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::Rebind<hwy::float16_t, decltype(df)> dh;
    const std::size_t N = hn::Lanes(df);
    const auto* in = reinterpret_cast<const hwy::float16_t*>(x);
    std::size_t i = 0;
    for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, in + i)), df, y + i);
    F16::dequantize_row_ref(x + i, y + i, n - i);
  }
  // Non-temporal stores for large outputs (y 16-byte aligned, else regular).
  static void dequantize_row_stream(const F16::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                                    std::size_t n) {
    if (!StreamAligned(y)) {
      dequantize_row(x, y, n);
      return;
    }
    const hn::CappedTag<float, 8> df;
    const hn::Rebind<hwy::float16_t, decltype(df)> dh;
    const std::size_t N = hn::Lanes(df);
    const auto* in = reinterpret_cast<const hwy::float16_t*>(x);
    std::size_t i = 0;
    for (; i + N <= n; i += N) StoreOut<true>(df, hn::PromoteTo(df, hn::LoadU(dh, in + i)), y + i);
    hwy::FlushStream();
    F16::dequantize_row_ref(x + i, y + i, n - i);
  }
};
#endif

// bf16 with ggml's rule in integer arithmetic: the same on every target.
template <>
struct SimdKernels<BF16> {
  static void quantize_row(const float* HWY_RESTRICT x, BF16::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    const hn::ScalableTag<float> df;
    const hn::RebindToUnsigned<decltype(df)> du;
    const hn::RebindToSigned<decltype(df)> di;
    const hn::Rebind<std::uint16_t, decltype(df)> d16;
    const std::size_t N = hn::Lanes(df);
    auto* out = reinterpret_cast<std::uint16_t*>(y);
    const auto abs_mask = hn::Set(du, 0x7fffffffu);
    const auto inf = hn::Set(du, 0x7f800000u);
    std::size_t i = 0;
    for (; i + N <= n; i += N) {
      const auto u = hn::BitCast(du, hn::LoadU(df, x + i));
      const auto hi = hn::ShiftRight<16>(u);
      const auto rounded = hn::ShiftRight<16>(
          hn::Add(hn::Add(u, hn::Set(du, 0x7fffu)), hn::And(hi, hn::Set(du, 1u))));
      const auto quiet = hn::Or(hi, hn::Set(du, 0x40u));
      const auto is_nan = hn::Gt(hn::BitCast(di, hn::And(u, abs_mask)), hn::BitCast(di, inf));
      const auto r = hn::IfThenElse(hn::RebindMask(du, is_nan), quiet, rounded);
      hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, r)), d16, out + i);
    }
    BF16::quantize_row_ref(x + i, y + i, n - i);
  }
  static void dequantize_row(const BF16::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::ScalableTag<float> df;
    const hn::RebindToUnsigned<decltype(df)> du;
    const hn::Rebind<std::uint16_t, decltype(df)> d16;
    const std::size_t N = hn::Lanes(df);
    const auto* in = reinterpret_cast<const std::uint16_t*>(x);
    std::size_t i = 0;
    for (; i + N <= n; i += N) {
      const auto u = hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, in + i)));
      hn::StoreU(hn::BitCast(df, u), df, y + i);
    }
    BF16::dequantize_row_ref(x + i, y + i, n - i);
  }
  // Non-temporal stores for large outputs (y 16-byte aligned, else regular).
  static void dequantize_row_stream(const BF16::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                                    std::size_t n) {
    if (!StreamAligned(y)) {
      dequantize_row(x, y, n);
      return;
    }
    const hn::CappedTag<float, 8> df;
    const hn::RebindToUnsigned<decltype(df)> du;
    const hn::Rebind<std::uint16_t, decltype(df)> d16;
    const std::size_t N = hn::Lanes(df);
    const auto* in = reinterpret_cast<const std::uint16_t*>(x);
    std::size_t i = 0;
    for (; i + N <= n; i += N) {
      const auto u = hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, in + i)));
      StoreOut<true>(df, hn::BitCast(df, u), y + i);
    }
    hwy::FlushStream();
    BF16::dequantize_row_ref(x + i, y + i, n - i);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
