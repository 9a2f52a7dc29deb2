// Property tests for every scheme: error bounds (ggml's test-quantize-fns data
// and thresholds), edge rows, bad input, thread-count independence, and
// identical bytes on every SIMD target.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgequant/quantize.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

// test-quantize-fns.cpp "total error" bound: sqrt(Σ(a-b)²)/n (specs §7).
double ggml_total_error_limit(GgmlType t) {
  switch (t) {
    case GgmlType::kQ1_0: return 0.025;
    case GgmlType::kTQ1_0:
    case GgmlType::kTQ2_0:
    case GgmlType::kQ2_0: return 0.01;
    case GgmlType::kQ2_K:
    case GgmlType::kIQ2_S: return 0.0075;
    case GgmlType::kQ3_K:
    case GgmlType::kIQ3_S: return 0.004;
    case GgmlType::kIQ3_XXS: return 0.005;
    case GgmlType::kNVFP4: return 0.003;
    // ggml's test skips these (no CPU from_float); sanity bounds instead, well
    // below the 0.022 of decoding everything as zero.
    case GgmlType::kIQ2_XXS:
    case GgmlType::kIQ2_XS: return 0.01;
    case GgmlType::kIQ1_S:
    case GgmlType::kIQ1_M: return 0.015;
    default: return 0.002;
  }
}

template <class S>
std::vector<float> roundtrip(const std::vector<float>& x, std::size_t cols,
                             std::span<const float> imp = {}) {
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  QuantizeOptions opt;
  opt.importance = imp;
  const auto st = quantize<S>(x, cols, q, opt);
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message()));
  std::vector<float> y(x.size());
  REQUIRE(dequantize<S>(q, cols, y));
  return y;
}

template <class S>
std::vector<std::uint8_t> quantize_bytes(const std::vector<float>& x, std::size_t cols,
                                         std::span<const float> imp = {}, unsigned threads = 1) {
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  QuantizeOptions opt;
  opt.importance = imp;
  opt.threads = threads;
  REQUIRE(quantize<S>(x, cols, q, opt));
  std::vector<std::uint8_t> b(q.size() * sizeof(typename S::Block));
  std::memcpy(b.data(), q.data(), b.size());
  return b;
}

// Importance weights like llama.cpp's imatrix: positive, uneven.
std::vector<float> make_importance(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.5f, 8.f);
  std::vector<float> w(n);
  for (auto& v : w) v = u(rng);
  return w;
}

constexpr std::size_t kPropCols = 512;  // a multiple of every block size

