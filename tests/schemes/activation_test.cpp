// Activation quantizers of the CPU dot products (Q8_0, Q8_1, Q8_K; specs §5):
// golden `<T>.act.q` made by ggml's x86 backend, the weight references of
// Q8_1/Q8_K against the same files, hand-derived ties and edge blocks, every
// SIMD target against the scalar reference, and argument errors.
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

struct GoldenAct {
  std::size_t rows = 0, cols = 0;
  std::vector<float> input;
};

// input.f32 and its row length from the golden `cols` file.
const GoldenAct* golden_input() {
  static const GoldenAct g = [] {
    GoldenAct r;
    auto cp = eqtest::golden_file("cols");
    auto ip = eqtest::golden_file("input.f32");
    if (!cp || !ip) return r;
    const auto c = eqtest::read_file<char>(*cp);
    r.cols = std::stoul(std::string(c.begin(), c.end()));
    r.input = eqtest::read_file<float>(*ip);
    r.rows = r.cols ? r.input.size() / r.cols : 0;
    return r;
  }();
  return g.rows ? &g : nullptr;
}

template <class S>
std::vector<std::uint8_t> as_bytes(const std::vector<typename S::Block>& b) {
  std::vector<std::uint8_t> out(b.size() * sizeof(typename S::Block));
  std::memcpy(out.data(), b.data(), out.size());
  return out;
}

// Rows of `got` equal to `want` (row_bytes each); MESSAGEs the first mismatch.
std::size_t equal_rows(const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want,
                       std::size_t row_bytes, std::vector<std::size_t>* bad = nullptr) {
  std::size_t ok = 0;
  for (std::size_t r = 0; r * row_bytes < want.size(); ++r) {
    if (std::memcmp(got.data() + r * row_bytes, want.data() + r * row_bytes, row_bytes) == 0) {
      ++ok;
    } else {
      if (!bad || bad->empty()) MESSAGE("first differing row: " << r);
      if (bad) bad->push_back(r);
    }
  }
  return ok;
}

template <class S>
std::vector<std::uint8_t> activation_bytes(const std::vector<float>& x) {
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  const auto st = quantize_activation<S>(x, q);
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message()));
  return as_bytes<S>(q);
}

template <class S>
std::vector<std::uint8_t> weight_bytes(const std::vector<float>& x, std::size_t cols) {
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  const auto st = quantize<S>(x, cols, q);
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message()));
  return as_bytes<S>(q);
}

template <class S>
void check_activation_golden(const char* file) {
  const GoldenAct* g = golden_input();
  if (!g) return;
  auto path = eqtest::golden_file(file);
  if (!path) return;
  const auto want = eqtest::read_file(*path);
  const std::size_t row_bytes = g->cols / S::block_elems * S::block_bytes;
  REQUIRE(want.size() == g->rows * row_bytes);
  eqtest::for_each_isa([&](Isa isa) {
    const auto got = activation_bytes<S>(g->input);
    const std::size_t ok = equal_rows(got, want, row_bytes);
    MESSAGE(std::string(file) << ": " << ok << "/" << g->rows << " rows byte-exact");
    CHECK(ok == g->rows);
    // The raw pointer the GEMV loop uses and the type-erased API agree.
    std::vector<std::uint8_t> raw(want.size());
    ggml_activation_quantizer(S::ggml_type, isa)(g->input.data(), raw.data(), g->input.size());
    CHECK(raw == got);
    std::vector<std::byte> erased(want.size());
    REQUIRE(quantize_activation(S::ggml_type, g->input, erased));
    CHECK(std::memcmp(erased.data(), got.data(), got.size()) == 0);
  });
}

}  // namespace

TEST_CASE("activation golden: Q8_0.act.q, Q8_1.act.q, Q8_K.act.q") {
  check_activation_golden<Q8_0>("Q8_0.act.q");
  check_activation_golden<Q8_1>("Q8_1.act.q");
  check_activation_golden<Q8_K>("Q8_K.act.q");
}

