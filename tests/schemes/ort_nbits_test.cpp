// ONNX Runtime MatMulNBits: hand-derived vectors for ORT's RTN arithmetic
// (specs/onnx.md §6.4) and onnxruntime itself running MatMulNBits on our
// B / scales / zero_points.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgequant/planes.hpp"
#include "schemes/eco_test_util.hpp"

using namespace edgequant;

namespace {

template <class S>
QuantizedPlanes q_ok(const std::vector<float>& x, std::size_t k, FloatType t = FloatType::kF32) {
  auto q = quantize_planes<S>(x, k, PlaneOptions{t, 1});
  REQUIRE_MESSAGE(q, (q ? std::string() : q.error().message()));
  return std::move(*q);
}

std::vector<float> dq(const QuantizedPlanes& q) {
  std::vector<float> y(q.rows * q.cols);
  REQUIRE(dequantize_planes(q, y));
  return y;
}

float f32_at(const std::vector<std::uint8_t>& b, std::size_t i) {
  return load_float(FloatType::kF32, b.data() + 4 * i);
}

// Block 0 of the symmetric example: m = 8 (positive) -> scale -1, r = -1,
// q = roundf(8 - v): half away from zero (0.5 -> 8, -0.5 -> 9).
const std::vector<float> kSym = {8, -7, 0.5f, -0.5f, 1.5f,  -1.5f,  2.5f, 0,
                                 3, -3, 7.5f, -7.5f, 0.25f, -0.25f, 4,    -6};
const std::vector<std::uint8_t> kSymB = {0xF0, 0x98, 0xA7, 0x86, 0xB5, 0xF1, 0x88, 0xE4};

}  // namespace

TEST_CASE("ort nbits: symmetric 4-bit, -max/8 scale, reciprocal, half away from zero") {
  const auto q = q_ok<OrtNBits<4, 16, true>>(kSym, 16);
  CHECK(q.data[0] == kSymB);
  CHECK(f32_at(q.data[1], 0) == -1.0f);
  CHECK(q.data[2].empty());  // no zero_points input when symmetric
  const std::vector<float> want = {8, -7, 0, -1, 1, -2, 2, 0, 3, -3, 7, -7, 0, 0, 4, -6};
  CHECK(dq(q) == want);
  CHECK(q.specs[0].dims == std::array<std::size_t, 3>{1, 1, 8});
  CHECK(q.specs[1].rank == 1);
  CHECK(q.specs[1].dims[0] == 1);
}

TEST_CASE("ort nbits: asymmetric 4-bit, range widened to 0, zp added before rounding") {
  // min -1.25, max 2.5: scale 0.25, zp 5, r = 4; ties round away from zero
  // (-0.125 -> 4.5 -> 5; numpy's half-even would give 4).
  const std::vector<float> x = {-1.25f, 2.5f,   0,       1.0f,  0.125f, -0.125f, 0.375f, -0.375f,
                                0.625f, 2.375f, -1.125f, 0.25f, -0.25f, 1.5f,    -1.0f,  2.0f};
  const auto q = q_ok<OrtNBits<4, 16, false>>(x, 16);
  CHECK(q.data[0] == std::vector<std::uint8_t>{0xF0, 0x95, 0x56, 0x47, 0xF8, 0x61, 0xB4, 0xD1});
  CHECK(f32_at(q.data[1], 0) == 0.25f);
  CHECK(q.data[2] == std::vector<std::uint8_t>{0x85});  // zp 5, padding nibble 8
  const auto y = dq(q);
  const int codes[16] = {0, 15, 5, 9, 6, 5, 7, 4, 8, 15, 1, 6, 4, 11, 1, 13};
  for (int i = 0; i < 16; ++i) CHECK(y[static_cast<std::size_t>(i)] == (codes[i] - 5) * 0.25f);
  // An all-positive block: the range still starts at 0, so zp = 0.
  std::vector<float> pos(16);
  for (int i = 0; i < 16; ++i)
    pos[static_cast<std::size_t>(i)] = 1.0f + static_cast<float>(i) * 0.2f;
  const auto qp = q_ok<OrtNBits<4, 16, false>>(pos, 16);
  CHECK((qp.data[2][0] & 15) == 0);
  CHECK(f32_at(qp.data[1], 0) == 4.0f / 15);
}

