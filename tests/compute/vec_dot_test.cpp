// vec_dot conformance: the scalar reference of every weight type against ggml's own dot
// products (golden <T>.dot.f32), and every runnable SIMD target against the scalar reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "edgequant/compute/vec_dot.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

constexpr std::size_t kRows = 64, kCols = 4096;

// Golden bound (docs/compute.md): the integer inner sums are exact, only the
// float accumulation across blocks differs from ggml's AVX-512 order, so
// |ours − golden| ≤ 1e-5·Σ|wᵢ·aᵢ| (wᵢ, aᵢ dequantized; float64).
constexpr double kRelBound = 1e-5;

const std::vector<float>& golden_input() {
  static const std::vector<float> in = [] {
    auto p = eqtest::golden_file("input.f32");
    return p ? eqtest::read_file<float>(*p) : std::vector<float>{};
  }();
  return in;
}

// Weight rows ggml dotted: T.q, or T.imat.q for the types that need an imatrix.
template <class S>
std::vector<std::uint8_t> golden_weights(std::string& upper) {
  upper = std::string(S::name);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const bool imat = S::ggml_type == GgmlType::kIQ2_XXS || S::ggml_type == GgmlType::kIQ2_XS ||
                    S::ggml_type == GgmlType::kIQ1_S;
  auto p = eqtest::golden_file(upper + (imat ? ".imat.q" : ".q"));
  return p ? eqtest::read_file(*p) : std::vector<std::uint8_t>{};
}

template <class S>
using ABlock = typename DotActivation<S>::Block;

// Σ|wᵢ·aᵢ| of the dequantized weight and activation rows.
template <class S>
double abs_dot(const typename S::Block* w, const ABlock<S>* a, std::size_t n) {
  using A = DotActivation<S>;
  std::vector<float> wf(n), af(n);
  S::dequantize_row_ref(w, wf.data(), n);
  A::dequantize_row_ref(a, af.data(), n);
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(wf[i]) * af[i]);
  return s;
}

bool close(float got, float want, double scale) {
  if (!std::isfinite(want)) return std::isnan(want) ? std::isnan(got) : got == want;
  return std::fabs(static_cast<double>(got) - want) <= kRelBound * scale;
}

template <class S>
void check_type() {
  const auto& in = golden_input();
  std::string upper;
  const auto wbytes = golden_weights<S>(upper);
  auto gp = eqtest::golden_file(upper + ".dot.f32");
  if (in.size() != kRows * kCols || !gp || wbytes.empty()) {
    MESSAGE("SKIPPED: golden data for " << upper << " not found");
    return;
  }
  const auto golden = eqtest::read_file<float>(*gp);
  REQUIRE(golden.size() == kRows);
  const std::size_t row_blocks = kCols / S::block_elems;
  REQUIRE(wbytes.size() == kRows * row_blocks * sizeof(typename S::Block));
  std::vector<typename S::Block> w(kRows * row_blocks);
  std::memcpy(w.data(), wbytes.data(), wbytes.size());

  using A = DotActivation<S>;
  const std::size_t act_blocks = kCols / A::block_elems;
  std::vector<ABlock<S>> act(kRows * act_blocks);
  {
    ScopedIsa scalar(Isa::kScalar);
    for (std::size_t r = 0; r < kRows; ++r) {
      quantize_dot_activation<S>(in.data() + (63 - r) * kCols, act.data() + r * act_blocks, kCols);
    }
  }
  const VecDotFn ref = vec_dot_kernel<S>(Isa::kScalar);
  int exact = 0;
  double worst_ref = 0, worst_simd = 0;  // max |Δ|/Σ|wᵢaᵢ| over finite rows
  for (std::size_t r = 0; r < kRows; ++r) {
    CAPTURE(upper);
    CAPTURE(r);
    const auto* wr = w.data() + r * row_blocks;
    const auto* ar = act.data() + r * act_blocks;
    const double scale = abs_dot<S>(wr, ar, kCols);
    const float got = ref(kCols, wr, ar);
    CHECK_MESSAGE(close(got, golden[r], scale), "ref " << got << " golden " << golden[r]);
    exact += eqtest::same_bits(got, golden[r]);
    if (std::isfinite(golden[r]) && scale > 0) {
      worst_ref = std::max(worst_ref, std::fabs(static_cast<double>(got) - golden[r]) / scale);
    }
    // Every runnable SIMD target within the same bound of the scalar
    // reference, on the full row and on short prefixes (1 and 3 blocks).
    eqtest::for_each_isa([&](Isa isa) {
      const VecDotFn f = vec_dot_kernel<S>(isa);
      const float v = f(kCols, wr, ar);
      CHECK_MESSAGE(close(v, got, scale), "simd " << v << " ref " << got);
      if (std::isfinite(got) && scale > 0) {
        worst_simd = std::max(worst_simd, std::fabs(static_cast<double>(v) - got) / scale);
      }
      for (std::size_t k : {std::size_t{1}, std::size_t{3}}) {
        const std::size_t n = k * S::block_elems;
        const double sc = abs_dot<S>(wr, ar, n);
        CHECK(close(f(n, wr, ar), ref(n, wr, ar), sc));
      }
    });
  }
  MESSAGE(upper << ": " << exact
                << "/64 dots bit-identical to ggml's AVX-512 values; max |ref-ggml|/S " << worst_ref
                << ", max |simd-ref|/S " << worst_simd);
}

}  // namespace

