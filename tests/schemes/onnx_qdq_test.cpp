// ONNX QuantizeLinear / DequantizeLinear, ORT's static-quantization scale and
// zero point, and the calibrators: hand-derived vectors, onnxruntime itself
// running Q/DQ models, and numpy as the oracle for the histogram statistics.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgequant/schemes/onnx_calibrate.hpp"
#include "edgequant/schemes/onnx_qdq.hpp"
#include "schemes/eco_test_util.hpp"

using namespace edgequant;
using namespace edgequant::onnx;

namespace {

std::vector<std::int32_t> quantize_all(const std::vector<float>& x, float scale, std::int32_t zp,
                                       QType t, bool saturate = true) {
  std::vector<std::size_t> shape{x.size()};
  std::vector<std::uint8_t> out(packed_bytes(t, x.size()));
  QdqParams p;
  p.type = t;
  p.saturate = saturate;
  const float s[1] = {scale};
  const std::int32_t z[1] = {zp};
  REQUIRE(quantize_linear(x, shape, s,
                          qtype_info(t).is_float ? std::span<const std::int32_t>() : std::span(z),
                          p, out));
  std::vector<std::int32_t> q(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) q[i] = load_q(t, out.data(), i);
  return q;
}

}  // namespace

TEST_CASE("qdq: QuantizeLinear rounds half to even and saturates (onnx.md §4)") {
  CHECK(quantize_all({2.5f, 3.5f, -2.5f, -0.5f, 0.5f, 300.0f, -300.0f}, 1.0f, 0, QType::kInt8) ==
        std::vector<std::int32_t>{2, 4, -2, 0, 0, 127, -128});
  CHECK(quantize_all({7.5f, -8.5f, -3.5f, 100.0f}, 1.0f, 0, QType::kInt4) ==
        std::vector<std::int32_t>{7, -8, -4, 7});
  // uint8 with a zero point: rint(x / s) + zp, clipped to [0, 255].
  CHECK(quantize_all({0.0f, 0.25f, -1.0f, 1.0f, 100.0f}, 0.5f, 128, QType::kUInt8) ==
        std::vector<std::int32_t>{128, 128, 126, 130, 255});
  CHECK(quantize_all({1.25f, 30.0f, -1.0f}, 0.5f, 3, QType::kUInt4) ==
        std::vector<std::int32_t>{5, 15, 1});
  CHECK(quantize_all({40000.0f, -40000.0f, 1.5f}, 1.0f, 0, QType::kInt16) ==
        std::vector<std::int32_t>{32767, -32768, 2});
  // float8: RNE, saturate to ±max or give NaN / Inf without it.
  CHECK(quantize_all({448.0f, 500.0f, -1e6f, 0.1f}, 1.0f, 0, QType::kFloat8E4M3FN) ==
        std::vector<std::int32_t>{0x7E, 0x7E, 0xFE, f32_to_e4m3fn(0.1f)});
  CHECK(quantize_all({500.0f}, 1.0f, 0, QType::kFloat8E4M3FN, false) ==
        std::vector<std::int32_t>{0x7F});
  CHECK(quantize_all({1e6f, 57344.0f}, 1.0f, 0, QType::kFloat8E5M2) ==
        std::vector<std::int32_t>{0x7B, 0x7B});
  CHECK(quantize_all({1e6f}, 1.0f, 0, QType::kFloat8E5M2, false) ==
        std::vector<std::int32_t>{0x7C});
}

