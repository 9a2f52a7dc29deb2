// SIMD dot products of weight rows with their companion activation rows (Highway per-target
// header): integer inner sums with int8→int16 widening and pairwise multiply-add into int32
// (x86 pmaddwd, NEON smlal via ReorderWidenMulAccumulate), float accumulation across blocks.
#if defined(EDGEQUANT_COMPUTE_VEC_DOT_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_COMPUTE_VEC_DOT_INL_
#undef EDGEQUANT_COMPUTE_VEC_DOT_INL_
#else
#define EDGEQUANT_COMPUTE_VEC_DOT_INL_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "edgequant/compute/vec_dot_ref.hpp"
#include "edgequant/kernels/common-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Schemes with a SIMD dot here specialise this with
// `static float dot(n, const S::Block*, const DotActivation<S>::Block*)`.
template <class S>
struct SimdDot {};

template <class S>
concept HasSimdDot = requires(std::size_t n, const typename S::Block* x,
                              const typename DotActivation<S>::Block* y) {
  {SimdDot<S>::dot(n, x, y)};
};

template <class S>
float ErasedSimdDot(std::size_t n, const void* x, const void* y) {
  return SimdDot<S>::dot(n, static_cast<const typename S::Block*>(x),
                         static_cast<const typename DotActivation<S>::Block*>(y));
}

// The SIMD dot this target has for S, or null (use the scalar reference).
template <class S>
inline VecDotFn dot_kernel() {
  if constexpr (HasSimdDot<S>) {
    return &ErasedSimdDot<S>;
  } else {
    return nullptr;
  }
}

// Highway 1.0.3 has int16 ReorderWidenMulAccumulate on x86 (SSSE3 and up)
// and Arm, but not on the portable EMU128/SCALAR targets: those use the
// scalar reference.
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

namespace dot {

using D8 = hn::Full128<std::int8_t>;
using DU8 = hn::Full128<std::uint8_t>;
using D16 = hn::CappedTag<std::int16_t, 16>;
using D32 = hn::RepartitionToWide<D16>;
using DF = hn::Rebind<float, D32>;
using V8 = hn::Vec<D8>;
using VU8 = hn::Vec<DU8>;
using V32 = hn::Vec<D32>;
using VF = hn::Vec<DF>;

// acc + pairwise products of 16 int8 lanes of a and b (|a|,|b| ≤ 128: the
// int16 products and their pair sums are exact in int32).
template <class DW = D16>
HWY_INLINE V32 MulAcc16(V8 a, V8 b, V32 acc) {
  const DW d16;
  const hn::RepartitionToWide<DW> d32;
  V32 unused = hn::Zero(d32);
  if constexpr (hn::MaxLanes(DW()) >= 16) {
    acc = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, a), hn::PromoteTo(d16, b), acc,
                                        unused);
  } else {
    const hn::Half<D8> dh;
    acc = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::LowerHalf(dh, a)),
                                        hn::PromoteTo(d16, hn::LowerHalf(dh, b)), acc, unused);
    acc = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::UpperHalf(dh, a)),
                                        hn::PromoteTo(d16, hn::UpperHalf(dh, b)), acc, unused);
  }
  // x86 and NEON accumulate everything in sum0 for int16 inputs; keep the
  // contract in case a target uses sum1.
  return hn::RearrangeToOddPlusEven(acc, unused);
}

// fp16 -> fp32 (exact): F16C on x86 AVX2 and better (one instruction instead
// of the portable bit manipulation), else the scalar converter.
HWY_INLINE float HalfToFloat(f16_bits h) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  return _cvtsh_ss(h);
#else
  return ggml::fp32(h);
#endif
}

HWY_INLINE V8 Load16(const std::int8_t* p) { return hn::LoadU(D8(), p); }
HWY_INLINE VU8 LoadU16(const std::uint8_t* p) { return hn::LoadU(DU8(), p); }
HWY_INLINE V8 LowNibbles(VU8 v) { return hn::BitCast(D8(), hn::And(v, hn::Set(DU8(), 0x0F))); }
HWY_INLINE V8 HighNibbles(VU8 v) { return hn::BitCast(D8(), hn::ShiftRight<4>(v)); }

