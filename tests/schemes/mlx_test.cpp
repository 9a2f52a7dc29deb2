// MLX affine and FP modes: bit-exact against MLX's own outputs (golden file
// written by MLX's CPU backend), the hand-derived tables of specs/mlx.md, and
// degenerate groups.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "edgequant/planes.hpp"
#include "schemes/eco_test_util.hpp"

using namespace edgequant;
using eqtest::bits_of;

namespace {

std::vector<std::uint32_t> words(const std::vector<std::uint8_t>& b) {
  std::vector<std::uint32_t> w(b.size() / 4);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) |
           (static_cast<std::uint32_t>(b[4 * i + 3]) << 24);
  }
  return w;
}

template <class S>
QuantizedPlanes quantize_ok(const std::vector<float>& x, std::size_t cols, FloatType t) {
  auto q = quantize_planes<S>(x, cols, PlaneOptions{t, 1});
  REQUIRE_MESSAGE(q, (q ? std::string() : q.error().message()));
  return std::move(*q);
}

std::vector<float> dequantize_ok(const QuantizedPlanes& q) {
  std::vector<float> y(q.rows * q.cols);
  REQUIRE(dequantize_planes(q, y));
  return y;
}

struct GoldenCtx {
  std::map<std::string, eqtest::StTensor> g;
  int rows_ok = 0, rows_total = 0;
};

template <class S>
void check_affine_golden(GoldenCtx& c, const char* dt, FloatType t) {
  const std::string pre =
      std::string(dt) + "." + std::to_string(S::group) + "." + std::to_string(S::bits);
  const auto& w = c.g.at(std::string(dt) + ".w");
  REQUIRE(w.shape == std::vector<std::size_t>{8, 256});
  std::vector<float> x(8 * 256);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = load_float(t, w.bytes.data() + i * float_type_bytes(t));
  const auto q = quantize_ok<S>(x, 256, t);
  const auto y = dequantize_ok(q);
  const auto& wq = c.g.at(pre + ".wq");
  const auto& sc = c.g.at(pre + ".scales");
  const auto& bi = c.g.at(pre + ".biases");
  const auto& dq = c.g.at(pre + ".deq");
  CHECK(wq.shape == std::vector<std::size_t>{q.specs[0].dims[0], q.specs[0].dims[1]});
  const std::size_t tb = float_type_bytes(t);
  for (std::size_t r = 0; r < 8; ++r) {
    const std::size_t a = q.specs[0].row_bytes, b = q.specs[1].row_bytes;
    bool same = std::memcmp(q.data[0].data() + r * a, wq.bytes.data() + r * a, a) == 0 &&
                std::memcmp(q.data[1].data() + r * b, sc.bytes.data() + r * b, b) == 0 &&
                std::memcmp(q.data[2].data() + r * b, bi.bytes.data() + r * b, b) == 0;
    for (std::size_t i = 0; i < 256; ++i) {
      std::uint8_t tmp[4];
      store_float(t, y[r * 256 + i], tmp);
      same = same && std::memcmp(tmp, dq.bytes.data() + (r * 256 + i) * tb, tb) == 0;
    }
    CAPTURE(pre);
    CAPTURE(r);
    CHECK(same);
    c.rows_ok += same;
    ++c.rows_total;
  }
}

template <class S>
void check_fp_golden(GoldenCtx& c, const char* mode, const char* dt, FloatType t) {
  const std::string pre = std::string(mode) + "." + dt;
  const auto& w = c.g.at(std::string(dt) + ".w");
  std::vector<float> x(8 * 256);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = load_float(t, w.bytes.data() + i * float_type_bytes(t));
  const auto q = quantize_ok<S>(x, 256, t);
  const auto y = dequantize_ok(q);
  const auto& wq = c.g.at(pre + ".wq");
  const auto& sc = c.g.at(pre + ".scales");
  const auto& dq = c.g.at(pre + ".deq");
  for (std::size_t r = 0; r < 8; ++r) {
    const std::size_t a = q.specs[0].row_bytes, b = q.specs[1].row_bytes;
    const bool same = std::memcmp(q.data[0].data() + r * a, wq.bytes.data() + r * a, a) == 0 &&
                      std::memcmp(q.data[1].data() + r * b, sc.bytes.data() + r * b, b) == 0 &&
                      std::memcmp(y.data() + r * 256, dq.bytes.data() + r * 256 * 4, 256 * 4) == 0;
    CAPTURE(pre);
    CAPTURE(r);
    CHECK(same);
    c.rows_ok += same;
    ++c.rows_total;
  }
}

