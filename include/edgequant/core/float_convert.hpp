// Exact conversions between float32 and the small float formats:
// f16, bf16, fp8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ), E8M0 and fp4 E2M1.
#pragma once

#include <bit>
#include <cstdint>

#include "edgequant/core/config.hpp"

namespace edgequant {

// Raw storage types: the bits, not arithmetic types. Kept distinct so that a
// block struct says what its fields hold.
using f16_bits = std::uint16_t;
using bf16_bits = std::uint16_t;

EDGEQUANT_HOST_DEVICE constexpr std::uint32_t f32_bits(float f) noexcept {
  return std::bit_cast<std::uint32_t>(f);
}
EDGEQUANT_HOST_DEVICE constexpr float f32_from_bits(std::uint32_t u) noexcept {
  return std::bit_cast<float>(u);
}

// ---------------------------------------------------------------- f16 ------
// float32 -> IEEE binary16, round to nearest even, subnormals kept, overflow to
// Inf. Bit-identical to x86 F16C (`vcvtps2ph`, imm 0) and to `_Float16` for
// every input; NaN keeps its sign and top payload bits and is made quiet (as
// F16C does). ggml's software path differs only in NaN payloads (0x7E00|sign).
EDGEQUANT_HOST_DEVICE constexpr f16_bits f32_to_f16(float f) noexcept {
  const std::uint32_t x = f32_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) {  // NaN
    return static_cast<f16_bits>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  }
  if (a >= 0x477ff000u) {  // >= 65520 rounds to Inf (and Inf itself)
    return static_cast<f16_bits>(sign | 0x7c00u);
  }
  const std::uint32_t e = a >> 23;
  const std::uint32_t m = a & 0x7fffffu;
  if (e < 113) {  // below 2^-14: f16 subnormal or zero
    const std::uint32_t shift = 126 - e;  // value = (m|1<<23) >> shift units of 2^-24
    if (shift > 24) return static_cast<f16_bits>(sign);
    const std::uint32_t mm = m | 0x800000u;
    std::uint32_t r = mm >> shift;
    const std::uint32_t rem = mm & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;  // may become 0x400: smallest normal
    return static_cast<f16_bits>(sign | r);
  }
  std::uint32_t h = ((e - 112) << 10) | (m >> 13);
  const std::uint32_t rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry into the exponent is exact
  return static_cast<f16_bits>(sign | h);
}

// IEEE binary16 -> float32: exact for every number; identical to F16C.
EDGEQUANT_HOST_DEVICE constexpr float f16_to_f32(f16_bits h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu;
  std::uint32_t m = h & 0x3ffu;
  if (e == 0x1f) {  // Inf, or NaN made quiet with its payload kept (as F16C does)
    return f32_from_bits(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u));
  }
  if (e != 0) return f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return f32_from_bits(sign);
  // Subnormal: normalise the mantissa; the result is exact in float32.
  std::uint32_t exp = 113;
  while ((m & 0x400u) == 0) {
    m <<= 1;
    --exp;
  }
  return f32_from_bits(sign | (exp << 23) | ((m & 0x3ffu) << 13));
}

// --------------------------------------------------------------- bf16 ------
// float32 -> bfloat16 as ggml does it (specs/ggml-quants.md §0.2): NaN keeps its
// top bits and is forced quiet; otherwise round to nearest even with no flush
// of subnormals (large finite values may round up to Inf).
EDGEQUANT_HOST_DEVICE constexpr bf16_bits f32_to_bf16(float f) noexcept {
  const std::uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<bf16_bits>((u >> 16) | 0x40u);
  }
  return static_cast<bf16_bits>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

EDGEQUANT_HOST_DEVICE constexpr float bf16_to_f32(bf16_bits b) noexcept {
  return f32_from_bits(static_cast<std::uint32_t>(b) << 16);
}