// facc + (float)isum · scale, lane-wise.
HWY_INLINE VF Scaled(V32 isum, float scale, VF facc) {
  const DF df;
  return hn::MulAdd(hn::ConvertTo(df, isum), hn::Set(df, scale), facc);
}
HWY_INLINE float Total(VF facc) { return hn::GetLane(hn::SumOfLanes(DF(), facc)); }

}  // namespace dot

// x86 with AVX2 (also the AVX-512 targets): signed int8 dot products through
// `maddubs` (unsigned × signed pairs into int16) with the sign trick, then
// `madd` into int32 — twice the lanes of the int16 widening above. Highway
// 1.0.3 wraps neither instruction, so these use the raw intrinsics.
// Precondition (as in ggml): activation levels in [-127, 127], which every
// activation quantizer produces; weight levels may be -128.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
namespace avx2 {

// Σ pairs of w·a (32 int8 lanes each) as 8 int32 lanes, times `scale16`
// (int16 lanes: the scale of each pair's sub-block).
HWY_INLINE __m256i Dot32(__m256i w, __m256i a, __m256i scale16) {
  const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
  return _mm256_madd_epi16(p, scale16);
}
HWY_INLINE __m256i Ones16() { return _mm256_set1_epi16(1); }
HWY_INLINE __m256i Load(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
// 16 nibble bytes (Q4_0 order) -> 32 levels 0..15: low nibbles, then high.
HWY_INLINE __m256i Nibbles(const std::uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}
HWY_INLINE __m256i Iq4Table() {
  return _mm256_broadcastsi128_si256(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(ggml::kValuesIq4nl)));
}
HWY_INLINE __m256 Scaled(__m256i isum, float scale, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(scale), acc);
}
HWY_INLINE float Total(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace avx2
#endif

template <>
struct SimdDot<Q8_0> {
  static float dot(std::size_t n, const Q8_0::Block* HWY_RESTRICT x,
                   const Q8_0::Block* HWY_RESTRICT y) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    __m256 a = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n / 32; ++i) {
      const __m256i s = avx2::Dot32(avx2::Load(x[i].qs), avx2::Load(y[i].qs), avx2::Ones16());
      a = avx2::Scaled(s, dot::HalfToFloat(x[i].d) * dot::HalfToFloat(y[i].d), a);
    }
    return avx2::Total(a);
#endif
    dot::VF facc = hn::Zero(dot::DF());
    for (std::size_t i = 0; i < n / 32; ++i) {
      dot::V32 acc = hn::Zero(dot::D32());
      acc = dot::MulAcc16(dot::Load16(x[i].qs), dot::Load16(y[i].qs), acc);
      acc = dot::MulAcc16(dot::Load16(x[i].qs + 16), dot::Load16(y[i].qs + 16), acc);
      facc = dot::Scaled(acc, dot::HalfToFloat(x[i].d) * dot::HalfToFloat(y[i].d), facc);
    }
    return dot::Total(facc);
  }
};

template <>
struct SimdDot<Q4_0> {
  static float dot(std::size_t n, const Q4_0::Block* HWY_RESTRICT x,
                   const Q8_0::Block* HWY_RESTRICT y) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const __m256i off = _mm256_set1_epi8(8);
    __m256 a = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n / 32; ++i) {
      const __m256i w = _mm256_sub_epi8(avx2::Nibbles(x[i].qs), off);
      const __m256i s = avx2::Dot32(w, avx2::Load(y[i].qs), avx2::Ones16());
      a = avx2::Scaled(s, dot::HalfToFloat(x[i].d) * dot::HalfToFloat(y[i].d), a);
    }
    return avx2::Total(a);
#endif
    const auto eight = hn::Set(dot::D8(), 8);
    dot::VF facc = hn::Zero(dot::DF());
    for (std::size_t i = 0; i < n / 32; ++i) {
      const dot::VU8 q = dot::LoadU16(x[i].qs);
      dot::V32 acc = hn::Zero(dot::D32());
      acc = dot::MulAcc16(hn::Sub(dot::LowNibbles(q), eight), dot::Load16(y[i].qs), acc);
      acc = dot::MulAcc16(hn::Sub(dot::HighNibbles(q), eight), dot::Load16(y[i].qs + 16), acc);
      facc = dot::Scaled(acc, dot::HalfToFloat(x[i].d) * dot::HalfToFloat(y[i].d), facc);
    }
    return dot::Total(facc);
  }
};