template <std::size_t G>
void affine_all_bits(GoldenCtx& c, const char* dt, FloatType t) {
  check_affine_golden<MlxAffine<2, G>>(c, dt, t);
  check_affine_golden<MlxAffine<3, G>>(c, dt, t);
  check_affine_golden<MlxAffine<4, G>>(c, dt, t);
  check_affine_golden<MlxAffine<5, G>>(c, dt, t);
  check_affine_golden<MlxAffine<6, G>>(c, dt, t);
  check_affine_golden<MlxAffine<8, G>>(c, dt, t);
}

}  // namespace

TEST_CASE("mlx: golden data from MLX's CPU backend, bit for bit on every SIMD target") {
  const auto path = eqtest::golden_file("mlx/mlx_quant_cpu.safetensors");
  if (!path) return;
  GoldenCtx c;
  c.g = eqtest::read_safetensors(*path);
  eqtest::for_each_isa([&](Isa) {
    c.rows_ok = c.rows_total = 0;
    const char* dts[3] = {"f32", "f16", "bf16"};
    const FloatType ts[3] = {FloatType::kF32, FloatType::kF16, FloatType::kBF16};
    for (int d = 0; d < 3; ++d) {
      affine_all_bits<32>(c, dts[d], ts[d]);
      affine_all_bits<64>(c, dts[d], ts[d]);
      affine_all_bits<128>(c, dts[d], ts[d]);
    }
    CHECK(c.rows_total == 432);
    CHECK(c.rows_ok == 432);
    c.rows_ok = c.rows_total = 0;
    for (int d : {0, 2}) {
      check_fp_golden<MlxMxfp4>(c, "mxfp4", dts[d], ts[d]);
      check_fp_golden<MlxMxfp8>(c, "mxfp8", dts[d], ts[d]);
      check_fp_golden<MlxNvfp4>(c, "nvfp4", dts[d], ts[d]);
    }
    CHECK(c.rows_total == 48);
    CHECK(c.rows_ok == 48);
  });
}