TEST_CASE("activation golden: Q8_1 rows 40 and 45 carry s = ±Inf as ggml does") {
  const GoldenAct* g = golden_input();
  if (!g || g->rows <= 45) return;
  const std::size_t nb = g->cols / 32;
  std::vector<Q8_1::Block> q(g->input.size() / 32);
  REQUIRE(quantize_activation<Q8_1>(g->input, q));
  for (std::size_t r : {40u, 45u}) {
    std::size_t inf = 0;
    for (std::size_t b = 0; b < nb; ++b) inf += (q[r * nb + b].s & 0x7fffu) == 0x7c00u;
    CAPTURE(r);
    CHECK(inf > 0);
  }
}

TEST_CASE("weight references of Q8_1 and Q8_K against the activation golden files") {
  const GoldenAct* g = golden_input();
  if (!g) return;
  auto act1 = eqtest::golden_file("Q8_1.act.q");
  auto act0 = eqtest::golden_file("Q8_0.act.q");
  auto ref0 = eqtest::golden_file("Q8_0.q");
  auto actk = eqtest::golden_file("Q8_K.act.q");
  if (!act1 || !act0 || !ref0 || !actk) return;
  const auto want1 = eqtest::read_file(*act1);
  const auto want0_act = eqtest::read_file(*act0);
  const auto want0_ref = eqtest::read_file(*ref0);
  const std::size_t nb = g->cols / 32;

  // The golden README: the x86 activation path and the reference differ only
  // in the exact-tie blocks (half to even vs half away from zero).
  std::vector<std::size_t> differing0;
  equal_rows(want0_act, want0_ref, nb * 34, &differing0);
  MESSAGE("Q8_0.act.q vs Q8_0.q: rows that differ: " << differing0.size());

  eqtest::for_each_isa([&](Isa) {
    const auto got = weight_bytes<Q8_1>(g->input, g->cols);
    std::vector<std::size_t> bad;
    const std::size_t ok = equal_rows(got, want1, nb * 36, &bad);
    MESSAGE("Q8_1 reference vs Q8_1.act.q: " << ok << "/" << g->rows << " rows equal");
    // Exactly the rows where the two rounding rules differ for Q8_0.
    CHECK(bad == differing0);
    // There d and qs are those of the Q8_0 reference (Q8_0.q), and
    // s = fp16(d * Σq) with d = amax/127 unrounded (§4.7).
    for (std::size_t r : bad) {
      for (std::size_t b = 0; b < nb; ++b) {
        const std::uint8_t* q1 = got.data() + (r * nb + b) * 36;
        const std::uint8_t* q0 = want0_ref.data() + (r * nb + b) * 34;
        CAPTURE(r);
        CAPTURE(b);
        REQUIRE(std::memcmp(q1, q0, 2) == 0);
        REQUIRE(std::memcmp(q1 + 4, q0 + 2, 32) == 0);
        float amax = 0;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
          amax = std::max(amax, std::fabs(g->input[r * g->cols + b * 32 + j]));
          sum += static_cast<std::int8_t>(q0[2 + j]);
        }
        const f16_bits s = f32_to_f16(amax / 127 * static_cast<float>(sum));
        REQUIRE(std::memcmp(q1 + 2, &s, 2) == 0);
      }
    }
    // Q8_K: the reference is the activation quantizer (README: identical).
    const auto gotk = weight_bytes<Q8_K>(g->input, g->cols);
    CHECK(gotk == eqtest::read_file(*actk));
  });
}