TEST_CASE("ort nbits: degenerate blocks — zeros, constants, ties between |max| and |min|") {
  // All zeros: symmetric scale = -first/8 (sign of the first zero), codes 8,
  // dequantized -0 * 0 keeps ORT's signs; asymmetric: scale 0, zp 0, codes 0.
  std::vector<float> z(32, 0.0f);
  z[16] = -0.0f;
  const auto qs = q_ok<OrtNBits<4, 16, true>>(z, 32);
  CHECK(eqtest::bits_of(f32_at(qs.data[1], 0)) == 0x80000000u);
  CHECK(eqtest::bits_of(f32_at(qs.data[1], 1)) == 0x00000000u);
  for (std::size_t i = 0; i < 16; ++i) CHECK(qs.data[0][i] == 0x88);
  const auto ys = dq(qs);
  CHECK(std::signbit(ys[0]));
  CHECK(!std::signbit(ys[16]));
  const auto qa = q_ok<OrtNBits<4, 16, false>>(z, 32);
  CHECK(f32_at(qa.data[1], 0) == 0.0f);
  CHECK(qa.data[2] == std::vector<std::uint8_t>{0x00});
  for (std::size_t i = 0; i < 16; ++i) CHECK(qa.data[0][i] == 0x00);
  // A positive constant c: scale -c/8 maps it to code 0 and back exactly
  // (NNCF's INT4_SYM reconstructs 0.875c instead; see nncf_test).
  std::vector<float> c(16, 3.0f);
  const auto qc = q_ok<OrtNBits<4, 16, true>>(c, 16);
  CHECK(f32_at(qc.data[1], 0) == -0.375f);
  for (float v : dq(qc)) CHECK(v == 3.0f);
  // |max| == |min|: the min side wins, so +4 clamps to 15 and decodes 3.5.
  std::vector<float> tie(16, 0.0f);
  tie[0] = 4.0f;
  tie[1] = -4.0f;
  const auto qt = q_ok<OrtNBits<4, 16, true>>(tie, 16);
  CHECK(f32_at(qt.data[1], 0) == 0.5f);
  const auto yt = dq(qt);
  CHECK(yt[0] == 3.5f);
  CHECK(yt[1] == -4.0f);
  // Negative-dominant block: m = min, scale positive.
  std::vector<float> neg = {-4, 3, -1, 0, 0.25f, -0.25f, 1, 2, -3, -2, 0, 0, 0, 0, 0, 0};
  const auto qn = q_ok<OrtNBits<4, 16, true>>(neg, 16);
  CHECK(f32_at(qn.data[1], 0) == 0.5f);
  CHECK((qn.data[0][0] & 15) == 0);   // -4 -> 0
  CHECK((qn.data[0][0] >> 4) == 14);  // 3 -> roundf(6 + 8)
  CHECK((qn.data[0][2] & 15) == 9);   // 0.25 -> roundf(8.5) = 9
  CHECK((qn.data[0][2] >> 4) == 8);   // -0.25 -> roundf(7.5) = 8
  // Near-denormal block: 1/scale overflows; v * Inf and 0 * Inf (NaN) give
  // clamped codes without UB.
  std::vector<float> tiny(16, 0.0f);
  tiny[0] = 1e-39f;
  tiny[1] = -5e-40f;
  const auto qd = q_ok<OrtNBits<4, 16, true>>(tiny, 16);
  CHECK((qd.data[0][0] & 15) == 0);
  CHECK((qd.data[0][0] >> 4) == 15);
  CHECK(qd.data[0][1] == 0);  // NaN -> 0
}

TEST_CASE("ort nbits: f16 weights — codes use the scale after rounding to f16") {
  // min -1, max 2: scale_f = 0.2f, stored f16 0x3266 (0.19995117); zp 5 from
  // scale_f. 1.2998046875 * (1/0.2f = 5.0) + 5 = 11.499 -> 11, but with the
  // f16 scale 1/0.19995117 = 5.00122 -> 11.5006 -> 12.
  std::vector<float> x(16, 0.0f);
  x[0] = -1.0f;
  x[1] = 2.0f;
  x[2] = 1.2998046875f;
  const auto q32 = q_ok<OrtNBits<4, 16, false>>(x, 16, FloatType::kF32);
  const auto q16 = q_ok<OrtNBits<4, 16, false>>(x, 16, FloatType::kF16);
  CHECK((q32.data[0][1] & 15) == 11);
  CHECK((q16.data[0][1] & 15) == 12);
  CHECK((q16.data[1][0] | q16.data[1][1] << 8) == 0x3266);
  CHECK((q16.data[2][0] & 15) == 5);
  CHECK((q32.data[2][0] & 15) == 5);
}

