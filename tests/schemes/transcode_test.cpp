// The exactness ledger of docs/transcoding.md: every row transcodes a tensor
// quantized by the source format's real quantizer and checks the claimed
// class (exact = dequantized floats bit-identical before and after; lossy
// rows report the measured RMSE on the fixed input).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "edgequant/transcode.hpp"
#include "schemes/eco_test_util.hpp"

using namespace edgequant;

namespace {

constexpr std::size_t kTcRows = 16, kTcCols = 256;

// The fixed input: N(0, 0.05) with outliers, a zero row, a constant row, a
// negative row.
const std::vector<float>& fixed_input() {
  static const std::vector<float> x = [] {
    std::vector<float> v(kTcRows * kTcCols);
    std::mt19937 rng(2024);
    std::normal_distribution<float> nd(0.0f, 0.05f);
    for (auto& f : v) f = nd(rng);
    for (std::size_t i = 0; i < v.size(); i += 97) v[i] *= 12.0f;
    for (std::size_t i = 0; i < kTcCols; ++i) {
      v[3 * kTcCols + i] = 0.0f;
      v[7 * kTcCols + i] = 0.375f;
      v[9 * kTcCols + i] = -std::fabs(v[9 * kTcCols + i]);
    }
    return v;
  }();
  return x;
}

TranscodeTarget ggml_t(GgmlType t) {
  TranscodeTarget to;
  to.ggml = t;
  return to;
}
TranscodeTarget plane_t(std::string_view name, FloatType t = FloatType::kF16) {
  TranscodeTarget to;
  to.plane = find_plane_scheme(name);
  REQUIRE_MESSAGE(to.plane, name);
  to.dtype = t;
  return to;
}

QuantTensor source(const TranscodeTarget& t) {
  auto q = quantize_to(t, fixed_input(), kTcCols);
  REQUIRE_MESSAGE(q, (q ? std::string() : q.error().message()));
  return std::move(*q);
}

std::string label(const TranscodeTarget& t) {
  if (t.ggml) return std::string(ggml_type_name(*t.ggml));
  return std::string(t.plane->name) +
         (t.plane->family == "nncf" ? "" : " (" + std::string(float_type_name(t.dtype)) + ")");
}

void row(const TranscodeTarget& from, const TranscodeTarget& to, Exactness want) {
  const QuantTensor src = source(from);
  auto r = transcode(src, to);
  REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message()));
  CAPTURE(label(from));
  CAPTURE(label(to));
  CAPTURE(r->how);
  CHECK(exactness_name(r->exactness) == exactness_name(want));
  CHECK(r->direct == (want != Exactness::kLossy));
  if (want == Exactness::kExact) {
    // Independently of the classifier: every value equal, and bit-identical
    // unless only the sign of some zeros changed.
    std::vector<float> a(kTcRows * kTcCols), b(kTcRows * kTcCols);
    REQUIRE(dequantize_any(src, a));
    REQUIRE(dequantize_any(r->tensor, b));
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      REQUIRE(a[i] == b[i]);
      if (eqtest::bits_of(a[i]) != eqtest::bits_of(b[i])) {
        REQUIRE(a[i] == 0.0f);
        ++zeros;
      }
    }
    CHECK(r->zero_signs_differ == (zeros > 0));
    CHECK(r->rmse == 0.0);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", r->rmse);
  MESSAGE("| " << label(from) << " | " << label(to) << " | " << exactness_name(r->exactness)
               << std::string(r->zero_signs_differ ? " (±0)" : "") << " | " << buf << " | "
               << r->how << " |");
}

}  // namespace

TEST_CASE("transcode: ggml Q4_0 / Q8_0 / Q4_1 to the other ecosystems") {
  const auto q40 = ggml_t(GgmlType::kQ4_0), q80 = ggml_t(GgmlType::kQ8_0),
             q41 = ggml_t(GgmlType::kQ4_1);
  row(q40, plane_t("ort:nbits4:b32:sym", FloatType::kF16), Exactness::kExact);
  row(q40, plane_t("ort:nbits4:b32:sym", FloatType::kF32), Exactness::kExact);
  row(q40, plane_t("nncf:int4_sym:g32"), Exactness::kExact);
  row(q40, plane_t("mlx:q4:g32", FloatType::kF32), Exactness::kExact);
  row(q40, plane_t("mlx:q4:g32", FloatType::kF16), Exactness::kExactUpToScaleRounding);
  row(q40, q41, Exactness::kExact);
  row(q80, plane_t("ort:nbits8:b32:sym", FloatType::kF16), Exactness::kExact);
  row(q80, plane_t("mlx:q8:g32", FloatType::kF32), Exactness::kExact);
  row(q80, plane_t("mlx:q8:g32", FloatType::kF16), Exactness::kExactUpToScaleRounding);
  row(q41, plane_t("mlx:q4:g32", FloatType::kF32), Exactness::kExact);
  row(q41, plane_t("mlx:q4:g32", FloatType::kF16), Exactness::kExactUpToScaleRounding);
  row(q41, plane_t("ort:nbits4:b32:asym", FloatType::kF16), Exactness::kLossy);
  row(q41, q40, Exactness::kLossy);
  row(q40, plane_t("nncf:nf4:g32"), Exactness::kLossy);
}

