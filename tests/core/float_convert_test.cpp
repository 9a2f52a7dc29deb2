// Exhaustive tests of the small-float conversions against independent oracles:
// the compiler's _Float16, x86 F16C, and brute-force nearest-value search.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "edgequant/core/float_convert.hpp"
#include "edgequant/kernels/isa.hpp"
#include "test_util.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace edgequant;

namespace {

float bits_to_f(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
std::uint32_t f_to_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// f32 inputs that stress rounding: a stride over all patterns plus, for every
// upper 19-bit prefix, the low-13-bit patterns around the f16 rounding point.
std::vector<std::uint32_t> f16_probe_inputs() {
  std::vector<std::uint32_t> v;
  for (std::uint64_t u = 0; u <= 0xffffffffull; u += 65521) v.push_back(static_cast<std::uint32_t>(u));
  const std::uint32_t lows[] = {0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff};
  for (std::uint32_t hi = 0; hi < (1u << 19); ++hi) {
    for (auto lo : lows) v.push_back((hi << 13) | lo);
  }
  return v;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("f16c"))) std::uint16_t f16c_convert(float x) {
  return static_cast<std::uint16_t>(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("f16c"))) float f16c_expand(std::uint16_t h) { return _cvtsh_ss(h); }
bool have_f16c() {
  return (cpu_isas() & isa_bit(Isa::kAvx2)) != 0;  // our AVX2 check includes F16C
}
#endif

}  // namespace

TEST_CASE("f16 decode: every pattern equals the compiler's _Float16") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float ours = f16_to_f32(static_cast<f16_bits>(h));
    _Float16 ref;
    const std::uint16_t hh = static_cast<std::uint16_t>(h);
    std::memcpy(&ref, &hh, 2);
    const float expect = static_cast<float>(ref);
    if (std::isnan(expect)) {
      REQUIRE(std::isnan(ours));
      // Payload and sign carried (quiet bit set), as F16C does.
      REQUIRE((f_to_bits(ours) >> 31) == (h >> 15));
      REQUIRE(((f_to_bits(ours) >> 13) & 0x1ff) == (h & 0x1ff));
    } else {
      REQUIRE(eqtest::same_bits(ours, expect));
    }
  }
}

TEST_CASE("f16 encode: round trip of every non-NaN pattern") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<f16_bits>(h));
    if (std::isnan(f)) {
      const f16_bits back = f32_to_f16(f);
      REQUIRE((back & 0x7c00) == 0x7c00);
      REQUIRE((back & 0x3ff) != 0);
      continue;
    }
    REQUIRE(f32_to_f16(f) == h);
  }
}

TEST_CASE("f16 encode: ties and neighbours of every midpoint round to nearest even") {
  // Midpoint between consecutive finite f16 values h and h+1 (same sign).
  for (std::uint32_t sign = 0; sign < 2; ++sign) {
    for (std::uint32_t h = 0; h < 0x7c00; ++h) {
      const double a = f16_to_f32(static_cast<f16_bits>(h));
      const double b = h + 1 == 0x7c00 ? 65536.0 : f16_to_f32(static_cast<f16_bits>(h + 1));
      const float mid = static_cast<float>((a + b) / 2);  // exact in float32
      REQUIRE(static_cast<double>(mid) == (a + b) / 2);
      const float s = sign ? -1.0f : 1.0f;
      const std::uint16_t sbit = static_cast<std::uint16_t>(sign << 15);
      const std::uint16_t even = static_cast<std::uint16_t>((h & 1) ? h + 1 : h);
      CAPTURE(h);
      REQUIRE(f32_to_f16(s * mid) == (sbit | even));
      REQUIRE(f32_to_f16(s * std::nextafter(mid, 0.0f)) == (sbit | h));
      REQUIRE(f32_to_f16(s * std::nextafter(mid, 1e30f)) == (sbit | (h + 1)));
    }
  }
}