// ---------------------------------------------------------- minifloats -----
// Parameters of an 8-bit (or smaller) float format. `kind` says how the top of
// the range is used: IEEE-like (Inf and NaNs at the max exponent), FN (finite:
// only S.1111.111 is NaN), FNUZ (finite, a single NaN 0x80, no negative zero),
// or NoNaN (fp4 E2M1: every pattern is a number).
enum class MiniKind : std::uint8_t { kIeee, kFn, kFnuz, kNoNan };

struct MiniFormat {
  int exp_bits;
  int man_bits;
  int bias;
  MiniKind kind;
};

inline constexpr MiniFormat kE4M3FN{4, 3, 7, MiniKind::kFn};
inline constexpr MiniFormat kE4M3FNUZ{4, 3, 8, MiniKind::kFnuz};
inline constexpr MiniFormat kE5M2{5, 2, 15, MiniKind::kIeee};
inline constexpr MiniFormat kE5M2FNUZ{5, 2, 16, MiniKind::kFnuz};
inline constexpr MiniFormat kE2M1{2, 1, 1, MiniKind::kNoNan};

namespace detail {

EDGEQUANT_HOST_DEVICE constexpr std::uint32_t mini_sign_bit(MiniFormat f) {
  return 1u << (f.exp_bits + f.man_bits);
}
// Largest finite magnitude pattern (without sign).
EDGEQUANT_HOST_DEVICE constexpr std::uint32_t mini_max_pattern(MiniFormat f) {
  const std::uint32_t all = (1u << (f.exp_bits + f.man_bits)) - 1;
  switch (f.kind) {
    case MiniKind::kIeee: return all - (1u << f.man_bits);  // exponent all-ones is Inf/NaN
    case MiniKind::kFn: return all - 1;                     // all-ones is NaN
    case MiniKind::kFnuz:
    case MiniKind::kNoNan: return all;
  }
  return all;
}
EDGEQUANT_HOST_DEVICE constexpr std::uint32_t mini_nan_pattern(MiniFormat f) {
  switch (f.kind) {
    case MiniKind::kIeee: return (1u << (f.exp_bits + f.man_bits)) - 1;  // all ones, quiet
    case MiniKind::kFn: return (1u << (f.exp_bits + f.man_bits)) - 1;
    case MiniKind::kFnuz: return mini_sign_bit(f);
    case MiniKind::kNoNan: return 0;  // no NaN: documented to map to +0
  }
  return 0;
}

}  // namespace detail

// Decodes pattern `p` (low exp_bits+man_bits+1 bits) exactly to float32.
EDGEQUANT_HOST_DEVICE constexpr float mini_to_f32(std::uint32_t p, MiniFormat f) noexcept {
  const std::uint32_t sign_bit = detail::mini_sign_bit(f);
  p &= (sign_bit << 1) - 1;
  const bool neg = (p & sign_bit) != 0;
  const std::uint32_t mag = p & (sign_bit - 1);
  const std::uint32_t e = mag >> f.man_bits;
  const std::uint32_t m = mag & ((1u << f.man_bits) - 1);
  const std::uint32_t emax = (1u << f.exp_bits) - 1;
  const std::uint32_t s32 = neg ? 0x80000000u : 0u;
  switch (f.kind) {
    case MiniKind::kIeee:
      if (e == emax) return f32_from_bits(s32 | 0x7f800000u | (m ? 0x400000u : 0u));
      break;
    case MiniKind::kFn:
      if (mag == sign_bit - 1) return f32_from_bits(s32 | 0x7fc00000u);
      break;
    case MiniKind::kFnuz:
      if (p == sign_bit) return f32_from_bits(0x7fc00000u);
      break;
    case MiniKind::kNoNan: break;
  }
  if (e == 0) {
    if (m == 0) return f32_from_bits(s32);
    // m * 2^(1 - bias - man_bits): normalise into float32 bits.
    int exp = 1 - f.bias;
    std::uint32_t mm = m;
    while ((mm & (1u << f.man_bits)) == 0) {
      mm <<= 1;
      --exp;
    }
    mm &= (1u << f.man_bits) - 1;
    return f32_from_bits(s32 | (static_cast<std::uint32_t>(exp + 127) << 23) |
                         (mm << (23 - f.man_bits)));
  }
  const int exp = static_cast<int>(e) - f.bias;
  return f32_from_bits(s32 | (static_cast<std::uint32_t>(exp + 127) << 23) |
                       (m << (23 - f.man_bits)));
}