TEST_CASE("mlx: the ramp table of mlx.md §2.7 in f32, f16 and bf16") {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i - 8) / 4;
  struct Row {
    int bits;
    std::uint32_t f32;
    std::uint16_t f16, bf16;
    std::vector<std::uint32_t> w;
  };
  const std::vector<Row> rows = {
      {2, 0xC0380000u, 0xC1C0, 0xC038, {0x5aaaaabf, 0x00055555}},
      {3, 0xBF933333u, 0xBC9A, 0xBF93, {0x6db76dbf, 0x26db7249, 0x00124a49}},
      {4, 0xBF05D174u, 0xB82F, 0xBF06, {0xbccddeef, 0x8899aabb, 0x44556677, 0x00112233}},
      {5,
       0xBE800000u,
       0xB400,
       0xBE80,
       {0x75be77df, 0x3a56d7c6, 0x35cf8465, 0xc74254b6, 0x00443214}},
      {6,
       0xBDFA8D9Eu,
       0xAFD4,
       0xBDFB,
       {0x77e7bf7f, 0xbb6fc73d, 0x863967a6, 0x1665b75f, 0xa30e4125, 0x00210620}},
      {8,
       0xBCF93A3Eu,
       0xA7CA,
       0xBCF9,
       {0xe6eef7ff, 0xc5cdd6de, 0xa4adb5bd, 0x838c949c, 0x636b737b, 0x424a525a, 0x2129313a,
        0x00081019}},
  };
  const PlaneSchemeInfo* by_bits[9] = {};
  by_bits[2] = &plane_scheme_info<MlxAffine<2, 32>>();
  by_bits[3] = &plane_scheme_info<MlxAffine<3, 32>>();
  by_bits[4] = &plane_scheme_info<MlxAffine<4, 32>>();
  by_bits[5] = &plane_scheme_info<MlxAffine<5, 32>>();
  by_bits[6] = &plane_scheme_info<MlxAffine<6, 32>>();
  by_bits[8] = &plane_scheme_info<MlxAffine<8, 32>>();
  for (const auto& r : rows) {
    CAPTURE(r.bits);
    for (FloatType t : {FloatType::kF32, FloatType::kF16, FloatType::kBF16}) {
      auto q = quantize_planes(*by_bits[r.bits], x, 32, PlaneOptions{t, 1});
      REQUIRE(q);
      CHECK(words(q->data[0]) == r.w);
      const std::uint8_t* s = q->data[1].data();
      const std::uint8_t* b = q->data[2].data();
      if (t == FloatType::kF32) {
        CHECK((s[0] | s[1] << 8 | s[2] << 16 | static_cast<std::uint32_t>(s[3]) << 24) == r.f32);
        CHECK(bits_of(load_float(t, b)) == 0x40B80000u);
      } else {
        CHECK((s[0] | s[1] << 8) == (t == FloatType::kF16 ? r.f16 : r.bf16));
        CHECK((b[0] | b[1] << 8) == (t == FloatType::kF16 ? 0x45C0 : 0x40B8));
      }
    }
  }
  // 5-bit: scale -0.25 exactly, so dequantization is exact.
  auto q5 = quantize_planes<MlxAffine<5, 32>>(x, 32);
  REQUIRE(q5);
  CHECK(dequantize_ok(*q5) == x);
  // The 4-bit codes of the spec.
  auto q4 = quantize_planes<MlxAffine<4, 32>>(x, 32);
  REQUIRE(q4);
  std::uint8_t codes[32];
  unpack_bits(q4->data[0].data(), 32, 4, codes);
  const int want[32] = {15, 14, 14, 13, 13, 12, 12, 11, 11, 11, 10, 10, 9, 9, 8, 8,
                        7,  7,  6,  6,  5,  5,  4,  4,  3,  3,  2,  2,  1, 1, 0, 0};
  for (int i = 0; i < 32; ++i) CHECK(codes[i] == want[i]);
}

TEST_CASE("mlx: CPU and Metal arithmetic differ as mlx.md §2.4 derives") {
  std::vector<float> neg(32), ties(32);
  for (int i = 0; i < 32; ++i) {
    neg[static_cast<std::size_t>(i)] = -1.0f - static_cast<float>(i) / 31;
    ties[static_cast<std::size_t>(i)] = static_cast<float>(i % 31) * 0.5f;
  }
  auto cpu_n = quantize_planes<MlxAffine<4, 32>>(neg, 32);
  auto mtl_n = quantize_planes<MlxAffine<4, 32, MlxBackend::kMetal>>(neg, 32);
  auto cpu_t = quantize_planes<MlxAffine<4, 32>>(ties, 32);
  auto mtl_t = quantize_planes<MlxAffine<4, 32, MlxBackend::kMetal>>(ties, 32);
  REQUIRE((cpu_n && mtl_n && cpu_t && mtl_t));
  CHECK(words(cpu_n->data[0]) ==
        std::vector<std::uint32_t>{0xccddeeff, 0x8899aabb, 0x44556677, 0x00112233});
  CHECK(words(mtl_n->data[0]) ==
        std::vector<std::uint32_t>{0x66677777, 0x44455556, 0x22233334, 0x00011112});
  CHECK(words(cpu_t->data[0]) ==
        std::vector<std::uint32_t>{0xcccdeeef, 0x8889aaab, 0x44456667, 0xf0012223});
  CHECK(words(mtl_t->data[0]) ==
        std::vector<std::uint32_t>{0xccddeeff, 0x8899aabb, 0x44556677, 0xf0112233});
  CHECK(bits_of(load_float(FloatType::kF32, cpu_n->data[1].data())) == 0x3D888889u);
  CHECK(load_float(FloatType::kF32, mtl_n->data[1].data()) == doctest::Approx(0.13333334f));
  CHECK(load_float(FloatType::kF32, cpu_n->data[2].data()) == -2.0f);
  CHECK(load_float(FloatType::kF32, cpu_t->data[1].data()) == -1.0f);
  CHECK(load_float(FloatType::kF32, cpu_t->data[2].data()) == 15.0f);
}