TEST_CASE_TEMPLATE("vec_dot: scalar reference vs ggml golden, SIMD vs scalar", S, F16, BF16, Q4_0,
                   Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ2_XXS, IQ2_XS, IQ2_S,
                   IQ3_XXS, IQ3_S, IQ1_S, IQ1_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0,
                   Q2_0) {
  check_type<S>();
}

// Hand-derived values (not golden): one Q8_0 block of all 1s with d = 1 dotted
// with one of all 2s with d = 0.5 is 32·1·2·(1·0.5) = 32; a Q4_0 block whose
// nibbles are all 9 (level +1) with d = 2 against activations q = j − 16
// (Σ = −16), d = 1 gives 2·(−16) = −32.
TEST_CASE("vec_dot: hand-derived Q8_0 and Q4_0 blocks on every target") {
  Q8_0::Block a{}, b{};
  a.d = f32_to_f16(1.0f);
  b.d = f32_to_f16(0.5f);
  for (int j = 0; j < 32; ++j) {
    a.qs[j] = 1;
    b.qs[j] = 2;
  }
  Q4_0::Block w{};
  w.d = f32_to_f16(2.0f);
  for (auto& q : w.qs) q = 0x99;
  Q8_0::Block y{};
  y.d = f32_to_f16(1.0f);
  for (int j = 0; j < 32; ++j) y.qs[j] = static_cast<std::int8_t>(j - 16);
  CHECK(vec_dot_kernel<Q8_0>(Isa::kScalar)(32, &a, &b) == 32.0f);
  CHECK(vec_dot_kernel<Q4_0>(Isa::kScalar)(32, &w, &y) == -32.0f);
  eqtest::for_each_isa([&](Isa isa) {
    CHECK(vec_dot_kernel<Q8_0>(isa)(32, &a, &b) == 32.0f);
    CHECK(vec_dot_kernel<Q4_0>(isa)(32, &w, &y) == -32.0f);
  });
}

TEST_CASE("vec_dot: type-erased table covers the ggml weight types") {
  CHECK((ggml_vec_dot(GgmlType::kQ4_K, Isa::kScalar) != nullptr));
  CHECK((ggml_vec_dot(GgmlType::kF32, Isa::kScalar) != nullptr));
  CHECK((ggml_vec_dot(GgmlType::kQ8_K, Isa::kScalar) == nullptr));
  CHECK((ggml_vec_dot(static_cast<GgmlType>(9999), Isa::kScalar) == nullptr));
}

// The SIMD tests above only prove something if the targets really have their
// own kernels: on x86 with SSSE3 and up the five first types must.
TEST_CASE("vec_dot: SIMD kernels are registered for Q4_0, Q8_0, Q4_K, Q6_K, IQ4_XS") {
  int checked = 0;
  eqtest::for_each_isa([&](Isa isa) {
    if (isa == Isa::kScalar || isa == Isa::kEmu128) return;
    CHECK((vec_dot_kernel<Q4_0>(isa) != vec_dot_kernel<Q4_0>(Isa::kScalar)));
    CHECK((vec_dot_kernel<Q8_0>(isa) != vec_dot_kernel<Q8_0>(Isa::kScalar)));
    CHECK((vec_dot_kernel<Q4_K>(isa) != vec_dot_kernel<Q4_K>(Isa::kScalar)));
    CHECK((vec_dot_kernel<Q6_K>(isa) != vec_dot_kernel<Q6_K>(Isa::kScalar)));
    CHECK((vec_dot_kernel<IQ4_XS>(isa) != vec_dot_kernel<IQ4_XS>(Isa::kScalar)));
    ++checked;
  });
  if (checked == 0) MESSAGE("SKIPPED: no SIMD target runnable here");
}
