// NNCF weight compression: hand-derived vectors for every mode's formula
// (specs/openvino.md §5.2–5.4) including NNCF's quirks, and the IR planes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "edgequant/planes.hpp"
#include "schemes/eco_test_util.hpp"

using namespace edgequant;

namespace {

template <class S>
QuantizedPlanes nncf_q_ok(const std::vector<float>& x, std::size_t k) {
  auto q = quantize_planes<S>(x, k);
  REQUIRE_MESSAGE(q, (q ? std::string() : q.error().message()));
  return std::move(*q);
}

std::vector<float> nncf_dq(const QuantizedPlanes& q) {
  std::vector<float> y(q.rows * q.cols);
  REQUIRE(dequantize_planes(q, y));
  return y;
}

float f16_at(const std::vector<std::uint8_t>& b, std::size_t i) {
  return load_f16(b.data() + 2 * i);
}

int nibble(const std::vector<std::uint8_t>& b, std::size_t i) {
  return (b[i / 2] >> (4 * (i & 1))) & 15;
}
int i4(const std::vector<std::uint8_t>& b, std::size_t i) { return (nibble(b, i) ^ 8) - 8; }

std::vector<float> group(std::initializer_list<float> head, std::size_t n = 32, float fill = 0.0f) {
  std::vector<float> v(n, fill);
  std::size_t i = 0;
  for (float f : head) v[i++] = f;
  return v;
}

}  // namespace

TEST_CASE("nncf: INT4_SYM — signed scale /8, true division, half to even") {
  // |min| = 1 < max = 4: scale = -4/8 = -0.5; q = rint(w / -0.5).
  const auto q = nncf_q_ok<NncfInt<4, true, 32>>(group({4, -1, 0.25f, 0.75f, -0.25f, 1.25f, 3.5f}), 32);
  CHECK(f16_at(q.data[1], 0) == -0.5f);
  CHECK(i4(q.data[0], 0) == -8);  // max -> -8
  CHECK(i4(q.data[0], 1) == 2);
  CHECK(i4(q.data[0], 2) == 0);   // -0.5 -> 0 (even)
  CHECK(i4(q.data[0], 3) == -2);  // -1.5 -> -2
  CHECK(i4(q.data[0], 4) == 0);   // 0.5 -> 0
  CHECK(i4(q.data[0], 5) == -2);  // -2.5 -> -2
  CHECK(i4(q.data[0], 6) == -7);
  CHECK(q.specs[0].dtype == "i4");
  CHECK(q.specs[0].dims == std::array<std::size_t, 3>{1, 1, 32});
  CHECK(q.specs[1].dims == std::array<std::size_t, 3>{1, 1, 1});
  CHECK(q.data[2].empty());
  // A positive constant c: |min| >= max picks +c/8, c maps to 8 -> clamps to
  // 7: NNCF reconstructs 0.875c (ORT reconstructs c exactly).
  const auto qc = nncf_q_ok<NncfInt<4, true, 32>>(std::vector<float>(32, 3.0f), 32);
  CHECK(f16_at(qc.data[1], 0) == 0.375f);
  for (float v : nncf_dq(qc)) CHECK(v == 2.625f);
  // A negative constant maps to -8 and back exactly.
  for (float v : nncf_dq(nncf_q_ok<NncfInt<4, true, 32>>(std::vector<float>(32, -3.0f), 32)))
    CHECK(v == -3.0f);
  // All zeros and tiny ranges: the scale is floored to float32 eps (positive).
  for (float c : {0.0f, 1e-8f, -1e-8f}) {
    const auto qz = nncf_q_ok<NncfInt<4, true, 32>>(std::vector<float>(32, c), 32);
    CHECK((qz.data[1][0] | qz.data[1][1] << 8) == 0x0002);  // f16(2^-23)
    for (std::size_t i = 0; i < 32; ++i) CHECK(i4(qz.data[0], i) == 0);
  }
}

