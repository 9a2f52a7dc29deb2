// K-quant specifics (specs/ggml-quants.md §2.6, §4.8–§4.12): scale packing
// and element placement checked against bytes worked out by hand from the
// spec, the row tails of the lane-parallel searches on every target, and why
// inputs past 2^32 are refused.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgequant/quantize.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

constexpr f16_bits kOne = 0x3C00;  // fp16 1.0

template <class S>
std::vector<float> dequantize_blocks(const std::vector<typename S::Block>& b) {
  std::vector<float> y(b.size() * S::block_elems);
  S::dequantize_row_ref(b.data(), y.data(), y.size());
  return y;
}

// Dequantizes on every runnable target and checks all agree with `want`.
template <class S>
void check_dequantize_everywhere(const std::vector<typename S::Block>& b,
                                 const std::vector<float>& want) {
  eqtest::for_each_isa([&](Isa) {
    std::vector<float> y(want.size());
    REQUIRE(dequantize<S>(b, S::block_elems * b.size(), y));
    for (std::size_t i = 0; i < y.size(); ++i) {
      CAPTURE(i);
      REQUIRE(eqtest::same_bits(y[i], want[i]));
    }
  });
}

}  // namespace

TEST_CASE("K4 scale/min packing: bytes worked out from §2.6") {
  const std::uint8_t sc[8] = {0, 1, 62, 63, 16, 33, 47, 5};
  const std::uint8_t m[8] = {63, 2, 31, 32, 48, 7, 60, 17};
  // b[j] = sc[j] | (sc[j+4] >> 4) << 6; b[j+4] = m[j] | (m[j+4] >> 4) << 6;
  // b[j+8] = (sc[j+4] & 15) | (m[j+4] & 15) << 4.
  const std::uint8_t want[12] = {0x40, 0x81, 0xBE, 0x3F, 0xFF, 0x02,
                                 0xDF, 0x60, 0x00, 0x71, 0xCF, 0x15};
  std::uint8_t q[12];
  ggml::pack_scale_min_k4(sc, m, q);
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(q[i] == want[i]);
  }
  for (int j = 0; j < 8; ++j) {
    std::uint8_t s, mm;
    ggml::get_scale_min_k4(j, want, &s, &mm);
    CHECK(s == sc[j]);
    CHECK(mm == m[j]);
  }
  // Every 6-bit value survives the round trip in every slot.
  for (int v = 0; v < 64; ++v) {
    std::uint8_t a[8], b[8];
    for (int j = 0; j < 8; ++j) {
      a[j] = static_cast<std::uint8_t>((v + 7 * j) & 63);
      b[j] = static_cast<std::uint8_t>((v * 5 + 3 * j) & 63);
    }
    ggml::pack_scale_min_k4(a, b, q);
    for (int j = 0; j < 8; ++j) {
      std::uint8_t s, mm;
      ggml::get_scale_min_k4(j, q, &s, &mm);
      REQUIRE(s == a[j]);
      REQUIRE(mm == b[j]);
    }
  }
}

TEST_CASE("Q3_K scale packing: bytes worked out from §2.6") {
  const int s[16] = {0, 63, 32, 1, 17, 48, 5, 60, 33, 2, 63, 16, 31, 47, 8, 40};
  // Low nibbles: j < 8 in the low half of byte j, j >= 8 in the high half of
  // byte j - 8; bits 4-5 of s[j] at bit 2*(j/4) of byte 8 + j%4.
  const std::uint8_t want[12] = {0x10, 0x2F, 0xF0, 0x01, 0xF1, 0xF0,
                                 0x85, 0x8C, 0x64, 0x8F, 0x32, 0x9C};
  std::uint8_t q[12];
  ggml::pack_q3_k_scales(s, q);
  for (int i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(q[i] == want[i]);
  }
  for (int j = 0; j < 16; ++j) CHECK(ggml::q3_k_scale(j, want) == s[j] - 32);
}

TEST_CASE("Q2_K: element placement and dequantization (§4.8)") {
  // Element 77: h = 0, r = 77 -> byte qs[13], bits 2*(77/32) = 4..5.
  // Sub-block 77/16 = 4: scale nibble 3, min nibble 2; d = 1, dmin = 0.5.
  Q2_K::Block b{};
  b.d = kOne;
  b.dmin = 0x3800;  // 0.5
  b.scales[4] = 0x23;
  b.qs[13] = 0x30;  // level 3 at bits 4-5
  const auto y = dequantize_blocks<Q2_K>({b});
  for (int e = 0; e < 256; ++e) {
    CAPTURE(e);
    const float want = e / 16 != 4 ? 0.0f : (e == 77 ? 3.0f * 3.0f - 1.0f : -1.0f);
    CHECK(y[e] == want);
  }
  check_dequantize_everywhere<Q2_K>({b}, y);
}

