// Per-target helpers shared by the SIMD kernels of ggml's 32-element block
// types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1) and Q8_K (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_GGML_LEGACY_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_GGML_LEGACY_INL_
#undef EDGEQUANT_SCHEMES_GGML_LEGACY_INL_
#else
#define EDGEQUANT_SCHEMES_GGML_LEGACY_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Blocks whose fp16 fields are converted together: one vector conversion for
// several blocks instead of the scalar converter per block.
inline constexpr std::size_t kScaleGroup = 8;

// fp32 -> fp16 bits of kScaleGroup values, round to nearest even. The hardware
// converters (x86 F16C on AVX2 and better, AArch64) are bit-identical to
// f32_to_f16 (see float_types-inl.hpp); Highway 1.0.3 emulates the others
// with truncation, so those targets use the scalar converter.
HWY_INLINE void F32ToF16Group(const float* HWY_RESTRICT in, f16_bits* HWY_RESTRICT out) {
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2) || HWY_TARGET == HWY_NEON
  const hn::CappedTag<float, 4> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  auto* o = reinterpret_cast<hwy::float16_t*>(out);
  for (std::size_t i = 0; i < kScaleGroup; i += hn::Lanes(df)) {
    hn::StoreU(hn::DemoteTo(dh, hn::LoadU(df, in + i)), dh, o + i);
  }
#else
  for (std::size_t i = 0; i < kScaleGroup; ++i) out[i] = ggml::fp16(in[i]);
#endif
}

// fp16 bits -> fp32 of kScaleGroup values (exact).
HWY_INLINE void F16ToF32Group(const f16_bits* HWY_RESTRICT in, float* HWY_RESTRICT out) {
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2) || HWY_TARGET == HWY_NEON
  const hn::CappedTag<float, 4> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto* h = reinterpret_cast<const hwy::float16_t*>(in);
  for (std::size_t i = 0; i < kScaleGroup; i += hn::Lanes(df)) {
    hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, h + i)), df, out + i);
  }
#else
  for (std::size_t i = 0; i < kScaleGroup; ++i) out[i] = ggml::fp32(in[i]);
#endif
}

// Writes fp16(v[k]) into field `f` of blocks y[0..g), g <= kScaleGroup.
template <class Block>
HWY_INLINE void StoreF16Field(const float* HWY_RESTRICT v, std::size_t g, Block* HWY_RESTRICT y,
                              f16_bits Block::*f) {
  f16_bits h[kScaleGroup];
  F32ToF16Group(v, h);
  for (std::size_t k = 0; k < g; ++k) y[k].*f = h[k];
}

// Reads field `f` of blocks x[0..g) as fp32 into v[0..g).
template <class Block>
HWY_INLINE void LoadF16Field(const Block* HWY_RESTRICT x, std::size_t g, f16_bits Block::*f,
                             float* HWY_RESTRICT v) {
  f16_bits h[kScaleGroup] = {};
  for (std::size_t k = 0; k < g; ++k) h[k] = x[k].*f;
  F16ToF32Group(h, v);
}

// The signed value of the first of x[0..n) with the largest |x| (ggml's
// `if (amax < fabsf(v))` scan), n a multiple of Lanes(d); 0 for a zero block.
template <class D>
HWY_INLINE float SignedAbsMax(D d, const float* HWY_RESTRICT x, std::size_t n) {
  const float amax = AbsMax(d, x, n);
  if (amax == 0.0f) return 0.0f;
  const auto va = hn::Set(d, amax);
  for (std::size_t j = 0; j < n; j += hn::Lanes(d)) {
    const intptr_t k = hn::FindFirstTrue(d, hn::Eq(hn::Abs(hn::LoadU(d, x + j)), va));
    if (k >= 0) return x[j + static_cast<std::size_t>(k)];
  }
  return amax;  // not reached for finite x
}