TEST_CASE("qdq: per-axis and blocked layouts, int4 packing over the flattened tensor") {
  // x [3, 4], axis 0 blocked with block 2: scales [2, 4].
  std::vector<float> x(12);
  for (std::size_t i = 0; i < 12; ++i) x[i] = static_cast<float>(i);
  const std::vector<std::size_t> shape{3, 4};
  std::vector<float> scale = {1, 1, 1, 1, 2, 2, 2, 2};
  std::vector<std::uint8_t> q(packed_bytes(QType::kUInt4, 12));
  QdqParams p{QType::kUInt4, 0, 2, true};
  REQUIRE(quantize_linear(x, shape, scale, {}, p, q));
  // Rows 0-1 use scale 1 (0..7), row 2 uses scale 2 (4, 4.5->4, 5, 5.5->6).
  CHECK(q == std::vector<std::uint8_t>{0x10, 0x32, 0x54, 0x76, 0x44, 0x65});
  std::vector<float> y(12);
  REQUIRE(dequantize_linear(q, shape, scale, {}, p, y));
  CHECK(y[9] == 8.0f);
  CHECK(y[11] == 12.0f);
  // Per-axis on axis 1: one scale per column.
  std::vector<float> s4 = {1, 2, 4, 8};
  std::vector<std::uint8_t> q8(12);
  REQUIRE(quantize_linear(x, shape, s4, {}, QdqParams{QType::kUInt8, 1, 0, true}, q8));
  CHECK(q8[5] == 2);   // x=5, column 1: 5/2 = 2.5 -> 2
  CHECK(q8[10] == 2);  // x=10, column 2: 2.5 -> 2
  // Wrong scale counts and bad zero points are refused.
  CHECK_FALSE(quantize_linear(x, shape, std::vector<float>(3, 1.0f), {},
                              QdqParams{QType::kUInt8, 1, 0, true}, q8));
  std::vector<std::int32_t> zp = {300};
  CHECK_FALSE(quantize_linear(x, shape, std::vector<float>{1.0f}, zp, QdqParams{}, q8));
}

TEST_CASE("qdq: compute_scale_zp — widened range, symmetric ranges, tiny scales") {
  // uint8 asymmetric on [-1, 3]: scale 4/255, zp = round(0 + 63.75) = 64.
  auto a = compute_scale_zp(-1.0f, 3.0f, qrange(QType::kUInt8, false, false), false);
  CHECK(a.scale == static_cast<float>(4.0 / 255.0));
  CHECK(a.zero_point == 64);
  // Positive-only data: the range is widened to include 0 -> zp 0.
  CHECK(compute_scale_zp(2.0f, 3.0f, qrange(QType::kUInt8, false, false), false).zero_point == 0);
  // int8 symmetric: [-127, 127], zp 0; uint8 symmetric: [0, 254], zp 127.
  auto s8 = compute_scale_zp(-1.0f, 3.0f, qrange(QType::kInt8, false, true), true);
  CHECK(s8.scale == static_cast<float>(6.0 / 254.0));
  CHECK(s8.zero_point == 0);
  CHECK(compute_scale_zp(-1.0f, 3.0f, qrange(QType::kUInt8, false, true), true).zero_point == 127);
  // Symmetric uint4 has no override: [0, 15] -> round(7.5) = 8 (half even).
  CHECK(compute_scale_zp(-1.0f, 1.0f, qrange(QType::kUInt4, false, true), true).zero_point == 8);
  // reduce_range int8: [-64, 64].
  CHECK(qrange(QType::kInt8, true, false).qmin == -64);
  CHECK(qrange(QType::kInt8, true, false).qmax == 64);
  // A zero range: scale 1, zp 0.
  auto z = compute_scale_zp(0.0f, 0.0f, qrange(QType::kInt8, false, true), true);
  CHECK(z.scale == 1.0f);
  CHECK(z.zero_point == 0);
  // A weight quantized the way quantize_data does it.
  std::vector<float> w = {-0.5f, 0.25f, 1.0f};
  auto wz = weight_scale_zp(w, QType::kInt8, true);
  CHECK(wz.scale == static_cast<float>(2.0 / 254.0));
  CHECK(quantize_all(w, wz.scale, wz.zero_point, QType::kInt8) ==
        std::vector<std::int32_t>{-64, 32, 127});
}

TEST_CASE("qdq: MinMax calibrator by hand") {
  MinMaxCalibrator mm;
  const std::vector<float> b1 = {-1, 2}, b2 = {-3, 1}, b3 = {0.5f, 5};
  std::vector<std::span<const float>> call1 = {b1, b2};
  REQUIRE(mm.collect(call1));
  CHECK(mm.range()->lowest == -3.0f);
  CHECK(mm.range()->highest == 2.0f);
  REQUIRE(mm.collect(b3));
  CHECK(mm.range()->highest == 5.0f);
  MinMaxCalibrator ma({false, true, 0.5f});
  REQUIRE(ma.collect(call1));  // mean of minima -2, of maxima 1.5
  CHECK(ma.range()->lowest == -2.0f);
  CHECK(ma.range()->highest == 1.5f);
  REQUIRE(ma.collect(b3));  // -2 + 0.5 * (0.5 + 2) = -0.75, 1.5 + 0.5 * 3.5 = 3.25
  CHECK(ma.range()->lowest == -0.75f);
  CHECK(ma.range()->highest == 3.25f);
  MinMaxCalibrator sym({true, false, 0.01f});
  REQUIRE(sym.collect(call1));
  CHECK(sym.range()->lowest == -3.0f);
  CHECK(sym.range()->highest == 3.0f);
  CHECK_FALSE(MinMaxCalibrator().range());
}

