// GEMV / small-batch GEMM: against a float64 oracle on ggml's golden weights, independent of
// the thread count, GEMM columns equal to GEMV, and argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "edgequant/compute/gemv.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

constexpr std::size_t kGemvRows = 64, kGemvCols = 4096;

struct Golden {
  std::vector<float> input;
  std::vector<std::uint8_t> w;  // 64 rows of the type
};

std::optional<Golden> load(const std::string& type_upper) {
  auto ip = eqtest::golden_file("input.f32");
  auto wp = eqtest::golden_file(type_upper + ".q");
  if (!ip || !wp) return std::nullopt;
  return Golden{eqtest::read_file<float>(*ip), eqtest::read_file(*wp)};
}

// Float64 Σ dequant(W_r)·dequant(a) and Σ|…| (the oracle does not use vec_dot).
template <class S>
void oracle(const std::uint8_t* wrow, const typename DotActivation<S>::Block* a, double* dot,
            double* abs) {
  std::vector<float> wf(kGemvCols), af(kGemvCols);
  S::dequantize_row_ref(reinterpret_cast<const typename S::Block*>(wrow), wf.data(), kGemvCols);
  DotActivation<S>::dequantize_row_ref(a, af.data(), kGemvCols);
  *dot = 0;
  *abs = 0;
  for (std::size_t i = 0; i < kGemvCols; ++i) {
    *dot += static_cast<double>(wf[i]) * af[i];
    *abs += std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
}

template <class S>
void check_gemv() {
  std::string upper(S::name);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CAPTURE(upper);
  auto g = load(upper);
  if (!g) {
    MESSAGE("SKIPPED: golden data not found");
    return;
  }
  std::span<const typename S::Block> w(reinterpret_cast<const typename S::Block*>(g->w.data()),
                                       g->w.size() / sizeof(typename S::Block));
  for (std::size_t xr : {std::size_t{0}, std::size_t{17}, std::size_t{40}, std::size_t{63}}) {
    CAPTURE(xr);
    std::span<const float> x(g->input.data() + xr * kGemvCols, kGemvCols);
    std::vector<float> y1(kGemvRows), yt(kGemvRows);
    REQUIRE(gemv<S>(w, kGemvRows, kGemvCols, x, y1, 1));
    // Oracle: float64 over the dequantized weights and the activation the
    // reference quantizer makes (scalar target).
    std::vector<typename DotActivation<S>::Block> a(kGemvCols / DotActivation<S>::block_elems);
    {
      ScopedIsa scalar(Isa::kScalar);
      quantize_dot_activation<S>(x.data(), a.data(), kGemvCols);
    }
    for (std::size_t r = 0; r < kGemvRows; ++r) {
      double want, abs;
      oracle<S>(g->w.data() + r * (g->w.size() / kGemvRows), a.data(), &want, &abs);
      // Q4_1/Q5_1 add m·s with s = fp16(d·Σq) rounded (specs §4.7): up to
      // 2.3e-4·Σ|wa| from float64 on this data (golden README).
      const double bound = std::is_same_v<S, Q4_1> ? 3e-4 : 1e-5;
      if (std::is_same_v<S, Q4_1> && xr == 40) {
        // Input row 40 (|x| to 4.5e4) overflows Q8_1's s to ±Inf in some
        // blocks; ggml's dot is then non-finite too (golden README).
        CHECK_FALSE(std::isfinite(y1[r]));
        continue;
      }
      CHECK(std::fabs(y1[r] - want) <= bound * abs);
    }
    for (unsigned t : {2u, 3u, 5u, 0u}) {
      CAPTURE(t);
      REQUIRE(gemv<S>(w, kGemvRows, kGemvCols, x, yt, t));
      for (std::size_t r = 0; r < kGemvRows; ++r) CHECK(eqtest::same_bits(yt[r], y1[r]));
    }
  }
  // GEMM of 5 activation rows: column i equals GEMV of row i, bit for bit.
  const std::size_t m = 5;
  std::span<const float> xs(g->input.data() + 7 * kGemvCols, m * kGemvCols);
  std::vector<float> ym(m * kGemvRows), yv(kGemvRows);
  REQUIRE(gemm<S>(w, kGemvRows, kGemvCols, xs, m, ym, 2));
  for (std::size_t i = 0; i < m; ++i) {
    REQUIRE(gemv<S>(w, kGemvRows, kGemvCols, xs.subspan(i * kGemvCols, kGemvCols), yv, 1));
    for (std::size_t r = 0; r < kGemvRows; ++r) CHECK(eqtest::same_bits(ym[i * kGemvRows + r], yv[r]));
  }
}

}  // namespace