TEST_CASE("nncf: INT4_ASYM — true min/max (not widened), zp = -rint(min/scale) clipped") {
  // min -1, max 2: scale 0.2f, zp 5; 0.3f/0.2f + 5 = 6.5 -> 6, -0.1f -> 4.5 -> 4.
  const auto q = nncf_q_ok<NncfInt<4, false, 32>>(group({-1, 2, 0.3f, -0.1f, 0}), 32);
  CHECK(q.data[2] == std::vector<std::uint8_t>{5});
  CHECK(f16_at(q.data[1], 0) == round_to(FloatType::kF16, 0.2f));
  CHECK(nibble(q.data[0], 0) == 0);
  CHECK(nibble(q.data[0], 1) == 15);
  CHECK(nibble(q.data[0], 2) == 6);
  CHECK(nibble(q.data[0], 3) == 4);
  CHECK(nibble(q.data[0], 4) == 5);
  // All-positive group: the range is not widened to 0, zp = -5 clips to 0,
  // so the top of the group clips at 15 * scale (NNCF's behaviour).
  std::vector<float> pos(32);
  for (std::size_t i = 0; i < 32; ++i) pos[i] = 1.0f + 3.0f * static_cast<float>(i) / 31;
  const auto qp = nncf_q_ok<NncfInt<4, false, 32>>(pos, 32);
  CHECK(qp.data[2] == std::vector<std::uint8_t>{0});
  CHECK(nncf_dq(qp)[31] == 15 * f16_at(qp.data[1], 0));
  // Constant groups: scale = eps; zp = clip(-rint(c/eps)). For c < -256 the
  // float -> int32 cast overflows and numpy (x86) gives INT32_MIN: zp 0.
  CHECK(nncf_q_ok<NncfInt<4, false, 32>>(std::vector<float>(32, -3.0f), 32).data[2][0] == 15);
  CHECK(nncf_q_ok<NncfInt<4, false, 32>>(std::vector<float>(32, -300.0f), 32).data[2][0] == 0);
  CHECK(nncf_q_ok<NncfInt<4, false, 32>>(std::vector<float>(32, 3.0f), 32).data[2][0] == 0);
  CHECK(nncf_q_ok<NncfInt<4, false, 32>>(std::vector<float>(32, 0.0f), 32).data[2][0] == 0);
}

TEST_CASE("nncf: u4 zero points pack over the flattened [N, K/G, 1] tensor") {
  // Groups with min -z and max 15 - z: scale 1, zp z. 3 groups per row, so
  // row 1's first zero point shares a byte with row 0's last.
  std::vector<float> x;
  for (int z = 1; z <= 6; ++z) {
    auto g = group({-static_cast<float>(z), 15.0f - static_cast<float>(z)});
    x.insert(x.end(), g.begin(), g.end());
  }
  const auto q = nncf_q_ok<NncfInt<4, false, 32>>(x, 96);
  CHECK(q.rows == 2);
  CHECK(q.data[2] == std::vector<std::uint8_t>{0x21, 0x43, 0x65});
  CHECK(q.specs[2].dims == std::array<std::size_t, 3>{2, 3, 1});
  CHECK(q.specs[0].dims == std::array<std::size_t, 3>{2, 3, 32});
  const auto y = nncf_dq(q);
  for (std::size_t g = 0; g < 6; ++g) {
    CHECK(y[g * 32] == x[g * 32]);
    CHECK(y[g * 32 + 1] == x[g * 32 + 1]);
  }
}

TEST_CASE("nncf: INT8 per channel, symmetric and asymmetric") {
  const std::vector<float> x = {-1, 0.5f, 2, 0, 1, -0.25f, 0.125f, 1.5f};
  const auto qa = nncf_q_ok<NncfInt<8, false, 0>>(x, 8);
  CHECK(qa.data[2] == std::vector<std::uint8_t>{85});  // -rint(-1 / (3/255))
  CHECK(qa.data[0][0] == 0);
  CHECK(qa.data[0][2] == 255);
  CHECK(qa.data[0][3] == 85);
  CHECK(qa.specs[0].dims == std::array<std::size_t, 3>{1, 8, 0});
  // INT8_SYM: max 2 > |min| 1 -> scale -2/128; 2 -> -128, 1 -> -64.
  const auto qs = nncf_q_ok<NncfInt<8, true, 0>>(x, 8);
  CHECK(f16_at(qs.data[1], 0) == -2.0f / 128);
  CHECK(static_cast<std::int8_t>(qs.data[0][2]) == -128);
  CHECK(static_cast<std::int8_t>(qs.data[0][4]) == -64);
  CHECK(static_cast<std::int8_t>(qs.data[0][0]) == 64);
  CHECK(qs.specs[0].dtype == "i8");
}