TEST_CASE("f16 encode: equals _Float16 (and F16C when present) on probe inputs") {
  const auto probes = f16_probe_inputs();
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const bool f16c = have_f16c();
  if (!f16c) MESSAGE("no F16C on this CPU: comparing with _Float16 only");
#endif
  std::size_t checked = 0;
  for (std::uint32_t u : probes) {
    const float x = bits_to_f(u);
    const f16_bits ours = f32_to_f16(x);
    const _Float16 ref = static_cast<_Float16>(x);
    std::uint16_t rb;
    std::memcpy(&rb, &ref, 2);
    if (std::isnan(x)) {
      REQUIRE((ours & 0x7c00) == 0x7c00);
      REQUIRE((ours & 0x3ff) != 0);
      REQUIRE((ours >> 15) == (u >> 31));
    } else {
      CAPTURE(u);
      REQUIRE(ours == rb);
    }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (f16c) REQUIRE(ours == f16c_convert(x));  // NaNs included: same payload rule
#endif
    ++checked;
  }
  CHECK(checked > 3'000'000);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (f16c) {
    for (std::uint32_t h = 0; h < 65536; ++h) {
      REQUIRE(eqtest::same_bits(f16_to_f32(static_cast<f16_bits>(h)),
                                f16c_expand(static_cast<std::uint16_t>(h))));
    }
  }
#endif
}

namespace {
// Independent bf16 oracle: nearest of the two neighbouring bf16 values in
// double arithmetic, ties to the even pattern; NaN per ggml's rule.
std::uint16_t bf16_oracle(std::uint32_t u) {
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  const std::uint32_t lo = u >> 16;
  const double x = bits_to_f(u);
  const double a = bits_to_f(lo << 16);
  const std::uint32_t hi = lo + 1;  // next magnitude (same sign); may be Inf
  const double b = (hi & 0x7fff) == 0x7f80 ? std::copysign(std::ldexp(1.0, 128), x)
                                           : static_cast<double>(bits_to_f(hi << 16));
  const double da = std::fabs(x - a), db = std::fabs(b - x);
  if (da < db) return static_cast<std::uint16_t>(lo);
  if (db < da) return static_cast<std::uint16_t>(hi);
  return static_cast<std::uint16_t>((lo & 1) ? hi : lo);
}
}  // namespace

TEST_CASE("bf16: decode every pattern, encode against a nearest-value oracle") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    REQUIRE(f_to_bits(bf16_to_f32(static_cast<bf16_bits>(b))) == (b << 16));
  }
  const std::uint32_t lows[] = {0, 1, 0x3fff, 0x7fff, 0x8000, 0x8001, 0xbfff, 0xffff};
  for (std::uint32_t hi = 0; hi < 65536; ++hi) {
    for (auto lo : lows) {
      const std::uint32_t u = (hi << 16) | lo;
      CAPTURE(u);
      REQUIRE(f32_to_bf16(bits_to_f(u)) == bf16_oracle(u));
    }
  }
  // NaN stays NaN and quiet, sign kept; large values round up to Inf.
  CHECK(f32_to_bf16(bits_to_f(0x7f800001u)) == 0x7fc0);
  CHECK(f32_to_bf16(bits_to_f(0xff800001u)) == 0xffc0);
  CHECK(f32_to_bf16(bits_to_f(0x7f7fffffu)) == 0x7f80);
}

namespace {
// Brute-force oracle for a minifloat format: nearest finite value, ties to the
// even pattern; rounding past the largest finite value (to the next value the
// format would have) is an overflow.
struct MiniOracle {
  MiniFormat f;
  std::vector<std::pair<double, std::uint32_t>> pos;  // finite positive values and patterns
  double overflow_at;        // magnitudes at or beyond this round past max
  bool overflow_inclusive;   // tie at overflow_at goes up (next pattern even)
  std::uint32_t sign_bit;

  explicit MiniOracle(MiniFormat fmt) : f(fmt) {
    const int nbits = fmt.exp_bits + fmt.man_bits;
    sign_bit = 1u << nbits;
    for (std::uint32_t p = 0; p < sign_bit; ++p) {
      const float v = mini_to_f32(p, fmt);
      if (std::isfinite(v)) pos.emplace_back(v, p);
    }
    const auto [maxv, maxp] = pos.back();
    // The value one ulp above max (same exponent, or the next binade).
    const int e = std::ilogb(maxv);
    const double ulp = std::ldexp(1.0, e - fmt.man_bits);
    overflow_at = maxv + ulp / 2;
    overflow_inclusive = (maxp & 1u) != 0;  // tie goes to the even neighbour (maxp+1)
  }