TEST_CASE("qdq: percentile calibrator by hand") {
  // 1000 values 0.001 .. 1.0 plus one outlier 100: the 99.9th percentile of
  // |x| sits well below the outlier; the range is symmetric.
  std::vector<float> x;
  for (int i = 1; i <= 1000; ++i) x.push_back(static_cast<float>(i) / 1000);
  x.push_back(-100.0f);
  auto o = HistogramCalibrator::percentile_defaults();
  o.percentile = 99.9;
  HistogramCalibrator hc(o);
  REQUIRE(hc.collect(x));
  auto r = hc.range();
  REQUIRE(r);
  CHECK(r->highest > 0.9f);
  CHECK(r->highest < 1.1f);
  CHECK(r->lowest == -r->highest);
  CHECK(hc.hist().size() == 2048);
}

namespace {

struct OracleCase {
  std::string method;
  std::string options;  // extra JSON members
  std::vector<std::vector<std::vector<float>>> calls;
};

std::vector<float> gauss(std::size_t n, float sd, unsigned seed, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(mean, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

float hexf(const nlohmann::json& j) {
  return static_cast<float>(std::strtod(j.get<std::string>().c_str(), nullptr));
}

bool numpy_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
  if (!ok) MESSAGE("SKIPPED: /usr/bin/python3 with numpy not found");
  return ok;
}

// Runs the numpy oracle on the same batches and compares bit for bit.
void check_oracle(const OracleCase& c) {
  if (!numpy_available()) return;
  const std::string dir = eqtest::temp_dir("calib");
  std::string calls = "[";
  int fid = 0;
  for (std::size_t ci = 0; ci < c.calls.size(); ++ci) {
    calls += ci ? ", [" : "[";
    for (std::size_t bi = 0; bi < c.calls[ci].size(); ++bi) {
      const std::string path = dir + "/b" + std::to_string(fid++) + ".f32";
      eqtest::write_file(path, c.calls[ci][bi]);
      calls += (bi ? ", \"" : "\"") + path + "\"";
    }
    calls += "]";
  }
  calls += "]";
  {
    std::ofstream f(dir + "/spec.json");
    f << "{\"method\": \"" << c.method << "\", \"calls\": " << calls << c.options << "}";
  }
  const std::string cmd = std::string("/usr/bin/python3 ") + EQ_INTEROP_DIR + "/calib_oracle.py " +
                          dir + "/spec.json > " + dir + "/out.json 2>" + dir + "/err.log";
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "calib_oracle.py failed, see " << dir);
  const auto raw = eqtest::read_file<char>(dir + "/out.json");
  const auto j = nlohmann::json::parse(std::string(raw.begin(), raw.end()));
  std::vector<std::vector<std::span<const float>>> spans(c.calls.size());
  for (std::size_t ci = 0; ci < c.calls.size(); ++ci) {
    for (const auto& b : c.calls[ci]) spans[ci].emplace_back(b);
  }
  CAPTURE(c.method);
  CAPTURE(c.options);
  if (c.method == "minmax") {
    MinMaxCalibrator::Options o;
    o.symmetric = c.options.find("\"symmetric\": true") != std::string::npos;
    o.moving_average = c.options.find("\"moving_average\": true") != std::string::npos;
    MinMaxCalibrator mm(o);
    for (auto& s : spans) REQUIRE(mm.collect(s));
    CHECK(eqtest::bits_of(mm.range()->lowest) == eqtest::bits_of(hexf(j["lowest"])));
    CHECK(eqtest::bits_of(mm.range()->highest) == eqtest::bits_of(hexf(j["highest"])));
  } else {
    HistogramCalibrator::Options o = c.method == "entropy" ? HistogramCalibrator::entropy_defaults()
                                     : c.method == "distribution"
                                         ? HistogramCalibrator::distribution_defaults()
                                         : HistogramCalibrator::percentile_defaults();
    const auto opts = nlohmann::json::parse(
        "{" + (c.options.empty() ? std::string() : c.options.substr(1)) + "}");
    if (opts.contains("num_bins")) o.num_bins = opts["num_bins"];
    if (opts.contains("symmetric")) o.symmetric = opts["symmetric"];
    if (opts.contains("percentile")) o.percentile = opts["percentile"];
    if (opts.contains("scenario"))
      o.scenario = opts["scenario"] == "p3" ? HistogramCalibrator::Scenario::kP3
                                            : HistogramCalibrator::Scenario::kSame;
    HistogramCalibrator hc(o);
    for (auto& s : spans) REQUIRE(hc.collect(s));
    REQUIRE(hc.hist().size() == j["hist"].size());
    bool same_hist = true, same_edges = true;
    for (std::size_t i = 0; i < hc.hist().size(); ++i)
      same_hist = same_hist && hc.hist()[i] == j["hist"][i].get<std::int64_t>();
    for (std::size_t i = 0; i < hc.hist_edges().size(); ++i) {
      same_edges =
          same_edges && eqtest::bits_of(hc.hist_edges()[i]) == eqtest::bits_of(hexf(j["edges"][i]));
    }
    CHECK(same_hist);
    CHECK(same_edges);
    if (c.method == "distribution") {
      auto d = hc.distribution();
      REQUIRE(d);
      CHECK(eqtest::bits_of(d->avg) == eqtest::bits_of(hexf(j["avg"])));
      CHECK(eqtest::bits_of(d->std) == eqtest::bits_of(hexf(j["std"])));
      CHECK(eqtest::bits_of(e4m3fn_std_f8()) == eqtest::bits_of(hexf(j["std_f8"])));
    } else {
      auto r = hc.range();
      REQUIRE(r);
      CHECK(eqtest::bits_of(r->lowest) == eqtest::bits_of(hexf(j["lowest"])));
      CHECK(eqtest::bits_of(r->highest) == eqtest::bits_of(hexf(j["highest"])));
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("qdq: calibrators match numpy's own histogram arithmetic bit for bit") {
  // Batches of one collect call have one shape (ORT stacks them).
  const auto a = gauss(2000, 1.0f, 1), b = gauss(2000, 2.5f, 2), c = gauss(2000, 0.5f, 3, 0.3f);
  const auto d = gauss(2000, 4.0f, 4), e = gauss(2000, 7.0f, 5, -1.0f);
  const std::vector<float> zeros(64, 0.0f);
  check_oracle({"minmax", "", {{a, b}, {c}, {d, e}}});
  check_oracle({"minmax", ", \"symmetric\": true", {{a, c}, {e}}});
  check_oracle({"minmax", ", \"moving_average\": true", {{a, b, c}, {d, e}}});
  // Percentile (symmetric |x| histograms that grow with np.arange), asymmetric.
  check_oracle({"percentile", ", \"num_bins\": 2048", {{a}, {b, c}, {d}, {e}}});
  check_oracle({"percentile",
                ", \"num_bins\": 512, \"symmetric\": false, \"percentile\": 99.9",
                {{a, b}, {e}, {c}}});
  // Entropy: thresholds that first stay, then widen (float64 thresholds), and
  // a first all-zero call.
  check_oracle({"entropy", "", {{a}, {c}, {b}, {e}}});
  check_oracle({"entropy", ", \"num_bins\": 256", {{zeros}, {a, d}, {c}}});
  check_oracle({"distribution", "", {{a, b}, {e}}});
  check_oracle({"distribution", ", \"scenario\": \"p3\"", {{a}, {d}}});
}

namespace {

std::string json_floats(const std::vector<std::size_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Our quantize -> dequantize against onnxruntime's QuantizeLinear ->
// DequantizeLinear on the same input, scale and zero point.
void check_qdq_ort(const std::vector<float>& x, const std::vector<std::size_t>& shape,
                   const std::vector<float>& scale, const std::vector<std::size_t>& scale_shape,
                   const std::vector<std::int32_t>& zp, const QdqParams& p, int opset, int ir) {
  const std::string dir = eqtest::temp_dir("qdq");
  eqtest::write_file(dir + "/x.f32", x);
  eqtest::write_file(dir + "/scale.f32", scale);
  // The zero point also sets the output type (float8: a 0 of that type).
  std::vector<std::uint8_t> zbytes(packed_bytes(p.type, zp.size()), 0);
  for (std::size_t i = 0; i < zp.size(); ++i) store_q(p.type, zbytes.data(), i, zp[i]);
  eqtest::write_file(dir + "/zp.bin", zbytes);
  std::string spec =
      "{\"mode\": \"qdq\", \"opset\": " + std::to_string(opset) +
      ", \"ir\": " + std::to_string(ir) +
      ", \"qtype\": " + std::to_string(static_cast<int>(p.type)) +
      ", \"shape\": " + json_floats(shape) + ", \"scale_shape\": " + json_floats(scale_shape) +
      ", \"axis\": " + std::to_string(p.axis) +
      ", \"block_size\": " + std::to_string(p.block_size) + ", \"scale\": \"" + dir +
      "/scale.f32\"" + (zp.empty() ? std::string() : ", \"zero_point\": \"" + dir + "/zp.bin\"") +
      (qtype_info(p.type).is_float ? ", \"saturate\": " + std::to_string(p.saturate ? 1 : 0)
                                   : std::string()) +
      "}";
  const auto out = eqtest::run_onnx(
      dir, spec, eqtest::OrtInput{"x", dir + "/x.f32", "float32", shape}, "disabled");
  if (!out) return;
  std::vector<std::uint8_t> q(packed_bytes(p.type, x.size()));
  REQUIRE(quantize_linear(x, shape, scale, zp, p, q));
  std::vector<float> y(x.size());
  REQUIRE(dequantize_linear(q, shape, scale, zp, p, y));
  REQUIRE(out->size() == 4 * x.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float o = load_float(FloatType::kF32, out->data() + 4 * i);
    CAPTURE(i);
    CAPTURE(x[i]);
    CAPTURE(qtype_info(p.type).name);
    CHECK((eqtest::bits_of(o) == eqtest::bits_of(y[i]) || (std::isnan(o) && std::isnan(y[i]))));
    same += eqtest::bits_of(o) == eqtest::bits_of(y[i]);
  }
  MESSAGE("QuantizeLinear->DequantizeLinear " << qtype_info(p.type).name << " opset " << opset
                                              << ": " << same << "/" << x.size()
                                              << " bit-identical to onnxruntime");
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("qdq: onnxruntime's QuantizeLinear/DequantizeLinear agree with ours") {
  std::vector<float> ties = {2.5f,  3.5f,  -2.5f, -0.5f, 0.5f,  300.0f, -300.0f, 7.5f,
                             -8.5f, -3.5f, 1.25f, 0.0f,  -0.0f, 126.5f, -127.5f, 1e9f};
  for (std::size_t i = 0; i < 64; ++i) ties.push_back(static_cast<float>(i) * 0.75f - 20.0f);
  const std::vector<std::size_t> shape{ties.size()};
  check_qdq_ort(ties, shape, {1.0f}, {}, {3}, QdqParams{QType::kInt8, 1, 0, true}, 17, 8);
  check_qdq_ort(ties, shape, {0.5f}, {}, {128}, QdqParams{QType::kUInt8, 1, 0, true}, 17, 8);
  check_qdq_ort(ties, shape, {1.0f}, {}, {0}, QdqParams{QType::kInt4, 1, 0, true}, 21, 10);
  check_qdq_ort(ties, shape, {2.0f}, {}, {8}, QdqParams{QType::kUInt4, 1, 0, true}, 21, 10);
  check_qdq_ort(ties, shape, {0.25f}, {}, {0}, QdqParams{QType::kFloat8E4M3FN, 1, 0, true}, 21, 10);
  check_qdq_ort(ties, shape, {0.001f}, {}, {0}, QdqParams{QType::kFloat8E5M2, 1, 0, true}, 21, 10);
  // Blocked int4 on axis 0 of a [48, 8] weight with block 16 (scales [3, 8]),
  // and per-axis int8 on axis 1.
  auto w = gauss(48 * 8, 1.0f, 9);
  std::vector<float> bs(3 * 8);
  std::vector<std::int32_t> bz(3 * 8);
  for (std::size_t i = 0; i < bs.size(); ++i) {
    bs[i] = 0.1f + 0.01f * static_cast<float>(i);
    bz[i] = static_cast<std::int32_t>(i % 5) + 6;
  }
  check_qdq_ort(w, {48, 8}, bs, {3, 8}, bz, QdqParams{QType::kUInt4, 0, 16, true}, 21, 10);
  std::vector<float> ps(8, 0.02f);
  for (std::size_t i = 0; i < 8; ++i) ps[i] += 0.003f * static_cast<float>(i);
  check_qdq_ort(w, {48, 8}, ps, {8}, std::vector<std::int32_t>(8, -3),
                QdqParams{QType::kInt8, 1, 0, true}, 17, 8);
}