TEST_CASE("mlx: degenerate groups (zeros, constants, tiny values near eps)") {
  std::vector<float> x(4 * 32, 0.0f);
  for (std::size_t i = 32; i < 64; ++i) x[i] = 0.7f;
  for (std::size_t i = 64; i < 96; ++i) x[i] = -3.25f;
  for (std::size_t i = 96; i < 128; ++i) x[i] = (i % 2 ? 1e-9f : -2e-9f);
  auto q = quantize_planes<MlxAffine<4, 32>>(x, 32);
  REQUIRE(q);
  const auto y = dequantize_ok(*q);
  // Zeros: scale = -eps exactly, bias 0, all codes 0.
  CHECK(bits_of(load_float(FloatType::kF32, q->data[1].data())) == 0xB3D6BF95u);
  CHECK(load_float(FloatType::kF32, q->data[2].data()) == 0.0f);
  for (int i = 0; i < 16; ++i) CHECK(q->data[0][static_cast<std::size_t>(i)] == 0);
  // Constants: bias = c and every value decodes to c exactly.
  CHECK(load_float(FloatType::kF32, q->data[2].data() + 4) == 0.7f);
  CHECK(load_float(FloatType::kF32, q->data[2].data() + 8) == -3.25f);
  for (std::size_t i = 32; i < 96; ++i) CHECK(y[i] == x[i]);
  // Tiny group: the q0 == 0 branch, bias 0, |scale| = eps.
  CHECK(load_float(FloatType::kF32, q->data[2].data() + 12) == 0.0f);
  CHECK(std::fabs(load_float(FloatType::kF32, q->data[1].data() + 12)) == mlx::kEps);
}