// min and max of x[0..32) exactly as ggml's sequential `v < min` / `v > max`
// scans give them, signed zeros included: when the minimum is zero the scan
// keeps the first zero it met, and max == min == that zero for a zero block.
template <class D>
HWY_INLINE void MinMax32(D d, const float* HWY_RESTRICT x, float* min_out, float* max_out) {
  auto vmin = hn::LoadU(d, x);
  auto vmax = vmin;
  for (std::size_t j = hn::Lanes(d); j < 32; j += hn::Lanes(d)) {
    const auto v = hn::LoadU(d, x + j);
    vmin = hn::Min(vmin, v);
    vmax = hn::Max(vmax, v);
  }
  float min = hn::GetLane(hn::MinOfLanes(d, vmin));
  float max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (min == 0.0f) {
    for (int j = 0; j < 32; ++j) {
      if (x[j] == 0.0f) {
        min = x[j];
        break;
      }
    }
    if (max == 0.0f) max = min;
  }
  *min_out = min;
  *max_out = max;
}

// Bit i = mask lane i (Lanes(d) <= 32).
template <class D, class M>
HWY_INLINE std::uint32_t MaskBits(D d, M m) {
  std::uint8_t bytes[8] = {};
  hn::StoreMaskBits(d, m, bytes);
  return static_cast<std::uint32_t>(bytes[0]) | static_cast<std::uint32_t>(bytes[1]) << 8 |
         static_cast<std::uint32_t>(bytes[2]) << 16 | static_cast<std::uint32_t>(bytes[3]) << 24;
}

// Stores 32 levels given as int32 vectors in Q5 layout: `lo` holds levels
// j..j+N-1, `hi` levels j+16..; nibbles into qs[j..], bit 4 into *qh_bits.
template <class DI, class V>
HWY_INLINE void StoreQ5Levels(DI di, V lo, V hi, std::size_t j, std::uint8_t* HWY_RESTRICT qs,
                              std::uint32_t* HWY_RESTRICT qh_bits) {
  const hn::Rebind<std::uint8_t, DI> d8;
  const auto low4 = hn::Set(di, 0x0F);
  const auto bit4 = hn::Set(di, 0x10);
  const auto packed = hn::Or(hn::And(lo, low4), hn::ShiftLeft<4>(hn::And(hi, low4)));
  hn::StoreU(hn::DemoteTo(d8, packed), d8, qs + j);
  *qh_bits |= MaskBits(di, hn::Ne(hn::And(lo, bit4), hn::Zero(di))) << j;
  *qh_bits |= MaskBits(di, hn::Ne(hn::And(hi, bit4), hn::Zero(di))) << (j + 16);
}

HWY_INLINE void StoreQh(std::uint32_t h, std::uint8_t* qh) {
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<std::uint8_t>(h >> (8 * k));
}

// Bit 4 of the Q5 levels j..j+N-1 (from qh bits j..) as int32 lanes (0 or 16).
template <class DI>
HWY_INLINE hn::Vec<DI> Q5HighBits(DI di, std::uint32_t qh, std::size_t j) {
  const hn::RebindToUnsigned<DI> du;
  const auto shifted = hn::Set(du, qh) >> hn::Iota(du, static_cast<std::uint32_t>(j));
  return hn::BitCast(di, hn::And(hn::ShiftLeft<4>(shifted), hn::Set(du, 0x10u)));
}

// One block of the x86 backend's Q8_0/Q8_1 activation quantizer (§5), as
// ggml::q8_activation_block: stores the 32 levels, returns Σq, *d = amax/127.
template <class D>
HWY_INLINE int Q8ActivationBlock(D df, const float* HWY_RESTRICT x, std::int8_t* HWY_RESTRICT qs,
                                 float* d) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<std::int8_t, D> d8;
  const float amax = AbsMax(df, x, 32);
  *d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  if (ggml::inverse_scale_overflowed(id)) {
    for (int j = 0; j < 32; ++j) qs[j] = -128;
    return 0;
  }
  const auto vid = hn::Set(df, id);
  auto sum = hn::Zero(di);
  for (std::size_t j = 0; j < 32; j += hn::Lanes(df)) {
    // Round is half to even (_mm256_round_ps NEAREST); |x*id| <= 127.
    const auto q = hn::ConvertTo(di, hn::Round(hn::Mul(hn::LoadU(df, x + j), vid)));
    sum = hn::Add(sum, q);
    hn::StoreU(hn::DemoteTo(d8, q), d8, qs + j);
  }
  return hn::GetLane(hn::SumOfLanes(di, sum));
}

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