// float32 -> minifloat, round to nearest even. `saturate`: values beyond the
// largest finite value (and ±Inf) become ±max; otherwise they become Inf (IEEE
// kind) or NaN (FN/FNUZ), as ONNX QuantizeLinear/Cast define `saturate`. NaN
// becomes the format's NaN (+0 for E2M1, which has none). FNUZ has no -0:
// negative values that round to zero give +0.
EDGEQUANT_HOST_DEVICE constexpr std::uint32_t f32_to_mini(float x, MiniFormat f,
                                                         bool saturate = true) noexcept {
  const std::uint32_t u = f32_bits(x);
  const std::uint32_t sign = (u & 0x80000000u) ? detail::mini_sign_bit(f) : 0u;
  const std::uint32_t a = u & 0x7fffffffu;
  const std::uint32_t maxp = detail::mini_max_pattern(f);
  const std::uint32_t nanp = detail::mini_nan_pattern(f);
  auto overflow = [&]() -> std::uint32_t {
    if (saturate || f.kind == MiniKind::kNoNan) return sign | maxp;
    if (f.kind == MiniKind::kIeee) return sign | (((1u << f.exp_bits) - 1) << f.man_bits);  // Inf
    return nanp;  // FN: all-ones keeps the sign; FNUZ: 0x80
  };
  if (a > 0x7f800000u) {
    if (f.kind == MiniKind::kFn || f.kind == MiniKind::kIeee) return sign | nanp;
    return nanp;
  }
  if (a == 0x7f800000u) return overflow();
  // Work on the magnitude: exponent e (unbiased) and 24-bit significand.
  const int e32 = static_cast<int>(a >> 23);
  std::uint32_t sig = (a & 0x7fffffu) | (e32 ? 0x800000u : 0u);
  const int exp = (e32 ? e32 : 1) - 127;
  const int min_normal_exp = 1 - f.bias;
  // Number of significand bits to drop so that one unit = the format's ulp at
  // this exponent (subnormal range uses the fixed smallest ulp).
  const int ulp_exp = (exp < min_normal_exp ? min_normal_exp : exp) - f.man_bits;
  const int drop = (exp - 23) < ulp_exp ? ulp_exp - (exp - 23) : 0;
  std::uint32_t q;
  if (drop >= 32) {
    q = 0;
  } else {
    q = sig >> drop;
    const std::uint32_t rem = drop ? (sig & ((1u << drop) - 1)) : 0u;
    const std::uint32_t half = drop ? (1u << (drop - 1)) : 0u;
    if (drop && (rem > half || (rem == half && (q & 1u)))) ++q;
  }
  // q counts ulps of 2^ulp_exp; rebuild the pattern.
  std::uint32_t mag;
  if (q == 0) {
    mag = 0;
  } else {
    int qexp = ulp_exp;  // value = q * 2^qexp
    // Normalise q to 1.man form if it reached the normal range.
    int bits = 0;
    for (std::uint32_t t = q; t; t >>= 1) ++bits;
    const int value_exp = qexp + bits - 1;  // exponent of the leading bit
    if (value_exp < min_normal_exp) {
      mag = q;  // subnormal: mantissa field = q, exponent field 0
    } else {
      const int field = value_exp + f.bias;
      const std::uint32_t man =
          (bits - 1 > f.man_bits) ? ((q >> (bits - 1 - f.man_bits)) & ((1u << f.man_bits) - 1))
                                  : ((q << (f.man_bits - (bits - 1))) & ((1u << f.man_bits) - 1));
      if (field >= (1 << f.exp_bits)) return overflow();
      mag = (static_cast<std::uint32_t>(field) << f.man_bits) | man;
    }
  }
  if (mag > maxp) return overflow();
  if (mag == 0 && f.kind == MiniKind::kFnuz) return 0;
  return sign | mag;
}

