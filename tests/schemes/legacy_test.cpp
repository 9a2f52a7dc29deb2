// ggml's legacy 32-element types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): blocks whose
// bytes are derived by hand from specs/ggml-quants.md §4.2–4.6, the signed
// zero of Q4_1/Q5_1's stored minimum, blocks too small for 1/d, and the
// minimum field's overflow check — on every SIMD target.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "edgequant/quantize.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

template <class S>
typename S::Block quantize_block(const std::vector<float>& x) {
  std::vector<typename S::Block> q(1);
  const auto st = quantize<S>(x, 32, q);
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message()));
  return q[0];
}

std::uint32_t qh_word(const std::uint8_t* qh) {
  return qh[0] | qh[1] << 8 | qh[2] << 16 | static_cast<std::uint32_t>(qh[3]) << 24;
}

}  // namespace

TEST_CASE("legacy types: hand-derived blocks") {
  eqtest::for_each_isa([&](Isa) {
    // Q4_1: x = 0..15 then 15..0: min 0, max 15, d = 1, level = x.
    std::vector<float> x(32);
    for (int j = 0; j < 16; ++j) {
      x[j] = static_cast<float>(j);
      x[j + 16] = static_cast<float>(15 - j);
    }
    auto q41 = quantize_block<Q4_1>(x);
    CHECK(q41.d == 0x3C00);
    CHECK(q41.m == 0x0000);
    for (int j = 0; j < 16; ++j) CHECK(q41.qs[j] == (j | (15 - j) << 4));

    // Q5_0: x[j] = j - 16: the first largest |x| is -16, d = -16/-16 = 1,
    // level = trunc(x + 16.5) = j; bit 4 set for j >= 16.
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
    auto q50 = quantize_block<Q5_0>(x);
    CHECK(q50.d == 0x3C00);
    CHECK(qh_word(q50.qh) == 0xFFFF0000u);
    for (int j = 0; j < 16; ++j) CHECK(q50.qs[j] == (j | j << 4));
    // Flip the sign of the first element: +16 comes first, d = -1, level = 16 - x.
    x[0] = 16.0f;
    q50 = quantize_block<Q5_0>(x);
    CHECK(q50.d == 0xBC00);
    CHECK((q50.qs[0] & 0x0F) == 0);       // 16 - 16 = 0
    CHECK((q50.qs[1] & 0x0F) == 15);      // 16 - (-15) = 31: low nibble 15
    CHECK((qh_word(q50.qh) & 3u) == 2u);  // level 31 has bit 4, level 0 not

    // Q5_1: x = 0..31: min 0, max 31, d = 1, level = x.
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j);
    auto q51 = quantize_block<Q5_1>(x);
    CHECK(q51.d == 0x3C00);
    CHECK(q51.m == 0x0000);
    CHECK(qh_word(q51.qh) == 0xFFFF0000u);
    for (int j = 0; j < 16; ++j) CHECK(q51.qs[j] == (j | j << 4));

    // Zero blocks (§4.2, §4.4): d = 0/-8 = -0 -> 0x8000, level = trunc(0 + 8.5)
    // = 8 / trunc(16.5) = 16 (Q5_0: nibble 0, bit 4 set everywhere).
    const std::vector<float> z(32, 0.0f);
    const auto z40 = quantize_block<Q4_0>(z);
    CHECK(z40.d == 0x8000);
    for (auto b : z40.qs) CHECK(b == 0x88);
    const auto z50 = quantize_block<Q5_0>(z);
    CHECK(z50.d == 0x8000);
    CHECK(qh_word(z50.qh) == 0xFFFFFFFFu);
    for (auto b : z50.qs) CHECK(b == 0x00);
    const auto z41 = quantize_block<Q4_1>(z);
    CHECK(z41.d == 0x0000);  // (0 - 0) / 15 = +0
    CHECK(z41.m == 0x0000);
    for (auto b : z41.qs) CHECK(b == 0x00);
  });
}

TEST_CASE("legacy types: the stored minimum keeps the sign of ggml's sequential scan") {
  // min starts at FLT_MAX and is replaced only by a smaller value, so when the
  // minimum is zero the first zero wins: -0.0 first -> m = 0x8000.
  std::vector<float> a(32, 1.0f), b(32, 1.0f), c(32, 0.0f);
  a[3] = -0.0f;
  a[7] = 0.0f;
  b[3] = 0.0f;
  b[7] = -0.0f;
  c[0] = -0.0f;  // all zeros, the first negative: d = (-0) - (-0) = +0
  eqtest::for_each_isa([&](Isa) {
    CHECK(quantize_block<Q4_1>(a).m == 0x8000);
    CHECK(quantize_block<Q4_1>(b).m == 0x0000);
    CHECK(quantize_block<Q5_1>(a).m == 0x8000);
    CHECK(quantize_block<Q5_1>(b).m == 0x0000);
    const auto zc = quantize_block<Q4_1>(c);
    CHECK(zc.m == 0x8000);
    CHECK(zc.d == 0x0000);
    CHECK(quantize_block<Q5_1>(c).d == 0x0000);
  });
}