TEST_CASE("activation quantizers: hand-derived ties, signs and zero blocks") {
  // amax 127 => d = 1, id = 127/127 = 1: x/d is the value itself, ties at .5.
  std::vector<float> x(32, 0.0f);
  const float vals[] = {127.f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.25f, -3.75f};
  for (std::size_t i = 0; i < std::size(vals); ++i) x[i] = vals[i];
  const int even[] = {127, 0, 2, 2, 0, -2, -2, 3, -4};   // half to even (x86 backend)
  const int away[] = {127, 1, 2, 3, -1, -2, -3, 3, -4};  // roundf (reference)
  eqtest::for_each_isa([&](Isa) {
    std::vector<Q8_0::Block> a(1), w(1);
    REQUIRE(quantize_activation<Q8_0>(x, a));
    REQUIRE(quantize<Q8_0>(x, 32, w));
    CHECK(a[0].d == 0x3C00);  // fp16(1.0)
    CHECK(w[0].d == 0x3C00);
    int sum_even = 0, sum_away = 0;
    for (std::size_t i = 0; i < std::size(vals); ++i) {
      CAPTURE(i);
      CHECK(a[0].qs[i] == even[i]);
      CHECK(w[0].qs[i] == away[i]);
      sum_even += even[i];
      sum_away += away[i];
    }
    std::vector<Q8_1::Block> a1(1), w1(1);
    REQUIRE(quantize_activation<Q8_1>(x, a1));
    REQUIRE(quantize<Q8_1>(x, 32, w1));
    CHECK(std::memcmp(a1[0].qs, a[0].qs, 32) == 0);
    CHECK(std::memcmp(w1[0].qs, w[0].qs, 32) == 0);
    CHECK(f16_to_f32(a1[0].s) == static_cast<float>(sum_even));  // d = 1: s = Σq
    CHECK(f16_to_f32(w1[0].s) == static_cast<float>(sum_away));

    // Q8_K: the first element of largest |x| fixes the sign of d.
    std::vector<float> k(256, 0.0f);
    k[3] = -2.0f;
    k[9] = 2.0f;
    k[100] = 1.0f;
    k[255] = -0.5f;
    std::vector<Q8_K::Block> qk(1);
    REQUIRE(quantize_activation<Q8_K>(k, qk));
    CHECK(qk[0].d == 1.0f / 63.5f);  // iscale = -127 / -2
    CHECK(qk[0].qs[3] == -127);
    CHECK(qk[0].qs[9] == 127);
    CHECK(qk[0].qs[100] == 64);   // 63.5 -> 64 (half to even)
    CHECK(qk[0].qs[255] == -32);  // -31.75
    CHECK(qk[0].bsums[0] == 0);   // -127 + 127
    CHECK(qk[0].bsums[6] == 64);
    CHECK(qk[0].bsums[15] == -32);
    k[3] = 2.0f;  // now +2 comes first: d negative, signs flip
    REQUIRE(quantize_activation<Q8_K>(k, qk));
    CHECK(qk[0].d == -1.0f / 63.5f);
    CHECK(qk[0].qs[3] == -127);
    CHECK(qk[0].qs[9] == -127);
    CHECK(qk[0].qs[100] == -64);

    // All-zero blocks: d = 0, levels and sums 0.
    std::vector<float> z(256, 0.0f);
    REQUIRE(quantize_activation<Q8_K>(z, qk));
    CHECK(qk[0].d == 0.0f);
    for (int i = 0; i < 16; ++i) CHECK(qk[0].bsums[i] == 0);
    std::vector<Q8_1::Block> z1(8);
    REQUIRE(quantize_activation<Q8_1>(z, z1));
    for (const auto& b : z1) {
      CHECK(b.d == 0);
      CHECK(b.s == 0);
      for (auto q : b.qs) CHECK(q == 0);
    }
  });
}