EDGEQUANT_HOST_DEVICE constexpr std::uint8_t f32_to_e4m3fn(float x, bool saturate = true) noexcept {
  return static_cast<std::uint8_t>(f32_to_mini(x, kE4M3FN, saturate));
}
EDGEQUANT_HOST_DEVICE constexpr float e4m3fn_to_f32(std::uint8_t p) noexcept {
  return mini_to_f32(p, kE4M3FN);
}
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t f32_to_e5m2(float x, bool saturate = true) noexcept {
  return static_cast<std::uint8_t>(f32_to_mini(x, kE5M2, saturate));
}
EDGEQUANT_HOST_DEVICE constexpr float e5m2_to_f32(std::uint8_t p) noexcept {
  return mini_to_f32(p, kE5M2);
}
// fp4 E2M1 (OCP MX): magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6; saturates at ±6.
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t f32_to_e2m1(float x) noexcept {
  return static_cast<std::uint8_t>(f32_to_mini(x, kE2M1, true));
}
EDGEQUANT_HOST_DEVICE constexpr float e2m1_to_f32(std::uint8_t p) noexcept {
  return mini_to_f32(p & 0xFu, kE2M1);
}

// --------------------------------------------------------------- E8M0 ------
// Exponent-only scale (OCP MX): value 2^(e - 127), 0xFF = NaN, no zero.
EDGEQUANT_HOST_DEVICE constexpr float e8m0_to_f32(std::uint8_t e) noexcept {
  if (e == 0xFF) return f32_from_bits(0x7fc00000u);
  if (e == 0) return f32_from_bits(0x00400000u);  // 2^-127 is a float32 subnormal
  return f32_from_bits(static_cast<std::uint32_t>(e) << 23);
}

// floor(log2 |x|) + 127, clamped to [0, 254]; x == 0 gives 0, NaN gives 0xFF.
// Computed from the bits, so it is exact (no libm log2 rounding).
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t f32_to_e8m0_floor(float x) noexcept {
  const std::uint32_t a = f32_bits(x) & 0x7fffffffu;
  if (a > 0x7f800000u) return 0xFF;
  if (a == 0x7f800000u) return 254;
  int e = static_cast<int>(a >> 23);
  if (e == 0) {  // subnormal: exponent of the leading bit
    if (a == 0) return 0;
    int lead = 22;
    while (((a >> lead) & 1u) == 0) --lead;
    e = lead - 22;  // biased exponent of 2^(lead - 149): lead - 149 + 127
  }
  return static_cast<std::uint8_t>(e < 0 ? 0 : (e > 254 ? 254 : e));
}

// ceil(log2 |x|) + 127, clamped to [0, 254] (NNCF MX scales use ceil).
EDGEQUANT_HOST_DEVICE constexpr std::uint8_t f32_to_e8m0_ceil(float x) noexcept {
  const std::uint32_t a = f32_bits(x) & 0x7fffffffu;
  if (a > 0x7f800000u) return 0xFF;
  const std::uint8_t fl = f32_to_e8m0_floor(x);
  if (a == 0 || a == 0x7f800000u) return fl;
  const bool power_of_two = (a >> 23) ? (a & 0x7fffffu) == 0 : (a & (a - 1)) == 0;
  if (power_of_two || fl >= 254) return fl;
  return static_cast<std::uint8_t>(fl + 1);
}

}  // namespace edgequant