TEST_CASE("ort nbits: partial last block, ORT's stale tail nibble, zero-point padding") {
  // K = 17: block 1 holds one value; the high nibble of its byte keeps the
  // previous pair's lane (q[15] = 14) because both pairs belong to ORT's
  // 32-row thread block; the rest of the blob stays 0.
  std::vector<float> x = kSym;
  x.push_back(2.0f);
  const auto q = q_ok<OrtNBits<4, 16, true>>(x, 17);
  REQUIRE(q.data[0].size() == 16);
  CHECK(std::vector<std::uint8_t>(q.data[0].begin(), q.data[0].begin() + 8) == kSymB);
  CHECK(q.data[0][8] == 0xE0);
  for (std::size_t i = 9; i < 16; ++i) CHECK(q.data[0][i] == 0);
  CHECK(f32_at(q.data[1], 1) == -0.25f);
  CHECK(dq(q)[16] == 2.0f);
  // K = 33: the last pair opens a new thread block, so its high nibble is 0.
  std::vector<float> x33(33, 0.5f);
  x33[16] = 7.0f;  // block 1: r = -8/7, q[31] = roundf(7.43) = 7 would leak in
  x33[32] = 2.0f;
  const auto q33 = q_ok<OrtNBits<4, 16, true>>(x33, 33);
  CHECK(q33.data[0][16] == 0x00);
  // 2-bit, K = 18: lanes 2 and 3 of the last byte are q[14], q[15].
  std::vector<float> x2(18, 0.0f);
  x2[0] = 2.0f;    // block 0: m = 2, scale -1, r = -1, q = roundf(2 - v)
  x2[14] = 1.0f;   // q 1
  x2[15] = -1.0f;  // q 3
  x2[16] = 1.0f;   // block 1: q 0
  x2[17] = -0.5f;  // roundf(-0.5 * -2 + 2) = 3
  const auto q2 = q_ok<OrtNBits<2, 16, true>>(x2, 18);
  CHECK(q2.data[0][4] == (0 | 3 << 2 | 1 << 4 | 3 << 6));
  // Asymmetric zero points: 3 blocks -> 2 bytes per row, padding nibble 8.
  std::vector<float> x3(2 * 48);
  for (std::size_t i = 0; i < x3.size(); ++i)
    x3[i] = static_cast<float>(i % 48) - 10.0f * static_cast<float>(i / 16 % 3);
  const auto q3 = q_ok<OrtNBits<4, 16, false>>(x3, 48);
  REQUIRE(q3.data[2].size() == 4);
  CHECK((q3.data[2][1] >> 4) == 8);
  CHECK((q3.data[2][3] >> 4) == 8);
}

TEST_CASE("ort nbits: 8-bit zero points above 127 stay unsigned") {
  // min -10, max 1: scale 11/255, zp = roundf(231.8) = 232. Zero encodes as
  // 232 exactly, and the ends map to 0 and 255.
  std::vector<float> x(16, 0.0f);
  x[0] = -10.0f;
  x[1] = 1.0f;
  const auto q = q_ok<OrtNBits<8, 16, false>>(x, 16);
  CHECK(q.data[2] == std::vector<std::uint8_t>{232});
  CHECK(q.data[0][0] == 0);
  CHECK(q.data[0][1] == 255);
  CHECK(q.data[0][2] == 232);
  CHECK(dq(q)[2] == 0.0f);
  // Symmetric 8-bit: -max/128, implicit zero point 128.
  std::vector<float> s(16, 0.0f);
  s[0] = 64.0f;
  s[1] = -32.0f;
  const auto qs = q_ok<OrtNBits<8, 16, true>>(s, 16);
  CHECK(f32_at(qs.data[1], 0) == -0.5f);
  CHECK(qs.data[0][0] == 0);
  CHECK(qs.data[0][1] == 192);
  CHECK(qs.data[0][2] == 128);
}