TEST_CASE("transcode: ONNX Runtime MatMulNBits to GGUF, NNCF and MLX") {
  row(plane_t("ort:nbits4:b32:sym", FloatType::kF16), ggml_t(GgmlType::kQ4_0), Exactness::kExact);
  row(plane_t("ort:nbits4:b32:sym", FloatType::kF32), ggml_t(GgmlType::kQ4_0),
      Exactness::kExactUpToScaleRounding);
  row(plane_t("ort:nbits8:b32:sym", FloatType::kF16), ggml_t(GgmlType::kQ8_0), Exactness::kExact);
  row(plane_t("ort:nbits4:b32:sym", FloatType::kF16), plane_t("nncf:int4_sym:g32"),
      Exactness::kExact);
  row(plane_t("ort:nbits4:b32:asym", FloatType::kF16), plane_t("nncf:int4_asym:g32"),
      Exactness::kExact);
  row(plane_t("ort:nbits4:b32:asym", FloatType::kF16), ggml_t(GgmlType::kQ4_1),
      Exactness::kExactUpToScaleRounding);
  row(plane_t("ort:nbits4:b128:sym", FloatType::kF16), plane_t("mlx:q4:g128", FloatType::kF32),
      Exactness::kExact);
  row(plane_t("ort:nbits4:b64:asym", FloatType::kF32), plane_t("mlx:q4:g64", FloatType::kF32),
      Exactness::kExactUpToScaleRounding);
  row(plane_t("ort:nbits4:b32:asym", FloatType::kF16), ggml_t(GgmlType::kQ4_0), Exactness::kLossy);
}

TEST_CASE("transcode: NNCF and MLX to the others") {
  row(plane_t("nncf:int4_sym:g32"), ggml_t(GgmlType::kQ4_0), Exactness::kExact);
  row(plane_t("nncf:int4_sym:g32"), plane_t("ort:nbits4:b32:sym", FloatType::kF16),
      Exactness::kExact);
  row(plane_t("nncf:int4_asym:g128"), plane_t("ort:nbits4:b128:asym", FloatType::kF16),
      Exactness::kExact);
  row(plane_t("nncf:int4_asym:g32"), plane_t("mlx:q4:g32", FloatType::kF32), Exactness::kExact);
  row(plane_t("mlx:q4:g32", FloatType::kF16), ggml_t(GgmlType::kQ4_1),
      Exactness::kExactUpToScaleRounding);
  row(plane_t("mlx:q4:g32", FloatType::kF32), ggml_t(GgmlType::kQ4_1),
      Exactness::kExactUpToScaleRounding);
  row(plane_t("mlx:q4:g64", FloatType::kF16), ggml_t(GgmlType::kQ4_0), Exactness::kLossy);
  row(plane_t("mlx:q4:g32", FloatType::kF16), plane_t("ort:nbits4:b32:asym", FloatType::kF16),
      Exactness::kLossy);
  row(plane_t("mlx:mxfp4", FloatType::kBF16), plane_t("nncf:mxfp4"), Exactness::kExact);
  row(plane_t("nncf:mxfp4"), plane_t("mlx:mxfp4", FloatType::kBF16), Exactness::kExact);
  row(plane_t("mlx:mxfp8", FloatType::kF32), plane_t("nncf:mxfp8_e4m3"), Exactness::kExact);
  row(plane_t("nncf:mxfp8_e4m3"), plane_t("mlx:mxfp8", FloatType::kF32), Exactness::kExact);
  row(plane_t("nncf:nf4:g64"), plane_t("mlx:q4:g64", FloatType::kF16), Exactness::kLossy);
}

TEST_CASE("transcode: the local Q4_1 reference follows ggml's spec by hand") {
  // min -1, max 2: d = 0.2, values (x + 1) * 5 + 0.5 truncated.
  std::vector<float> x(32, 0.0f);
  x[0] = -1.0f;
  x[1] = 2.0f;
  x[2] = 0.5f;    // 7.5 + 0.5 = 8.0 -> 8
  x[17] = 0.29f;  // 6.45 + 0.5 -> 6
  ggml::Q4_1Block b;
  ggml::quantize_row_q4_1_local(x.data(), &b, 32);
  CHECK(f16_to_f32(b.d) == round_to(FloatType::kF16, 3.0f / 15));
  CHECK(f16_to_f32(b.m) == -1.0f);
  CHECK((b.qs[0] & 15) == 0);
  CHECK((b.qs[1] & 15) == 15);
  CHECK((b.qs[2] & 15) == 8);
  CHECK((b.qs[1] >> 4) == 6);
  CHECK((b.qs[0] >> 4) == 5);  // x[16] = 0 -> 5.5 -> 5
}