TEST_CASE("Q3_K: hmask and qs placement (§4.9)") {
  // Element 231 = 128 + 3*32 + 7: low bits in qs[32 + 7] bits 6-7, high bit
  // = bit 231/32 = 7 of hmask[231 % 32 = 7]. Level q + 4h - 4 = 2 + 4 - 4 = 2.
  // Every other element has q = 0, h = 0: value -4. Scale of sub-block 14 is
  // stored 32 + 3, all others 32 + 1; d = 0.25.
  Q3_K::Block b{};
  b.d = 0x3400;  // 0.25
  int s[16];
  for (int j = 0; j < 16; ++j) s[j] = j == 14 ? 35 : 33;
  ggml::pack_q3_k_scales(s, b.scales);
  b.qs[39] = 0x80;
  b.hmask[7] = 0x80;
  const auto y = dequantize_blocks<Q3_K>({b});
  for (int e = 0; e < 256; ++e) {
    CAPTURE(e);
    const float dl = 0.25f * (e / 16 == 14 ? 3.0f : 1.0f);
    CHECK(y[e] == dl * (e == 231 ? 2.0f : -4.0f));
  }
  check_dequantize_everywhere<Q3_K>({b}, y);
  // The quantizer's packing puts levels at the same places.
  std::int8_t L[256];
  for (int e = 0; e < 256; ++e) L[e] = 0;
  L[231] = 6;  // stored level 6 = value 2
  Q3_K::Block p{};
  Q3_K::pack(L, p);
  CHECK(std::memcmp(p.qs, b.qs, 64) == 0);
  CHECK(std::memcmp(p.hmask, b.hmask, 32) == 0);
}

TEST_CASE("Q4_K / Q5_K: nibble and high-bit placement (§4.10, §4.11)") {
  // Element 64*2 + 32 + 9 = 169: high nibble of qs[32*2 + 9 = 73]; for Q5_K
  // its bit 4 is bit 2*2 + 1 = 5 of qh[9]. Sub-block 169/32 = 5.
  Q5_K::Block b{};
  b.d = kOne;
  b.dmin = kOne;
  std::uint8_t sc[8] = {1, 1, 1, 1, 1, 2, 1, 1}, mn[8] = {0, 0, 0, 0, 0, 3, 0, 0};
  ggml::pack_scale_min_k4(sc, mn, b.scales);
  b.qs[73] = 0x70;
  b.qh[9] = 0x20;
  const auto y = dequantize_blocks<Q5_K>({b});
  for (int e = 0; e < 256; ++e) {
    CAPTURE(e);
    const float want = e / 32 != 5 ? 0.0f : (e == 169 ? 2.0f * (7 + 16) - 3.0f : -3.0f);
    CHECK(y[e] == want);
  }
  check_dequantize_everywhere<Q5_K>({b}, y);

  Q4_K::Block b4{};
  b4.d = kOne;
  b4.dmin = kOne;
  std::memcpy(b4.scales, b.scales, 12);
  b4.qs[73] = 0x70;
  const auto y4 = dequantize_blocks<Q4_K>({b4});
  for (int e = 0; e < 256; ++e) {
    CAPTURE(e);
    CHECK(y4[e] == (e / 32 != 5 ? 0.0f : (e == 169 ? 2.0f * 7 - 3.0f : -3.0f)));
  }
  check_dequantize_everywhere<Q4_K>({b4}, y4);
}

TEST_CASE("Q6_K: ql/qh placement (§4.12)") {
  // Element 197 = 128 + 64 + 5: h = 1, l = 5, third quarter -> high nibble of
  // ql[64 + 5] and bits 4-5 of qh[32 + 5]. Level 0xA | 2 << 4 = 42: value 10.
  // All other levels 0: value -32. Scales: sub-block j has scale j - 8.
  Q6_K::Block b{};
  b.d = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<std::int8_t>(j - 8);
  b.ql[69] = 0xA0;
  b.qh[37] = 0x20;
  const auto y = dequantize_blocks<Q6_K>({b});
  for (int e = 0; e < 256; ++e) {
    CAPTURE(e);
    CHECK(y[e] == 0.5f * static_cast<float>(e / 16 - 8) * (e == 197 ? 10.0f : -32.0f));
  }
  check_dequantize_everywhere<Q6_K>({b}, y);
  std::int8_t L[256];
  for (int e = 0; e < 256; ++e) L[e] = 0;
  L[197] = 42;
  Q6_K::Block p{};
  Q6_K::pack(L, p);
  CHECK(std::memcmp(p.ql, b.ql, 128) == 0);
  CHECK(std::memcmp(p.qh, b.qh, 64) == 0);
}