template <>
struct SimdDot<IQ4_NL> {
  static float dot(std::size_t n, const IQ4_NL::Block* HWY_RESTRICT x,
                   const Q8_0::Block* HWY_RESTRICT y) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const __m256i tbl256 = avx2::Iq4Table();
    __m256 a = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n / 32; ++i) {
      const __m256i w = _mm256_shuffle_epi8(tbl256, avx2::Nibbles(x[i].qs));
      const __m256i s = avx2::Dot32(w, avx2::Load(y[i].qs), avx2::Ones16());
      a = avx2::Scaled(s, dot::HalfToFloat(x[i].d) * dot::HalfToFloat(y[i].d), a);
    }
    return avx2::Total(a);
#endif
    const auto table = hn::LoadU(dot::D8(), ggml::kValuesIq4nl);
    dot::VF facc = hn::Zero(dot::DF());
    for (std::size_t i = 0; i < n / 32; ++i) {
      const dot::VU8 q = dot::LoadU16(x[i].qs);
      dot::V32 acc = hn::Zero(dot::D32());
      acc =
          dot::MulAcc16(hn::TableLookupBytes(table, dot::LowNibbles(q)), dot::Load16(y[i].qs), acc);
      acc = dot::MulAcc16(hn::TableLookupBytes(table, dot::HighNibbles(q)),
                          dot::Load16(y[i].qs + 16), acc);
      facc = dot::Scaled(acc, dot::HalfToFloat(x[i].d) * dot::HalfToFloat(y[i].d), facc);
    }
    return dot::Total(facc);
  }
};

template <>
struct SimdDot<Q4_K> {
  static float dot(std::size_t n, const Q4_K::Block* HWY_RESTRICT x,
                   const Q8_K::Block* HWY_RESTRICT y) {
    float mins = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m256 a = _mm256_setzero_ps(), am = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n / 256; ++i) {
      // The 6-bit scales and mins, four per 32-bit word (get_scale_min_k4 on
      // whole words: no byte stores read back as wider loads, which stall).
      std::uint32_t w[3];
      std::memcpy(w, x[i].scales, 12);
      constexpr std::uint32_t k6 = 0x3f3f3f3fu, k4 = 0x0f0f0f0fu, k2 = 0x03030303u;
      const std::uint32_t sc_lo = w[0] & k6, m_lo = w[1] & k6;
      const std::uint32_t sc_hi = (w[2] & k4) | (((w[0] >> 6) & k2) << 4);
      const std::uint32_t m_hi = ((w[2] >> 4) & k4) | (((w[1] >> 6) & k2) << 4);
      // Scales as int16 lanes 0-7 in both 128-bit halves; sub-block j's scale is
      // broadcast by a byte shuffle picking bytes 2j, 2j+1.
      const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(
          _mm_set_epi32(0, 0, static_cast<int>(sc_hi), static_cast<int>(sc_lo))));
      __m256i isum = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i q = avx2::Load(x[i].qs + 32 * c);
        const __m256i lo = _mm256_and_si256(q, mask);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
        const __m256i pick_lo = _mm256_set1_epi16(static_cast<short>(0x0100 * (4 * c + 1) + 4 * c));
        const __m256i pick_hi = _mm256_set1_epi16(static_cast<short>(0x0100 * (4 * c + 3) + 4 * c + 2));
        // Levels are 0..15: maddubs takes them as the unsigned operand directly.
        const __m256i plo = _mm256_maddubs_epi16(lo, avx2::Load(y[i].qs + 64 * c));
        const __m256i phi = _mm256_maddubs_epi16(hi, avx2::Load(y[i].qs + 64 * c + 32));
        isum = _mm256_add_epi32(
            isum, _mm256_add_epi32(_mm256_madd_epi16(plo, _mm256_shuffle_epi8(sc16, pick_lo)),
                                   _mm256_madd_epi16(phi, _mm256_shuffle_epi8(sc16, pick_hi))));
      }
      // Mins: Σ_k m[k/2]·bsums[k] over the 16 bsums, in int32 lanes.
      const __m128i mm = _mm_set_epi32(0, 0, static_cast<int>(m_hi), static_cast<int>(m_lo));
      const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mm, mm));
      const __m256i bs = avx2::Load(y[i].bsums);
      a = avx2::Scaled(isum, y[i].d * dot::HalfToFloat(x[i].d), a);
      am = avx2::Scaled(_mm256_madd_epi16(bs, m16), y[i].d * dot::HalfToFloat(x[i].dmin), am);
    }
    return avx2::Total(a) - avx2::Total(am);