TEST_CASE("activation quantizers: blocks so small that 1/amax overflows behave as ggml on x86") {
  // |x| below 2^-125: id = 127/amax is Inf. ggml's AVX path converts Inf/NaN
  // with cvtps2dq (0x80000000) and packs it: every level -128, Σ wraps to 0;
  // Q8_K's bit-level nearest_int gives levels 0 and d = 1/-Inf = -0. (Checked
  // against libggml-cpu in ggml_peer_test.cpp when node-llama-cpp is present.)
  std::vector<float> x(256);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(int(i % 32) - 10) * 1e-40f;
  eqtest::for_each_isa([&](Isa) {
    std::vector<Q8_1::Block> q1(8);
    REQUIRE(quantize_activation<Q8_1>(x, q1));
    for (const auto& b : q1) {
      CHECK(b.s == 0);
      for (auto q : b.qs) CHECK(q == -128);
    }
    std::vector<Q8_K::Block> qk(1);
    REQUIRE(quantize_activation<Q8_K>(x, qk));
    CHECK(std::signbit(qk[0].d));
    CHECK(qk[0].d == 0.0f);
    for (auto q : qk[0].qs) CHECK(q == 0);
  });
}

TEST_CASE("activation quantizers: every SIMD target gives the scalar bytes") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> x;
  for (int r = 0; r < 24; ++r) {
    const float scale = std::pow(10.0f, static_cast<float>(r % 8) - 4.0f);
    for (int i = 0; i < 1024; ++i) x.push_back(nd(rng) * scale);
  }
  // Exact ties: multiples of amax/254 with amax = 127 * s.
  for (int i = 0; i < 1024; ++i) {
    const int k = static_cast<int>(rng() % 254) - 127;  // |k + 0.5| < 127
    x.push_back((i % 32 == 0 ? 127.0f : static_cast<float>(k) + 0.5f) * 0.25f);
  }
  for (int i = 0; i < 1024; ++i) x.push_back(i % 3 == 0 ? -0.0f : 0.0f);
  std::vector<std::uint8_t> ref0, ref1, refk;
  {
    ScopedIsa scalar(Isa::kScalar);
    ref0 = activation_bytes<Q8_0>(x);
    ref1 = activation_bytes<Q8_1>(x);
    refk = activation_bytes<Q8_K>(x);
  }
  eqtest::for_each_isa([&](Isa) {
    CHECK(activation_bytes<Q8_0>(x) == ref0);
    CHECK(activation_bytes<Q8_1>(x) == ref1);
    CHECK(activation_bytes<Q8_K>(x) == refk);
  });
}

TEST_CASE("activation quantizers: argument errors") {
  std::vector<float> x(256, 1.0f);
  std::vector<Q8_K::Block> k(1);
  std::vector<float> odd(250, 1.0f);
  auto st = quantize_activation<Q8_K>(odd, k);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kBadArgument);
  CHECK(st.error().what.find("block size 256") != std::string::npos);
  std::vector<Q8_0::Block> small(7);
  st = quantize_activation<Q8_0>(x, small);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kBadArgument);
  x[77] = std::numeric_limits<float>::quiet_NaN();
  st = quantize_activation<Q8_K>(x, k);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kNonFinite);
  CHECK(st.error().offset == 77);
  CHECK(st.error().what.find("NaN") != std::string::npos);
  std::vector<std::byte> buf(1024);
  st = quantize_activation(GgmlType::kQ4_0, std::span<const float>(x).first(32),
                           std::span<std::byte>(buf).first(18));
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kUnsupported);
  st = quantize_activation(static_cast<GgmlType>(4), x, buf);  // removed id
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kUnsupported);
  st = quantize_activation(static_cast<GgmlType>(999), x, buf);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kUnsupported);
  for (GgmlType t : {GgmlType::kQ8_0, GgmlType::kQ8_1, GgmlType::kQ8_K}) {
    for (std::size_t i = 0; i < kIsaCount; ++i)
      CHECK((ggml_activation_quantizer(t, Isa(i)) != nullptr));
  }
  CHECK((ggml_activation_quantizer(GgmlType::kQ4_K) == nullptr));
  // Every weight type's vec_dot type that is quantized has an activation quantizer.
  GgmlSchemes::for_each([]<class S>() {
    const GgmlType vd = ggml_type_info(S::ggml_type).vec_dot_type;
    if (ggml_type_info(vd).quantized) {
      CAPTURE(S::name);
      CHECK((ggml_activation_quantizer(vd) != nullptr));
    }
  });
}