// Rows that catch the usual mistakes: zeros, constants, spikes, tiny, huge,
// alternating signs, ties.
std::vector<float> edge_rows() {
  std::vector<float> x;
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  auto add = [&](auto gen) {
    for (std::size_t i = 0; i < kPropCols; ++i) x.push_back(gen(i));
  };
  add([](std::size_t) { return 0.0f; });
  add([](std::size_t i) { return i % 2 ? -0.0f : 0.0f; });
  add([](std::size_t) { return 0.75f; });
  add([](std::size_t) { return -3.25f; });
  add([](std::size_t i) { return i == 77 ? 5.0f : 0.0f; });
  add([](std::size_t i) { return i == 300 ? -1e-3f : 0.0f; });
  add([&](std::size_t) { return nd(rng) * 1e-20f; });
  add([&](std::size_t) { return nd(rng) * 3e3f; });
  add([](std::size_t i) { return (i % 2 ? -1.f : 1.f) * (1.f + static_cast<float>(i) / kPropCols); });
  add([&](std::size_t) { return static_cast<float>(static_cast<int>(nd(rng) * 4)) * 0.5f + 0.25f; });
  add([&](std::size_t) { return nd(rng); });
  add([&](std::size_t i) { return i % 64 == 5 ? nd(rng) * 40.f : nd(rng); });
  return x;
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("scheme: error within ggml's test-quantize-fns bound", S, prop_error) {
  // ggml's data: x[i] = 0.1 + 2*cos(i + offset), 4096 values.
  std::vector<float> x(4096);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.1f + 2 * std::cos(static_cast<float>(i));
  const bool imat = ggml_type_info(S::ggml_type).requires_imatrix;
  const auto w = make_importance(4096, 1);
  const auto y = roundtrip<S>(x, 4096, imat ? std::span<const float>(w) : std::span<const float>());
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sum += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  const double err = std::sqrt(sum) / x.size();
  CAPTURE(S::name);
  CHECK(err < ggml_total_error_limit(S::ggml_type));
}

TEST_CASE_TEMPLATE_DEFINE("scheme: edge rows stay bounded and exact where they must", S, prop_edges) {
  const auto x = edge_rows();
  const bool imat = ggml_type_info(S::ggml_type).requires_imatrix;
  const auto w = make_importance(kPropCols, 2);
  const auto y = roundtrip<S>(x, kPropCols, imat ? std::span<const float>(w) : std::span<const float>());
  for (std::size_t r = 0; r < x.size() / kPropCols; ++r) {
    float amax = 0;
    for (std::size_t i = 0; i < kPropCols; ++i) amax = std::max(amax, std::fabs(x[r * kPropCols + i]));
    for (std::size_t i = 0; i < kPropCols; ++i) {
      const float a = x[r * kPropCols + i], b = y[r * kPropCols + i];
      CAPTURE(r);
      CAPTURE(i);
      REQUIRE(std::isfinite(b));
      // Never further from the input than the row's largest magnitude (loose,
      // holds for every scheme down to 1 bit) — catches sign and scale bugs.
      REQUIRE(std::fabs(a - b) <= 2.0f * amax + 1e-30f);
      if (amax == 0.0f) REQUIRE(b == 0.0f);  // zero rows decode to zeros
    }
  }
}

TEST_CASE_TEMPLATE_DEFINE("scheme: bad input is refused with a clear error", S, prop_errors) {
  std::vector<float> x(kPropCols * 2, 1.0f);
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  const auto w = make_importance(kPropCols, 3);
  QuantizeOptions opt;
  if (ggml_type_info(S::ggml_type).requires_imatrix) opt.importance = w;
  x[kPropCols + 5] = std::numeric_limits<float>::quiet_NaN();
  auto st = quantize<S>(x, kPropCols, q, opt);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kNonFinite);
  CHECK(st.error().offset == kPropCols + 5);
  CHECK(st.error().what.find("row 1, column 5") != std::string::npos);
  x[kPropCols + 5] = -std::numeric_limits<float>::infinity();
  st = quantize<S>(x, kPropCols, q, opt);
  REQUIRE_FALSE(st);
  CHECK(st.error().what.find("infinite") != std::string::npos);
  x[kPropCols + 5] = 1.0f;
  if constexpr (S::block_elems > 1) {
    std::vector<typename S::Block> q1(1);
    std::vector<float> odd(S::block_elems + 1, 1.0f);
    st = quantize<S>(odd, S::block_elems + 1, q1, opt);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kBadArgument);
    CHECK(st.error().what.find("block size " + std::to_string(S::block_elems)) !=
          std::string::npos);
  }
  QuantizeOptions short_imp;
  short_imp.importance = std::span<const float>(w).first(10);
  st = quantize<S>(x, kPropCols, q, short_imp);
  REQUIRE_FALSE(st);
  CHECK(st.error().what.find("expected " + std::to_string(kPropCols)) != std::string::npos);
  if (ggml_type_info(S::ggml_type).requires_imatrix) {
    st = quantize<S>(x, kPropCols, q, QuantizeOptions{});
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kNeedsImportance);
  }
  std::vector<typename S::Block> small(q.size() - 1);
  st = quantize<S>(x, kPropCols, small, opt);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kBadArgument);
}