TEST_CASE_TEMPLATE("gemv: float64 oracle, thread-count independence, gemm = gemv", S, Q4_0, Q8_0,
                   Q4_1, Q4_K, Q6_K, IQ4_XS, Q2_K, F16) {
  check_gemv<S>();
}

TEST_CASE("gemv: every runnable target gives a result within the bound of the scalar one") {
  auto g = load("Q4_K");
  if (!g) return;
  std::span<const std::uint8_t> w(g->w);
  std::span<const float> x(g->input.data(), kGemvCols);
  std::vector<float> ref(kGemvRows), y(kGemvRows);
  REQUIRE(gemv(dot_shape<Q4_K>(Isa::kScalar), w, kGemvRows, kGemvCols, x, ref, 1));
  eqtest::for_each_isa([&](Isa isa) {
    REQUIRE(gemv(dot_shape<Q4_K>(isa), w, kGemvRows, kGemvCols, x, y, 2));
    std::vector<Q8_K::Block> a(kGemvCols / 256);
    quantize_dot_activation<Q4_K>(x.data(), a.data(), kGemvCols);
    for (std::size_t r = 0; r < kGemvRows; ++r) {
      double want, abs;
      oracle<Q4_K>(g->w.data() + r * (g->w.size() / kGemvRows), a.data(), &want, &abs);
      CHECK(std::fabs(y[r] - ref[r]) <= 1e-5 * abs);
    }
  });
}

TEST_CASE("gemv: argument errors") {
  std::vector<Q4_0::Block> w(4 * 2);  // 4 rows x 64 columns
  std::vector<float> x(64, 1.0f), y(4);
  CHECK(gemv<Q4_0>(w, 4, 64, x, y));
  SUBCASE("columns not a multiple of the block") {
    std::vector<float> x48(48, 1.0f);
    auto st = gemv<Q4_0>(w, 4, 48, x48, y);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kBadArgument);
  }
  SUBCASE("weights too short") {
    auto st = gemv<Q4_0>(std::span<const Q4_0::Block>(w).first(7), 4, 64, x, y);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kBadArgument);
  }
  SUBCASE("output too short") {
    std::vector<float> y3(3);
    auto st = gemv<Q4_0>(w, 4, 64, x, y3);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kBadArgument);
  }
  SUBCASE("non-finite activation") {
    x[33] = std::numeric_limits<float>::quiet_NaN();
    auto st = gemv<Q4_0>(w, 4, 64, x, y);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kNonFinite);
    CHECK(st.error().offset == 33);
  }
  SUBCASE("rows x row bytes overflows") {
    auto st = gemv<Q4_0>(w, std::numeric_limits<std::size_t>::max() / 8, 64, x, y);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kBadArgument);
  }
  SUBCASE("activations quantized for another type") {
    QuantizedActivations a;
    std::vector<float> x256(256, 1.0f);
    REQUIRE(quantize_activations(dot_shape<Q4_K>(), x256, 1, 256, a));  // Q8_K blocks
    std::vector<Q4_0::Block> w8(8);                                     // 1 row x 256
    std::vector<float> y1(1);
    auto st = gemm_quantized(dot_shape<Q4_0>(),
                             {reinterpret_cast<const std::uint8_t*>(w8.data()), w8.size() * 18}, 1,
                             a, y1);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kBadArgument);
  }
  SUBCASE("type without a dot product") {
    auto st = gemv(ggml_dot_shape(GgmlType::kQ8_K), {}, 0, 256, {}, {});
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kUnsupported);
  }
}

// Hand-derived: a 2 x 32 Q8_0 matrix with rows of all 1s (d = 1) and all −1s
// (d = 0.5) times x = 127 everywhere (activation d = 1, q = 127):
// y = [32·127, −32·127·0.5] = [4064, −2032].
TEST_CASE("gemv: hand-derived Q8_0 matrix") {
  std::vector<Q8_0::Block> w(2);
  w[0].d = f32_to_f16(1.0f);
  w[1].d = f32_to_f16(0.5f);
  for (int j = 0; j < 32; ++j) {
    w[0].qs[j] = 1;
    w[1].qs[j] = -1;
  }
  std::vector<float> x(32, 127.0f), y(2);
  REQUIRE(gemv<Q8_0>(w, 2, 32, x, y, 2));
  CHECK(y[0] == 4064.0f);
  CHECK(y[1] == -2032.0f);
}