TEST_CASE("nncf: NF4 uses OpenVINO's thresholds; a value on a threshold takes the lower code") {
  const float t7 = nncf::kNf4Thresholds[7];
  const auto q = nncf_q_ok<NncfFloat<nncf::FloatMode::kNf4, 32>>(
      group({1.0f, t7, std::nextafter(t7, 1.0f), -1.0f, 0.0f, 0.5f, -0.5f}), 32);
  CHECK(f16_at(q.data[1], 0) == 1.0f);
  CHECK(nibble(q.data[0], 0) == 15);
  CHECK(nibble(q.data[0], 1) == 7);
  CHECK(nibble(q.data[0], 2) == 8);
  CHECK(nibble(q.data[0], 3) == 0);
  CHECK(nibble(q.data[0], 4) == 7);
  CHECK(nibble(q.data[0], 5) == 12);  // 0.5 in (0.5017-, ...]: between 0.4407 and 0.5626, < 0.50166
  CHECK(nibble(q.data[0], 6) == 2);   // -0.5 in (-0.61, -0.46]
  const auto y = nncf_dq(q);
  CHECK(y[0] == 1.0f);
  CHECK(y[3] == -1.0f);
  CHECK(y[5] == round_to(FloatType::kF32, nncf::kNf4Levels[12]));
  CHECK(q.specs[0].dtype == "nf4");
}

TEST_CASE("nncf: FP4 / MXFP4 — round to nearest even, sign kept, MX exponent rounds up") {
  // amax 6 -> scale 1; OpenVINO's f4e2m1 converter.
  const auto q = nncf_q_ok<NncfFloat<nncf::FloatMode::kFp4, 32>>(
      group({6, 0.25f, 0.75f, -0.1f, 5, 5.5f, 2.5f, 3.5f, -1.75f}), 32);
  CHECK(f16_at(q.data[1], 0) == 1.0f);
  const int want[9] = {7, 0, 2, 8, 6, 7, 4, 6, 0xC};
  for (std::size_t i = 0; i < 9; ++i) CHECK(nibble(q.data[0], i) == want[i]);
  // MXFP4: amax 7 -> 7/6 -> ceil(log2) = 1 -> scale 2 (byte 0x80); MLX's
  // round(log2) would give 0x7F.
  const auto m = nncf_q_ok<NncfMxfp4>(group({7, 3, -1}), 32);
  CHECK(m.data[1] == std::vector<std::uint8_t>{0x80});
  CHECK(nibble(m.data[0], 0) == 6);  // 3.5 -> 4 (even)
  CHECK(nibble(m.data[0], 1) == 3);  // 1.5
  CHECK(nibble(m.data[0], 2) == 9);  // -0.5
  CHECK(m.specs[1].dtype == "f8e8m0");
  CHECK(nncf_q_ok<NncfMxfp4>(group({6}), 32).data[1] == std::vector<std::uint8_t>{0x7F});
  const auto y = nncf_dq(m);
  CHECK(y[0] == 8.0f);
  CHECK(y[1] == 3.0f);
  CHECK(y[2] == -1.0f);
}

TEST_CASE("nncf: FP8_E4M3 and MXFP8_E4M3") {
  const auto q = nncf_q_ok<NncfFloat<nncf::FloatMode::kFp8E4M3, 32>>(
      group({448, std::ldexp(1.0f, -9), -3, 0.1f}), 32);
  CHECK(f16_at(q.data[1], 0) == 1.0f);
  CHECK(q.data[0][0] == 0x7E);
  CHECK(q.data[0][1] == 0x01);
  CHECK(q.data[0][2] == 0xC4);  // -3 = -1.5 * 2
  CHECK(q.data[0][3] == f32_to_e4m3fn(0.1f));
  // MXFP8: 1344 / 448 = 3 -> ceil(log2 3) = 2 -> scale 4; 1344 / 4 = 336 is a
  // tie between 320 and 352 -> 320 (even mantissa).
  const auto m = nncf_q_ok<NncfMxfp8>(group({1344, -1344, 0.5f}), 32);
  CHECK(m.data[1] == std::vector<std::uint8_t>{129});
  CHECK(m.data[0][0] == 0x7A);
  CHECK(m.data[0][1] == 0xFA);
  CHECK(m.data[0][2] == f32_to_e4m3fn(0.125f));
  CHECK(nncf_dq(m)[0] == 1280.0f);
}