TEST_CASE("legacy types: blocks too small for 1/d write levels 0 (ggml on x86)") {
  // Largest |x| ~2e-39: d is subnormal and 1/d overflows. ggml converts the
  // Inf/NaN products with cvttss2si (0x80000000, low byte 0): every level 0,
  // so Q4_0 nibbles are 0, not 8 (checked against libggml-base in
  // ggml_peer_test.cpp when node-llama-cpp is present).
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 10) * 1e-40f;
  eqtest::for_each_isa([&](Isa) {
    for (auto b : quantize_block<Q4_0>(x).qs) CHECK(b == 0);
    for (auto b : quantize_block<Q4_1>(x).qs) CHECK(b == 0);
    const auto q50 = quantize_block<Q5_0>(x);
    for (auto b : q50.qs) CHECK(b == 0);
    CHECK(qh_word(q50.qh) == 0u);
    const auto q51 = quantize_block<Q5_1>(x);
    for (auto b : q51.qs) CHECK(b == 0);
    CHECK(qh_word(q51.qh) == 0u);
    for (auto q : quantize_block<Q8_0>(x).qs) CHECK(q == 0);
    std::vector<Q8_1::Block> q81(1);
    REQUIRE(quantize<Q8_1>(x, 32, q81));
    CHECK(q81[0].s == 0);
    for (auto q : q81[0].qs) CHECK(q == 0);
  });
}

TEST_CASE("legacy types: a minimum beyond fp16 range is refused (ggml_validate_row_data)") {
  // Constant -1e6: d = 0 but m = fp16(-1e6) = -Inf, which llama.cpp rejects.
  std::vector<float> x(64, 1.0f);
  for (int j = 32; j < 64; ++j) x[j] = -1e6f;
  std::vector<Q4_1::Block> q(2);
  auto st = quantize<Q4_1>(x, 64, q);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kOverflow);
  CHECK(st.error().offset == 32);
  std::vector<Q5_1::Block> q5(2);
  st = quantize<Q5_1>(x, 64, q5);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kOverflow);
}

TEST_CASE_TEMPLATE("legacy types: streaming dequantization and partial block groups", S, Q4_0, Q4_1,
                   Q5_0, Q5_1, Q8_0, F16, BF16) {
  // Rows of 11 blocks: groups of 4 or 8 blocks plus a remainder, with and
  // without importance; the output of the non-temporal dequantizer at an
  // aligned and a misaligned address.
  constexpr std::size_t kCols = 11 * 32, kRows = 7;
  std::vector<float> x(kCols * kRows), w(kCols);
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = std::sin(0.37f * static_cast<float>(i)) * (1.0f + static_cast<float>(i % 97));
  }
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.5f + static_cast<float>(i % 13);
  std::vector<std::vector<std::uint8_t>> ref;
  {
    ScopedIsa scalar(Isa::kScalar);
    for (bool imat : {false, true}) {
      std::vector<typename S::Block> q(x.size() / S::block_elems);
      QuantizeOptions opt;
      if (imat) opt.importance = w;
      REQUIRE(quantize<S>(x, kCols, q, opt));
      ref.emplace_back(reinterpret_cast<const std::uint8_t*>(q.data()),
                       reinterpret_cast<const std::uint8_t*>(q.data() + q.size()));
    }
  }
  eqtest::for_each_isa([&](Isa isa) {
    for (int imat = 0; imat < 2; ++imat) {
      std::vector<typename S::Block> q(x.size() / S::block_elems);
      QuantizeOptions opt;
      if (imat) opt.importance = w;
      REQUIRE(quantize<S>(x, kCols, q, opt));
      CHECK(std::memcmp(q.data(), ref[imat].data(), ref[imat].size()) == 0);
    }
    const RowKernels& k = row_kernels_for<S>(isa);
    std::vector<float> want(kCols + 8), got(kCols + 8);
    k.dequantize(ref[1].data(), want.data(), kCols);
    const auto stream = k.dequantize_stream ? k.dequantize_stream : k.dequantize;
    for (std::size_t offset : {0u, 1u, 4u}) {
      stream(ref[1].data(), got.data() + offset, kCols);
      CAPTURE(offset);
      CHECK(std::memcmp(got.data() + offset, want.data(), kCols * 4) == 0);
    }
  });
}