  // Pattern for x, or nullopt on overflow.
  std::optional<std::uint32_t> encode(double x) const {
    const bool neg = std::signbit(x);
    const double a = std::fabs(x);
    if (a > overflow_at || (a == overflow_at && overflow_inclusive)) return std::nullopt;
    std::uint32_t best = 0;
    double bestd = 1e300;
    for (auto [v, p] : pos) {
      const double d = std::fabs(a - v);
      if (d < bestd || (d == bestd && (p & 1u) == 0)) {
        bestd = d;
        best = p;
      }
    }
    if (best == 0 && f.kind == MiniKind::kFnuz) return 0u;
    return (neg ? sign_bit : 0u) | best;
  }
};

void check_minifloat(MiniFormat fmt, double max_expected) {
  const MiniOracle o(fmt);
  CHECK(o.pos.back().first == max_expected);
  const std::uint32_t total = o.sign_bit << 1;
  // Decode of every pattern vs ldexp arithmetic.
  for (std::uint32_t p = 0; p < total; ++p) {
    const float v = mini_to_f32(p, fmt);
    const std::uint32_t mag = p & (o.sign_bit - 1);
    const int e = static_cast<int>(mag >> fmt.man_bits);
    const int m = static_cast<int>(mag & ((1u << fmt.man_bits) - 1));
    const bool neg = (p & o.sign_bit) != 0;
    double expect;
    const int emax = (1 << fmt.exp_bits) - 1;
    bool nan = false, inf = false;
    if (fmt.kind == MiniKind::kIeee && e == emax) {
      nan = m != 0;
      inf = m == 0;
    } else if (fmt.kind == MiniKind::kFn && mag == o.sign_bit - 1) {
      nan = true;
    } else if (fmt.kind == MiniKind::kFnuz && p == o.sign_bit) {
      nan = true;
    }
    if (e == 0) expect = std::ldexp(m, 1 - fmt.bias - fmt.man_bits);
    else expect = std::ldexp(1.0 + std::ldexp(m, -fmt.man_bits), e - fmt.bias);
    if (neg) expect = -expect;
    CAPTURE(p);
    if (nan) REQUIRE(std::isnan(v));
    else if (inf) REQUIRE(v == (neg ? -INFINITY : INFINITY));
    else REQUIRE(static_cast<double>(v) == expect);
  }
  // Encode: every representable value, every midpoint and its neighbours,
  // values beyond the range, zeros, infinities, NaN.
  std::vector<double> probes;
  for (std::size_t i = 0; i < o.pos.size(); ++i) {
    const double v = o.pos[i].first;
    probes.push_back(v);
    const double next = i + 1 < o.pos.size() ? o.pos[i + 1].first : 2 * o.overflow_at - v;
    const double mid = (v + next) / 2;
    const float fm = static_cast<float>(mid);
    probes.push_back(fm);
    probes.push_back(std::nextafter(fm, 0.0f));
    probes.push_back(std::nextafter(fm, 1e30f));
  }
  probes.push_back(o.overflow_at * 4);
  probes.push_back(1e30);
  probes.push_back(std::ldexp(1.0, -140));
  for (double x : probes) {
    for (double s : {1.0, -1.0}) {
      const float xf = static_cast<float>(s * x);
      const auto expect = o.encode(xf);
      CAPTURE(xf);
      if (expect) {
        REQUIRE(f32_to_mini(xf, fmt, true) == *expect);
        REQUIRE(f32_to_mini(xf, fmt, false) == *expect);
      } else {
        // Saturating: ±max. Non-saturating: Inf (IEEE kind) or NaN.
        const std::uint32_t maxp = o.pos.back().second | (xf < 0 ? o.sign_bit : 0u);
        REQUIRE(f32_to_mini(xf, fmt, true) == maxp);
        const float ns = mini_to_f32(f32_to_mini(xf, fmt, false), fmt);
        if (fmt.kind == MiniKind::kIeee) REQUIRE(ns == (xf < 0 ? -INFINITY : INFINITY));
        else if (fmt.kind == MiniKind::kNoNan) REQUIRE(std::fabs(ns) == o.pos.back().first);
        else REQUIRE(std::isnan(ns));
      }
    }
  }
  // Infinities and NaN.
  CHECK(mini_to_f32(f32_to_mini(INFINITY, fmt, true), fmt) == static_cast<float>(max_expected));
  CHECK(mini_to_f32(f32_to_mini(-INFINITY, fmt, true), fmt) == -static_cast<float>(max_expected));
  if (fmt.kind != MiniKind::kNoNan) {
    CHECK(std::isnan(mini_to_f32(f32_to_mini(NAN, fmt, true), fmt)));
  }
  if (fmt.kind == MiniKind::kIeee) {
    CHECK(mini_to_f32(f32_to_mini(INFINITY, fmt, false), fmt) == INFINITY);
  }
  // Negative zero: kept except in FNUZ formats (no -0 there).
  CHECK(f32_to_mini(-0.0f, fmt) == (fmt.kind == MiniKind::kFnuz ? 0u : o.sign_bit));
}
}  // namespace