#endif
    const dot::D32 d32;
    dot::VF facc = hn::Zero(dot::DF());
    for (std::size_t i = 0; i < n / 256; ++i) {
      dot::V32 isum = hn::Zero(d32);
      int summs = 0;
      for (int c = 0; c < 4; ++c) {
        const dot::VU8 q0 = dot::LoadU16(x[i].qs + 32 * c);
        const dot::VU8 q1 = dot::LoadU16(x[i].qs + 32 * c + 16);
        const std::int8_t* yq = y[i].qs + 64 * c;
        std::uint8_t sc[2], m[2];
        ggml::get_scale_min_k4(2 * c, x[i].scales, &sc[0], &m[0]);
        ggml::get_scale_min_k4(2 * c + 1, x[i].scales, &sc[1], &m[1]);
        dot::V32 lo = hn::Zero(d32), hi = hn::Zero(d32);
        lo = dot::MulAcc16(dot::LowNibbles(q0), dot::Load16(yq), lo);
        lo = dot::MulAcc16(dot::LowNibbles(q1), dot::Load16(yq + 16), lo);
        hi = dot::MulAcc16(dot::HighNibbles(q0), dot::Load16(yq + 32), hi);
        hi = dot::MulAcc16(dot::HighNibbles(q1), dot::Load16(yq + 48), hi);
        isum = hn::Add(isum, hn::Mul(lo, hn::Set(d32, sc[0])));
        isum = hn::Add(isum, hn::Mul(hi, hn::Set(d32, sc[1])));
        summs += m[0] * (y[i].bsums[4 * c] + y[i].bsums[4 * c + 1]) +
                 m[1] * (y[i].bsums[4 * c + 2] + y[i].bsums[4 * c + 3]);
      }
      facc = dot::Scaled(isum, y[i].d * dot::HalfToFloat(x[i].d), facc);
      mins += (y[i].d * dot::HalfToFloat(x[i].dmin)) * static_cast<float>(summs);
    }
    return dot::Total(facc) - mins;
  }
};

template <>
struct SimdDot<Q6_K> {
  static float dot(std::size_t n, const Q6_K::Block* HWY_RESTRICT x,
                   const Q8_K::Block* HWY_RESTRICT y) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30);
    // Byte shuffle putting scale 0 into bytes 0-7 and scale 1 into 8-15; adding
    // j selects the pair (j, j+1).
    const __m128i pair0 = _mm_set_epi8(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m256 a = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n / 256; ++i) {
      const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales));
      __m256i isum = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i ql0 = avx2::Load(x[i].ql + 64 * h);
        const __m256i ql1 = avx2::Load(x[i].ql + 64 * h + 32);
        const __m256i qh = avx2::Load(x[i].qh + 32 * h);
        const __m256i q[4] = {_mm256_or_si256(_mm256_and_si256(ql0, m4),
                                              _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)),
                              _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                              _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)),
                              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                              _mm256_and_si256(qh, m2)),
                              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                              _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2))};
        for (int quarter = 0; quarter < 4; ++quarter) {
          const int e0 = 128 * h + 32 * quarter;
          // int16 pair lanes 0-7 belong to sub-block e0/16, lanes 8-15 to the next.
          const __m128i ctrl = _mm_add_epi8(pair0, _mm_set1_epi8(static_cast<char>(e0 / 16)));
          const __m256i sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, ctrl));
          // Levels 0..63 as maddubs' unsigned operand (pair sums ≤ 2·63·127
          // fit int16); the −32 offset is taken off once per block below.
          const __m256i p = _mm256_maddubs_epi16(q[quarter], avx2::Load(y[i].qs + e0));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, sc));
        }
      }
      // Σ s_j·(q−32)·y = Σ s_j·q·y − 32·Σ s_j·bsums_j (bsums: sums of 16 activations).
      const __m256i corr = _mm256_madd_epi16(avx2::Load(y[i].bsums), _mm256_cvtepi8_epi16(s8));
      isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(corr, 5));
      a = avx2::Scaled(isum, dot::HalfToFloat(x[i].d) * y[i].d, a);
    }
    return avx2::Total(a);