TEST_CASE("mlx: FP modes on the hand examples of mlx.md §3.3") {
  const float pat[16] = {0.25f, 0.75f,  1.25f,  1.75f, 2.5f, 3.5f, 5.0f,  6.0f,
                         -0.1f, -0.25f, -0.75f, -2.5f, 7.0f, 0.0f, -0.0f, 1.0f};
  std::vector<float> x(32);
  for (std::size_t i = 0; i < 32; ++i) x[i] = pat[i % 16];
  for (FloatType t : {FloatType::kF32, FloatType::kBF16}) {
    auto m4 = quantize_planes<MlxMxfp4>(x, 32, PlaneOptions{t, 1});
    auto m8 = quantize_planes<MlxMxfp8>(x, 32, PlaneOptions{t, 1});
    auto n4 = quantize_planes<MlxNvfp4>(x, 32, PlaneOptions{t, 1});
    REQUIRE((m4 && m8 && n4));
    CHECK(m4->data[1] == std::vector<std::uint8_t>{0x7F});
    CHECK(words(m4->data[0]) ==
          std::vector<std::uint32_t>{0x76543210, 0x2007c900, 0x76543210, 0x2007c900});
    CHECK(m8->data[1] == std::vector<std::uint8_t>{0x79});
    CHECK(words(m8->data[0]) == std::vector<std::uint32_t>{0x6e6a6458, 0x7c7a7672, 0xf2e4d8cd,
                                                           0x6880007e, 0x6e6a6458, 0x7c7a7672,
                                                           0xf2e4d8cd, 0x6880007e});
    CHECK(n4->data[1] == std::vector<std::uint8_t>{0x39, 0x39});
    CHECK(words(n4->data[0]) == words(m4->data[0]));
  }
  // nvfp4 without a global scale on ((i mod 16) - 5) * 0.3.
  std::vector<float> r(32);
  for (std::size_t i = 0; i < 32; ++i)
    r[i] = static_cast<float>(static_cast<int>(i % 16) - 5) * 0.3f;
  auto nv = quantize_planes<MlxNvfp4>(r, 32);
  REQUIRE(nv);
  CHECK(nv->data[1] == std::vector<std::uint8_t>{0x30, 0x30});
  CHECK(words(nv->data[0]) ==
        std::vector<std::uint32_t>{0x2109accd, 0x77666544, 0x2109accd, 0x77666544});
  // mxfp4 of the pattern x4: scale byte 0x81 (= 4); dequantization from §3.5.
  std::vector<float> x4(32);
  for (std::size_t i = 0; i < 32; ++i) x4[i] = 4 * x[i];
  auto q = quantize_planes<MlxMxfp4>(x4, 32);
  REQUIRE(q);
  CHECK(q->data[1] == std::vector<std::uint8_t>{0x81});
  const auto y = dequantize_ok(*q);
  const float want[16] = {0, 2, 4, 6, 8, 12, 16, 24, 0, 0, -2, -8, 24, 0, 0, 4};
  for (std::size_t i = 0; i < 32; ++i) CHECK(y[i] == want[i % 16]);
}

TEST_CASE("mlx: to_fp8 / from_fp8 saturate and decode like MLX (mlx.md §3.1)") {
  for (float v : {447.0f, 448.0f, 460.0f, 1e9f, std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN()}) {
    CAPTURE(v);
    CHECK(mlx::to_fp8(v) == 0x7E);
  }
  CHECK(mlx::to_fp8(-std::numeric_limits<float>::quiet_NaN()) == 0xFE);
  CHECK(mlx::to_fp8(std::ldexp(1.0f, -9)) == 0x01);
  CHECK(mlx::to_fp8(std::ldexp(1.0f, -10)) == 0x00);
  CHECK(mlx::from_fp8(0x7F) == 480.0f);
  CHECK(mlx::from_fp8(0xFF) == -480.0f);
  CHECK(mlx::e8m0_value(0) == std::ldexp(1.0f, -127));
  CHECK(std::isinf(mlx::e8m0_value(0xFF)));
}

TEST_CASE("mlx: properties — error bound and packing bijection") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> x(16 * 128);
  for (auto& v : x) v = nd(rng);
  auto check = [&]<class S>() {
    auto q = quantize_planes<S>(x, 128);
    REQUIRE(q);
    const auto y = dequantize_ok(*q);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t g = i / S::group;
      const float s = std::fabs(load_float(FloatType::kF32, q->data[1].data() + 4 * g));
      // MLX's own test bound: one step (the far end may clamp past s/2).
      REQUIRE(std::fabs(y[i] - x[i]) <= s * (1 + 1e-5f));
    }
  };
  check.template operator()<MlxAffine<2, 32>>();
  check.template operator()<MlxAffine<3, 64>>();
  check.template operator()<MlxAffine<4, 128>>();
  check.template operator()<MlxAffine<5, 32>>();
  check.template operator()<MlxAffine<6, 64>>();
  check.template operator()<MlxAffine<8, 128>>();
  // Every bit width: pack then unpack at odd offsets is the identity.
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    std::vector<std::uint8_t> codes(77), back(77), packed(80);
    for (std::size_t i = 0; i < codes.size(); ++i)
      codes[i] = static_cast<std::uint8_t>(rng() & ((1u << bits) - 1));
    pack_bits(codes.data(), codes.size(), bits, packed.data());
    unpack_bits(packed.data(), codes.size(), bits, back.data());
    CHECK(back == codes);
  }
}