TEST_CASE("fp8 E4M3FN exhaustive") {
  check_minifloat(kE4M3FN, 448.0);
  CHECK(f32_to_e4m3fn(464.0f, false) == 0x7e);   // tie: 448 (even) wins over 480
  CHECK(e4m3fn_to_f32(f32_to_e4m3fn(464.0f)) == 448.0f);
  CHECK(f32_to_e4m3fn(465.0f, false) == 0x7f);
}

TEST_CASE("fp8 E5M2 exhaustive") {
  check_minifloat(kE5M2, 57344.0);
  CHECK(f32_to_e5m2(61440.0f, false) == 0x7c);  // tie rounds to the even value: Inf
  CHECK(f32_to_e5m2(61439.0f, false) == 0x7b);
}

TEST_CASE("fp8 FNUZ variants exhaustive") {
  check_minifloat(kE4M3FNUZ, 240.0);
  check_minifloat(kE5M2FNUZ, 57344.0);
}

TEST_CASE("fp4 E2M1 exhaustive") {
  check_minifloat(kE2M1, 6.0);
  const float table[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (std::uint8_t p = 0; p < 16; ++p) {
    CHECK(e2m1_to_f32(p) == (p & 8 ? -table[p & 7] : table[p & 7]));
  }
  CHECK(f32_to_e2m1(2.5f) == 0x4);   // tie between 2 (even) and 3
  CHECK(f32_to_e2m1(3.5f) == 0x6);   // tie between 3 and 4 (even)
  CHECK(f32_to_e2m1(5.0f) == 0x6);   // tie between 4 (even) and 6
  CHECK(f32_to_e2m1(100.f) == 0x7);  // saturates
}

TEST_CASE("E8M0 decode and floor/ceil encoders") {
  for (int e = 0; e < 255; ++e) {
    CAPTURE(e);
    REQUIRE(static_cast<double>(e8m0_to_f32(static_cast<std::uint8_t>(e))) == std::ldexp(1.0, e - 127));
    const float x = e8m0_to_f32(static_cast<std::uint8_t>(e));
    REQUIRE(f32_to_e8m0_floor(x) == e);
    REQUIRE(f32_to_e8m0_ceil(x) == e);
    if (e < 254) {
      const float y = x * 1.5f;
      REQUIRE(f32_to_e8m0_floor(y) == e);
      REQUIRE(f32_to_e8m0_ceil(y) == e + 1);
    }
  }
  CHECK(std::isnan(e8m0_to_f32(0xFF)));
  CHECK(f32_to_e8m0_floor(NAN) == 0xFF);
  CHECK(f32_to_e8m0_floor(0.0f) == 0);
  CHECK(f32_to_e8m0_floor(bits_to_f(1)) == 0);        // 2^-149 clamps to 2^-127
  CHECK(f32_to_e8m0_floor(std::ldexp(1.0f, 127)) == 254);
  CHECK(f32_to_e8m0_floor(-8.0f) == 130);             // magnitude only
  CHECK(f32_to_e8m0_ceil(std::nextafter(8.0f, 0.0f)) == 130);
}