namespace {

// Runs MatMulNBits in onnxruntime on our planes with A = identity: row k of
// the output is column k of the dequantized weight.
template <class S>
void check_against_ort(std::size_t n, std::size_t k, FloatType t, unsigned seed) {
  const std::string dir = eqtest::temp_dir("mnb");
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> w(n * k);
  for (auto& v : w) v = nd(rng) * 0.1f;
  for (std::size_t i = 0; i < k; ++i) w[3 * k + i] = 0.0f;                      // an all-zero row
  for (std::size_t i = 0; i < k; ++i) w[5 * k + i] = -std::fabs(w[5 * k + i]);  // negative row
  const auto q = q_ok<S>(w, k, t);
  const auto y = dq(q);
  eqtest::write_file(dir + "/B.bin", q.data[0]);
  eqtest::write_file(dir + "/scales.bin", q.data[1]);
  eqtest::write_file(dir + "/zp.bin", q.data[2]);
  const bool f16 = t == FloatType::kF16;
  std::vector<std::uint8_t> a(k * k * (f16 ? 2 : 4), 0);
  for (std::size_t i = 0; i < k; ++i) store_float(t, 1.0f, a.data() + (i * k + i) * (f16 ? 2 : 4));
  eqtest::write_file(dir + "/A.bin", a);
  const std::string spec =
      std::string("{\"mode\": \"matmulnbits\", \"K\": ") + std::to_string(k) +
      ", \"N\": " + std::to_string(n) + ", \"bits\": " + std::to_string(S::bits) +
      ", \"block_size\": " + std::to_string(S::block) + ", \"dtype\": \"" +
      (f16 ? "float16" : "float") + "\", \"scales_2d\": " + (seed % 2 ? "true" : "false") +
      ", \"B\": \"" + dir + "/B.bin\", \"scales\": \"" + dir + "/scales.bin\", \"zero_points\": " +
      (S::symmetric ? std::string("null") : "\"" + dir + "/zp.bin\"") + "}";
  for (const char* opt : {"disabled", "all"}) {
    const auto out = eqtest::run_onnx(
        dir, spec, eqtest::OrtInput{"A", dir + "/A.bin", f16 ? "float16" : "float32", {k, k}}, opt);
    if (!out) return;
    REQUIRE(out->size() == k * n * (f16 ? 2 : 4));
    std::size_t exact = 0;
    for (std::size_t kk = 0; kk < k; ++kk) {
      for (std::size_t nn = 0; nn < n; ++nn) {
        const float ort = load_float(t, out->data() + (kk * n + nn) * (f16 ? 2 : 4));
        const float ours = round_to(t, y[nn * k + kk]);
        CAPTURE(S::name);
        CAPTURE(kk);
        CAPTURE(nn);
        REQUIRE(std::fabs(ort - ours) <=
                1e-6f * std::fabs(ours) + (f16 ? 1e-3f * std::fabs(ours) : 0.0f));
        exact += eqtest::bits_of(ort) == eqtest::bits_of(ours) || (ort == 0 && ours == 0);
      }
    }
    MESSAGE(S::name << " " << float_type_name(t) << " K=" << k << " opt=" << std::string(opt)
                    << ": " << exact << "/" << k * n
                    << " outputs bit-identical to our dequantization");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("ort nbits: onnxruntime runs MatMulNBits on our planes (one-hot probing)") {
  check_against_ort<OrtNBits<4, 32, true>>(8, 64, FloatType::kF32, 1);
  check_against_ort<OrtNBits<4, 16, false>>(8, 40, FloatType::kF32, 2);  // K % block != 0
  check_against_ort<OrtNBits<4, 16, false>>(6, 48, FloatType::kF32, 3);  // odd n_blocks: zp padding
  check_against_ort<OrtNBits<8, 32, false>>(8, 64, FloatType::kF32, 4);
  check_against_ort<OrtNBits<8, 64, true>>(8, 128, FloatType::kF32, 5);
  check_against_ort<OrtNBits<2, 16, false>>(8, 64, FloatType::kF32, 6);
  check_against_ort<OrtNBits<4, 128, true>>(8, 256, FloatType::kF16, 7);
}