#endif
    const dot::D32 d32;
    dot::VF facc = hn::Zero(dot::DF());
    for (std::size_t i = 0; i < n / 256; ++i) {
      dot::V32 isum = hn::Zero(d32);
      for (int h = 0; h < 2; ++h) {
        for (int t = 0; t < 2; ++t) {
          // 16 elements of each quarter: l = 16t .. 16t+15.
          const dot::VU8 qh = dot::LoadU16(x[i].qh + 32 * h + 16 * t);
          const dot::VU8 ql0 = dot::LoadU16(x[i].ql + 64 * h + 16 * t);
          const dot::VU8 ql1 = dot::LoadU16(x[i].ql + 64 * h + 32 + 16 * t);
          const dot::V8 q[4] = {Level(dot::LowNibbles(ql0), hn::ShiftLeft<4>(qh)),
                                Level(dot::LowNibbles(ql1), hn::ShiftLeft<2>(qh)),
                                Level(dot::HighNibbles(ql0), qh),
                                Level(dot::HighNibbles(ql1), hn::ShiftRight<2>(qh))};
          for (int quarter = 0; quarter < 4; ++quarter) {
            const int e0 = 128 * h + 32 * quarter + 16 * t;
            const dot::V32 s = dot::MulAcc16(q[quarter], dot::Load16(y[i].qs + e0), hn::Zero(d32));
            isum = hn::Add(isum, hn::Mul(s, hn::Set(d32, x[i].scales[e0 / 16])));
          }
        }
      }
      facc = dot::Scaled(isum, dot::HalfToFloat(x[i].d) * y[i].d, facc);
    }
    return dot::Total(facc);
  }

 private:
  // (low nibble | bits 4-5 of `high`) - 32; `high` holds the two bits at 4-5.
  static HWY_INLINE dot::V8 Level(dot::V8 low, dot::VU8 high) {
    const dot::DU8 du8;
    const auto h = hn::BitCast(dot::D8(), hn::And(high, hn::Set(du8, 0x30)));
    return hn::Sub(hn::Or(low, h), hn::Set(dot::D8(), 32));
  }
};

template <>
struct SimdDot<IQ4_XS> {
  static float dot(std::size_t n, const IQ4_XS::Block* HWY_RESTRICT x,
                   const Q8_K::Block* HWY_RESTRICT y) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const __m256i tbl256 = avx2::Iq4Table();
    __m256 a = _mm256_setzero_ps();
    for (std::size_t i = 0; i < n / 256; ++i) {
      __m256i isum = _mm256_setzero_si256();
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                       (((x[i].scales_h >> (2 * ib)) & 3) << 4);
        const __m256i w = _mm256_shuffle_epi8(tbl256, avx2::Nibbles(x[i].qs + 16 * ib));
        isum = _mm256_add_epi32(isum, avx2::Dot32(w, avx2::Load(y[i].qs + 32 * ib),
                                                  _mm256_set1_epi16(static_cast<short>(ls - 32))));
      }
      a = avx2::Scaled(isum, dot::HalfToFloat(x[i].d) * y[i].d, a);
    }
    return avx2::Total(a);
#endif
    const dot::D32 d32;
    const auto table = hn::LoadU(dot::D8(), ggml::kValuesIq4nl);
    dot::VF facc = hn::Zero(dot::DF());
    for (std::size_t i = 0; i < n / 256; ++i) {
      dot::V32 isum = hn::Zero(d32);
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                       (((x[i].scales_h >> (2 * ib)) & 3) << 4);
        const dot::VU8 q = dot::LoadU16(x[i].qs + 16 * ib);
        dot::V32 s = hn::Zero(d32);
        s = dot::MulAcc16(hn::TableLookupBytes(table, dot::LowNibbles(q)),
                          dot::Load16(y[i].qs + 32 * ib), s);
        s = dot::MulAcc16(hn::TableLookupBytes(table, dot::HighNibbles(q)),
                          dot::Load16(y[i].qs + 32 * ib + 16), s);
        isum = hn::Add(isum, hn::Mul(s, hn::Set(d32, ls - 32)));
      }
      facc = dot::Scaled(isum, dot::HalfToFloat(x[i].d) * y[i].d, facc);
    }
    return dot::Total(facc);
  }
};

#endif  // HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