TEST_CASE_TEMPLATE("K-quants: every target matches the reference on uneven rows", S, Q2_K, Q3_K,
                   Q4_K, Q5_K, Q6_K) {
  // Rows of 1, 3 and 5 super-blocks (partial search batches on wide
  // targets); sub-blocks scaled from 2^-30 to 2^5, some all zero, some with
  // a single spike, so that stored sub-block scales of 0 (levels kept from
  // the search) and degenerate searches occur.
  std::mt19937 rng(77);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> pick(0, 9), shift(-30, 5);
  for (std::size_t cols : {256u, 768u, 1280u}) {
    std::vector<float> x(cols * 6);
    for (std::size_t s = 0; s < x.size() / 16; ++s) {
      const int kind = pick(rng);
      const float scale = std::ldexp(1.0f, shift(rng));
      for (std::size_t i = 0; i < 16; ++i) {
        float v = kind == 0 ? 0.0f : nd(rng) * scale;
        if (kind == 1) v = i == 3 ? scale : 0.0f;
        x[s * 16 + i] = v;
      }
    }
    std::vector<float> imp(cols);
    for (auto& w : imp) w = 0.25f + std::fabs(nd(rng));
    for (bool with_imp : {false, true}) {
      CAPTURE(cols);
      CAPTURE(with_imp);
      const std::size_t nb = x.size() / 256;
      std::vector<typename S::Block> ref(nb);
      for (std::size_t r = 0; r < 6; ++r) {
        S::quantize_row_ref(x.data() + r * cols, ref.data() + r * cols / 256, cols,
                            with_imp ? imp.data() : nullptr);
      }
      eqtest::for_each_isa([&](Isa) {
        std::vector<typename S::Block> got(nb);
        QuantizeOptions opt;
        if (with_imp) opt.importance = imp;
        REQUIRE(quantize<S>(x, cols, got, opt));
        REQUIRE(std::memcmp(got.data(), ref.data(), nb * sizeof(typename S::Block)) == 0);
      });
    }
  }
}

TEST_CASE("K-quants: inputs beyond 2^32 are refused, because the reference loses them") {
  // Q6_K with one 1e18 in a block of ones: in the reference, x*x*x overflows,
  // the sub-block's scale is NaN, its stored scale 0, and the 1e18 decodes to
  // 0 in a block ggml's validator accepts.
  std::vector<float> x(256, 1.0f);
  x[40] = 1e18f;
  Q6_K::Block b;
  Q6_K::quantize_row_ref(x.data(), &b, 256);
  CHECK(Q6_K::first_invalid_block(&b, 1) == 1);  // "valid"
  float y[256];
  Q6_K::dequantize_row_ref(&b, y, 256);
  CHECK(y[40] == 0.0f);
  // A moderately large value gives an infinite d instead, which is caught.
  x[40] = 1e10f;
  Q6_K::quantize_row_ref(x.data(), &b, 256);
  CHECK(Q6_K::first_invalid_block(&b, 1) == 0);
  // The API refuses both, naming the value's position.
  for (float big : {1e10f, 1e18f, 3e38f}) {
    x[40] = big;
    std::vector<Q6_K::Block> out(1);
    const auto st = quantize<Q6_K>(x, 256, out);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kOverflow);
    CHECK(st.error().offset == 40);
    std::vector<std::byte> bytes(sizeof(Q6_K::Block));
    const auto erased = quantize(GgmlType::kQ6_K, x, 256, bytes);  // the type-erased API too
    REQUIRE_FALSE(erased);
    CHECK(erased.error().code == Errc::kOverflow);
  }
  x[40] = 4e9f;  // below 2^32: quantized, then refused for its infinite d
  std::vector<Q6_K::Block> out(1);
  const auto st = quantize<Q6_K>(x, 256, out);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kOverflow);
  CHECK(st.error().what.find("block scale") != std::string::npos);
  // Largest magnitudes the formats can hold pass.
  x[40] = -2.0e6f;
  REQUIRE(quantize<Q6_K>(x, 256, out));
}