TEST_CASE_TEMPLATE_DEFINE("scheme: bytes independent of thread count and SIMD target", S, prop_identity) {
  std::vector<float> x = edge_rows();
  std::mt19937 rng(9);
  std::student_t_distribution<float> td(3.f);
  for (int r = 0; r < 20; ++r) {
    for (std::size_t i = 0; i < kPropCols; ++i) x.push_back(td(rng));
  }
  const auto w = make_importance(kPropCols, 4);
  const bool req = ggml_type_info(S::ggml_type).requires_imatrix;
  std::vector<std::vector<std::uint8_t>> ref_plain_imat;
  {
    ScopedIsa scalar(Isa::kScalar);
    if (!req) ref_plain_imat.push_back(quantize_bytes<S>(x, kPropCols));
    ref_plain_imat.push_back(quantize_bytes<S>(x, kPropCols, w));
  }
  eqtest::for_each_isa([&](Isa) {
    std::size_t k = 0;
    if (!req) REQUIRE(quantize_bytes<S>(x, kPropCols) == ref_plain_imat[k++]);
    REQUIRE(quantize_bytes<S>(x, kPropCols, w) == ref_plain_imat[k]);
    for (unsigned t : {2u, 3u}) REQUIRE(quantize_bytes<S>(x, kPropCols, w, t) == ref_plain_imat[k]);
    // Dequantization: bit-identical floats on every target.
    std::vector<typename S::Block> q(x.size() / S::block_elems);
    std::memcpy(q.data(), ref_plain_imat[k].data(), ref_plain_imat[k].size());
    std::vector<float> y(x.size()), yref(x.size());
    REQUIRE(dequantize<S>(q, kPropCols, y, 2));
    {
      ScopedIsa scalar(Isa::kScalar);
      REQUIRE(dequantize<S>(q, kPropCols, yref));
    }
    REQUIRE(std::memcmp(y.data(), yref.data(), y.size() * 4) == 0);
  });
}

TEST_CASE_TEMPLATE_DEFINE("scheme: inputs too large for the format are refused", S, prop_overflow) {
  // Past every format's range: f16 (65504), bf16 (3.39e38), fp16 scales.
  std::vector<float> x(kPropCols * 2, 1.0f);
  x[kPropCols + 40] = 3.4e38f;  // rounds to Inf even in bf16
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  const auto w = make_importance(kPropCols, 5);
  QuantizeOptions opt;
  if (ggml_type_info(S::ggml_type).requires_imatrix) opt.importance = w;
  const auto st = quantize<S>(x, kPropCols, q, opt);
  // F32 has no scale; MXFP4 and NVFP4 scales saturate (E8M0 exponent <= 252
  // for finite input, UE4M3 clamps at 448), so every finite input fits.
  if constexpr (S::ggml_type == GgmlType::kF32 || S::ggml_type == GgmlType::kMXFP4 ||
                S::ggml_type == GgmlType::kNVFP4) {
    CHECK(st);
  } else {
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kOverflow);
    CHECK(st.error().what.find("row 1") != std::string::npos);
    CHECK(st.error().offset <= kPropCols + 40);
  }
}

TEST_CASE_TEMPLATE_APPLY(prop_overflow, GgmlSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_error, GgmlSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_edges, GgmlSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_errors, GgmlSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_identity, GgmlSchemes::tuple);
// Activation-only types through their weight references (Q8_K cannot overflow:
// its float d is max/-127, so prop_overflow does not apply).
TEST_CASE_TEMPLATE_APPLY(prop_error, ActivationSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_edges, ActivationSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_errors, ActivationSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(prop_identity, ActivationSchemes::tuple);

TEST_CASE("type-erased API matches the typed one and refuses unsupported types") {
  std::vector<float> x(kPropCols * 3);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  std::vector<Q4_0::Block> typed(x.size() / 32);
  REQUIRE(quantize<Q4_0>(x, kPropCols, typed));
  std::vector<std::byte> erased(typed.size() * sizeof(Q4_0::Block));
  REQUIRE(quantize(GgmlType::kQ4_0, x, kPropCols, erased));
  CHECK(std::memcmp(erased.data(), typed.data(), erased.size()) == 0);
  std::vector<std::byte> q81(x.size() / 32 * 36);
  auto st = quantize(GgmlType::kQ8_1, x, kPropCols, q81);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kUnsupported);
  CHECK(parse_ggml_type("Q4_K") == GgmlType::kQ4_K);
  CHECK(parse_ggml_type("q4_k") == GgmlType::kQ4_K);
  CHECK_FALSE(parse_ggml_type("q4_2"));
  CHECK(ggml_type_bpw(GgmlType::kQ4_K) == 4.5);
  CHECK_FALSE(ggml_type_info(4u));  // removed Q4_2
}
