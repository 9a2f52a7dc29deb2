// The real runtime as oracle: models written by edgequant's writer run in
// onnxruntime-node 1.30 (CPU) and match references computed here in double
// precision. Skips with a message when node or onnxruntime-node is absent.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "formats/onnx/onnx_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_ort_interop_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {

// Float tolerance of every float32 model below (|ORT - double reference|):
// sums of at most 16 products of O(1) values in float32, plus MLAS's exp/erf.
constexpr double kTol = 1e-5;

struct Input {
  std::string name;
  std::vector<std::int64_t> dims;
  std::vector<float> data;
};

struct OrtResult {
  bool ok = false;
  std::string error;
  std::map<std::string, std::vector<double>> out;
  std::map<std::string, std::vector<std::int64_t>> dims;
};

std::string ort_dir() {
  static const std::string d = eqtest::node_dir_with("onnxruntime-node");
  return d;
}

// Runs `model` in onnxruntime; nullopt when the runner itself failed.
std::optional<OrtResult> ort_run(const std::string& model, const std::vector<Input>& inputs,
                                 const std::string& opt = "disabled", const std::string& cwd = "") {
  TempDir io("ortio");
  json spec = {{"model", model}, {"opt", opt}, {"cwd", cwd.empty() ? json(nullptr) : json(cwd)}};
  json ins = json::object();
  for (const auto& in : inputs) {
    const std::string f = io / (in.name + ".bin");
    write_bytes(f, std::as_bytes(std::span<const float>(in.data)));
    ins[in.name] = {{"type", "float32"}, {"dims", in.dims}, {"file", f}};
  }
  spec["inputs"] = ins;
  const std::string sp = io / "spec.json";
  const std::string s = spec.dump();
  write_bytes(sp, std::as_bytes(std::span<const char>(s.data(), s.size())));
  auto out = run("node " + kTestDir + "/ort_run.mjs " + ort_dir() + " " + sp + " 2>&1");
  if (!out) return std::nullopt;
  const auto nl = out->find_last_of('{');
  if (nl == std::string::npos) {
    MESSAGE("unexpected runner output: " << *out);
    return std::nullopt;
  }
  json r = json::parse(out->substr(out->rfind("{\"ok\"")));
  OrtResult res;
  res.ok = r.at("ok");
  if (!res.ok) {
    res.error = r.at("error");
    return res;
  }
  for (auto& [name, t] : r.at("outputs").items()) {
    res.out[name] = t.at("data").get<std::vector<double>>();
    res.dims[name] = t.at("dims").get<std::vector<std::int64_t>>();
  }
  return res;
}

// Deterministic values in [-1, 1).
std::vector<float> values(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int>(s >> 9) % 2048 - 1024) / 1024.0f;
  }
  return v;
}

// Row-major [m,k] x [k,n] in double.
std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& w,
                           std::size_t m, std::size_t k, std::size_t n) {
  std::vector<double> y(m * n, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t p = 0; p < k; ++p) y[i * n + j] += a[i * k + p] * w[p * n + j];
  return y;
}
std::vector<double> to_d(const std::vector<float>& v) { return {v.begin(), v.end()}; }
void softmax_rows(std::vector<double>& v, std::size_t cols) {
  for (std::size_t r = 0; r < v.size() / cols; ++r) {
    double mx = -1e300, sum = 0;
    for (std::size_t c = 0; c < cols; ++c) mx = std::max(mx, v[r * cols + c]);
    for (std::size_t c = 0; c < cols; ++c) sum += std::exp(v[r * cols + c] - mx);
    for (std::size_t c = 0; c < cols; ++c) v[r * cols + c] = std::exp(v[r * cols + c] - mx) / sum;
  }
}
double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

std::vector<b::Dim> dims(std::initializer_list<std::int64_t> d) { return {d.begin(), d.end()}; }

// MLP: x[2,8] -> MatMul W1[8,16] -> Add b1 -> act -> MatMul W2[16,4] -> Add b2 -> Softmax.
struct Mlp {
  std::vector<float> w1 = values(8 * 16, 1), b1 = values(16, 2), w2 = values(16 * 4, 3),
                     b2 = values(4, 4), x = values(2 * 8, 5);
  Model model(const std::string& act, std::int64_t ir, std::int64_t opset, bool f16_w1) const {
    std::vector<Node> nodes;
    std::vector<Tensor> inits;
    if (f16_w1) {
      std::vector<std::uint16_t> h(w1.size());
      for (std::size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(w1[i]);
      inits.push_back(b::tensor("W1h", DataType::kFloat16, {8, 16}, h));
      nodes.push_back(
          b::node("Cast", {"W1h"}, {"W1"}, {b::attr("to", static_cast<int>(DataType::kFloat))}));
    } else {
      inits.push_back(b::tensor("W1", DataType::kFloat, {8, 16}, w1));
    }
    inits.push_back(b::tensor("B1", DataType::kFloat, {16}, b1));
    inits.push_back(b::tensor("W2", DataType::kFloat, {16, 4}, w2));
    inits.push_back(b::tensor("B2", DataType::kFloat, {4}, b2));
    for (auto n : {b::node("MatMul", {"x", "W1"}, {"h0"}), b::node("Add", {"h0", "B1"}, {"h1"}),
                   b::node(act, {"h1"}, {"h2"}), b::node("MatMul", {"h2", "W2"}, {"h3"}),
                   b::node("Add", {"h3", "B2"}, {"h4"}),
                   b::node("Softmax", {"h4"}, {"y"}, {b::attr("axis", -1)})}) {
      nodes.push_back(std::move(n));
    }
    Graph g = b::graph(std::move(nodes), "mlp",
                       {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{"batch", 8})},
                       {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{"batch", 4})},
                       std::move(inits));
    return b::model(std::move(g), ir, {b::opset("", opset)});
  }
  std::vector<double> reference(const std::string& act, bool f16_w1) const {
    std::vector<double> w = to_d(w1);
    if (f16_w1) {
      for (std::size_t i = 0; i < w.size(); ++i) w[i] = f16_to_f32(f32_to_f16(w1[i]));
    }
    auto h = matmul(to_d(x), w, 2, 8, 16);
    for (std::size_t i = 0; i < h.size(); ++i) {
      h[i] += b1[i % 16];
      h[i] =
          act == "Relu" ? std::max(0.0, h[i]) : 0.5 * h[i] * (1 + std::erf(h[i] / std::sqrt(2.0)));
    }
    auto y = matmul(h, to_d(w2), 2, 16, 4);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] += b2[i % 4];
    softmax_rows(y, 4);
    return y;
  }
};

}  // namespace

TEST_CASE("onnxruntime runs MLPs written by edgequant (float32, float16 weights, Gelu)") {
  if (ort_dir().empty()) return;
  TempDir d("ort_mlp");
  const Mlp mlp;
  struct Case {
    const char* act;
    std::int64_t ir, opset;
    bool f16;
  };
  for (const Case c :
       {Case{"Relu", 8, 17, false}, Case{"Relu", 10, 21, true}, Case{"Gelu", 10, 21, false}}) {
    CAPTURE(std::string(c.act));
    CAPTURE(c.f16);
    const Model m = mlp.model(c.act, c.ir, c.opset, c.f16);
    CHECK(validate(m).ok());
    const std::string path = d / (std::string(c.act) + (c.f16 ? "_f16" : "") + ".onnx");
    REQUIRE(write_model(m, path));
    auto r = ort_run(path, {{"x", {2, 8}, mlp.x}});
    REQUIRE(r);
    REQUIRE_MESSAGE(r->ok, r->error);
    CHECK(r->dims["y"] == std::vector<std::int64_t>{2, 4});
    const double err = max_abs_diff(r->out["y"], mlp.reference(c.act, c.f16));
    MESSAGE("MLP " << std::string(c.act) << (c.f16 ? " fp16 W1" : "")
                   << ": max |ORT - reference| = " << err);
    CHECK(err <= kTol);
  }
}

TEST_CASE("onnxruntime runs an attention block written by edgequant") {
  if (ort_dir().empty()) return;
  // x[1,T,D] -> Q,K,V -> two heads: Reshape [1,T,H,dh] + Transpose -> softmax(Q K^T * s) V ->
  // [1,T,D].
  constexpr std::int64_t T = 4, D = 8, H = 2, dh = 4;
  const auto wq = values(D * D, 11), wk = values(D * D, 12), wv = values(D * D, 13),
             x = values(T * D, 14);
  const float scale = 0.5f;  // 1/sqrt(dh)
  std::vector<Node> nodes = {
      b::node("MatMul", {"x", "Wq"}, {"q"}),
      b::node("MatMul", {"x", "Wk"}, {"k"}),
      b::node("MatMul", {"x", "Wv"}, {"v"}),
      b::node("Reshape", {"q", "heads"}, {"q4"}),
      b::node("Reshape", {"k", "heads"}, {"k4"}),
      b::node("Reshape", {"v", "heads"}, {"v4"}),
      b::node("Transpose", {"q4"}, {"qh"}, {b::attr_ints("perm", {0, 2, 1, 3})}),
      b::node("Transpose", {"k4"}, {"kt"}, {b::attr_ints("perm", {0, 2, 3, 1})}),
      b::node("Transpose", {"v4"}, {"vh"}, {b::attr_ints("perm", {0, 2, 1, 3})}),
      b::node("MatMul", {"qh", "kt"}, {"s0"}),
      b::node("Mul", {"s0", "scale"}, {"s1"}),
      b::node("Softmax", {"s1"}, {"p"}, {b::attr("axis", -1)}),
      b::node("MatMul", {"p", "vh"}, {"o4"}),
      b::node("Transpose", {"o4"}, {"o3"}, {b::attr_ints("perm", {0, 2, 1, 3})}),
      b::node("Reshape", {"o3", "merged"}, {"y"}),
  };
  Graph g = b::graph(
      std::move(nodes), "attn", {b::value_info("x", DataType::kFloat, dims({1, T, D}))},
      {b::value_info("y", DataType::kFloat, dims({1, T, D}))},
      {b::tensor("Wq", DataType::kFloat, {D, D}, wq), b::tensor("Wk", DataType::kFloat, {D, D}, wk),
       b::tensor("Wv", DataType::kFloat, {D, D}, wv),
       b::tensor("heads", DataType::kInt64, {4}, std::vector<std::int64_t>{1, T, H, dh}),
       b::tensor("merged", DataType::kInt64, {3}, std::vector<std::int64_t>{1, T, D}),
       b::tensor("scale", DataType::kFloat, {}, std::vector<float>{scale})});
  const Model m = b::model(std::move(g), 10, {b::opset("", 21)});
  CHECK(validate(m).ok());
  TempDir d("ort_attn");
  REQUIRE(write_model(m, d / "attn.onnx"));
  // Reference.
  const auto q = matmul(to_d(x), to_d(wq), T, D, D), k = matmul(to_d(x), to_d(wk), T, D, D),
             v = matmul(to_d(x), to_d(wv), T, D, D);
  std::vector<double> y(T * D, 0.0);
  for (std::int64_t h = 0; h < H; ++h) {
    std::vector<double> s(T * T);
    for (std::int64_t i = 0; i < T; ++i)
      for (std::int64_t j = 0; j < T; ++j) {
        double acc = 0;
        for (std::int64_t c = 0; c < dh; ++c) acc += q[i * D + h * dh + c] * k[j * D + h * dh + c];
        s[i * T + j] = acc * scale;
      }
    softmax_rows(s, T);
    for (std::int64_t i = 0; i < T; ++i)
      for (std::int64_t c = 0; c < dh; ++c)
        for (std::int64_t j = 0; j < T; ++j)
          y[i * D + h * dh + c] += s[i * T + j] * v[j * D + h * dh + c];
  }
  for (const char* opt : {"disabled", "all"}) {
    CAPTURE(std::string(opt));
    auto r = ort_run(d / "attn.onnx", {{"x", {1, T, D}, x}}, opt);
    REQUIRE(r);
    REQUIRE_MESSAGE(r->ok, r->error);
    CHECK(r->dims["y"] == std::vector<std::int64_t>{1, T, D});
    const double err = max_abs_diff(r->out["y"], y);
    MESSAGE("attention (" << std::string(opt) << "): max |ORT - reference| = " << err);
    CHECK(err <= kTol);
  }
}

TEST_CASE("onnxruntime loads initializers from external data, from another working folder") {
  if (ort_dir().empty()) return;
  TempDir d("ort_ext");
  const Mlp mlp;
  const Model m = mlp.model("Relu", 8, 17, false);
  WriteOptions opt;
  opt.external = WriteOptions::External::kExternal;
  opt.size_threshold = 0;
  opt.align_threshold = 0;  // every tensor at a 4096 boundary
  REQUIRE(write_model(m, d / "ext.onnx", opt));
  WriteOptions packed = opt;
  packed.alignment = 0;  // back to back, unaligned offsets
  packed.data_location = "packed.bin";
  REQUIRE(write_model(m, d / "packed.onnx", packed));
  auto check = read_model(d / "ext.onnx");
  REQUIRE(check);
  for (const auto& t : check->graph->initializer) CHECK(t.is_external());
  for (const char* f : {"ext.onnx", "packed.onnx"}) {
    CAPTURE(std::string(f));
    auto r = ort_run(d / f, {{"x", {2, 8}, mlp.x}}, "disabled", "/");
    REQUIRE(r);
    REQUIRE_MESSAGE(r->ok, r->error);
    const double err = max_abs_diff(r->out["y"], mlp.reference("Relu", false));
    MESSAGE("external data (" << std::string(f) << "): max |ORT - reference| = " << err);
    CHECK(err <= kTol);
  }
}

TEST_CASE("onnxruntime dequantizes hand-packed INT4/UINT4 blocked weights as computed by hand") {
  if (ort_dir().empty()) return;
  TempDir d("ort_int4");
  // INT4 W[4,2] = [[1,-2],[7,-8],[-1,3],[0,5]], block 2 along K (axis 0), no zero point.
  // Nibbles low first over the flattened tensor: (1,-2)->0xE1 (7,-8)->0x87 (-1,3)->0x3F
  // (0,5)->0x50. scales[2,2] = [[0.5,0.25],[2,-1]] -> W = [[0.5,-0.5],[3.5,-2],[-2,-3],[0,-5]]; x =
  // [1,2,3,4] -> y = [0.5+7-6+0, -0.5-4-9-20] = [1.5, -33.5].
  {
    Graph g = b::graph(
        {b::node("DequantizeLinear", {"Wq", "Ws"}, {"W"},
                 {b::attr("axis", 0), b::attr("block_size", 2)}),
         b::node("MatMul", {"x", "W"}, {"y"})},
        "int4", {b::value_info("x", DataType::kFloat, dims({1, 4}))},
        {b::value_info("y", DataType::kFloat, dims({1, 2}))},
        {b::tensor("Wq", DataType::kInt4, {4, 2},
                   Bytes::copy_of(std::span<const std::uint8_t>(
                       std::vector<std::uint8_t>{0xE1, 0x87, 0x3F, 0x50}))),
         b::tensor("Ws", DataType::kFloat, {2, 2}, std::vector<float>{0.5f, 0.25f, 2.0f, -1.0f})});
    const Model m = b::model(std::move(g), 10, {b::opset("", 21)});
    CHECK(validate(m).ok());
    REQUIRE(write_model(m, d / "int4.onnx"));
    for (const char* opt : {"disabled", "all"}) {
      CAPTURE(std::string(opt));
      auto r = ort_run(d / "int4.onnx", {{"x", {1, 4}, {1, 2, 3, 4}}}, opt);
      REQUIRE(r);
      REQUIRE_MESSAGE(r->ok, r->error);
      CHECK(r->out["y"] == std::vector<double>{1.5, -33.5});
    }
  }
  // UINT4 W[3,3] with zero points, 9 elements (odd: the last high nibble is padding),
  // block 2 over K=3 (the last block is partial).
  // codes [[0,15,8],[3,9,12],[7,1,4]] -> bytes 0xF0 0x38 0xC9 0x17 0x04
  // zp[2,3] = [[8,0,15],[2,8,4]] -> bytes 0x08 0x2F 0x48
  // scales[2,3] = [[0.5,0.125,1],[-1,4,0.5]]
  // W = [[-4,1.875,-7],[-2.5,1.125,-3],[-5,-28,0]]; x = [2,-1,0.5]
  // y = [-8+2.5-2.5, 3.75-1.125-14, -14+3+0] = [-8, -11.375, -11]
  {
    const auto u8 = [](std::vector<std::uint8_t> v) {
      return Bytes::copy_of(std::span<const std::uint8_t>(v));
    };
    Graph g =
        b::graph({b::node("DequantizeLinear", {"Wq", "Ws", "Wz"}, {"W"},
                          {b::attr("axis", 0), b::attr("block_size", 2)}),
                  b::node("MatMul", {"x", "W"}, {"y"})},
                 "uint4", {b::value_info("x", DataType::kFloat, dims({1, 3}))},
                 {b::value_info("y", DataType::kFloat, dims({1, 3}))},
                 {b::tensor("Wq", DataType::kUint4, {3, 3}, u8({0xF0, 0x38, 0xC9, 0x17, 0x04})),
                  b::tensor("Ws", DataType::kFloat, {2, 3},
                            std::vector<float>{0.5f, 0.125f, 1.0f, -1.0f, 4.0f, 0.5f}),
                  b::tensor("Wz", DataType::kUint4, {2, 3}, u8({0x08, 0x2F, 0x48}))});
    const Model m = b::model(std::move(g), 10, {b::opset("", 21)});
    CHECK(validate(m).ok());
    REQUIRE(write_model(m, d / "uint4.onnx"));
    for (const char* opt : {"disabled", "all"}) {
      CAPTURE(std::string(opt));
      auto r = ort_run(d / "uint4.onnx", {{"x", {1, 3}, {2, -1, 0.5f}}}, opt);
      REQUIRE(r);
      REQUIRE_MESSAGE(r->ok, r->error);
      CHECK(r->out["y"] == std::vector<double>{-8, -11.375, -11});
    }
  }
}

TEST_CASE("onnxruntime 1.30 loads IR 10 to 13 and rejects IR 14") {
  if (ort_dir().empty()) return;
  TempDir d("ort_ir");
  for (std::int64_t ir : {8, 10, 11, 12, 13, 14}) {
    CAPTURE(ir);
    Graph g = b::graph({b::node("Relu", {"x"}, {"y"})}, "ir",
                       {b::value_info("x", DataType::kFloat, dims({2}))},
                       {b::value_info("y", DataType::kFloat, dims({2}))});
    const std::int64_t opset = ir >= 13 ? 25 : ir >= 10 ? 21 : 17;
    const Model m = b::model(std::move(g), ir, {b::opset("", opset)});
    const std::string p = d / ("ir" + std::to_string(ir) + ".onnx");
    REQUIRE(write_model(m, p));
    auto r = ort_run(p, {{"x", {2}, {-1.0f, 2.0f}}});
    REQUIRE(r);
    if (ir <= 13) {
      REQUIRE_MESSAGE(r->ok, r->error);
      CHECK(r->out["y"] == std::vector<double>{0.0, 2.0});
      CHECK(validate(m).ok());
    } else {
      CHECK_FALSE(r->ok);
      MESSAGE("IR 14: " << r->error);
      CHECK(validate(m).warnings() == 1);
    }
  }
}

namespace {

// A test-local blockwise INT4 weight quantizer plugged into rewrite_weights:
// symmetric, scale = absmax / 7 per block of `block` rows of W[K,N], codes
// round(w / scale) clamped to [-8, 7]. Not ORT's arithmetic (quantize-onnx owns
// that); it drives the rewrite API and INT4 packing through the real runtime.
struct Int4Qdq {
  std::int64_t block;
  std::map<std::string, std::pair<std::vector<std::int8_t>, std::vector<float>>>
      made;  // codes, scales

  Expected<std::optional<Replacement>> operator()(const Node& n, const Tensor& w) {
    const std::int64_t K = w.dims[0], N = w.dims[1], nb = (K + block - 1) / block;
    auto f = to_floats(w);
    if (!f) return std::move(f).error();
    std::vector<std::int8_t> q(static_cast<std::size_t>(K * N));
    std::vector<float> s(static_cast<std::size_t>(nb * N));
    for (std::int64_t bi = 0; bi < nb; ++bi)
      for (std::int64_t c = 0; c < N; ++c) {
        float amax = 0;
        for (std::int64_t k = bi * block; k < std::min(K, (bi + 1) * block); ++k)
          amax = std::max(amax, std::abs((*f)[k * N + c]));
        const float sc = amax > 0 ? amax / 7.0f : 1.0f;
        s[bi * N + c] = sc;
        for (std::int64_t k = bi * block; k < std::min(K, (bi + 1) * block); ++k) {
          q[k * N + c] = static_cast<std::int8_t>(
              std::clamp(std::nearbyint((*f)[k * N + c] / sc), -8.0f, 7.0f));
        }
      }
    std::vector<std::uint8_t> codes(q.size());
    for (std::size_t i = 0; i < q.size(); ++i) codes[i] = static_cast<std::uint8_t>(q[i]) & 15;
    made[w.name] = {q, s};
    Replacement r;
    r.initializers.push_back(
        b::tensor(w.name + "_q", DataType::kInt4, {K, N}, Bytes::own(pack_bits(codes, 4))));
    r.initializers.push_back(b::tensor(w.name + "_s", DataType::kFloat, {nb, N}, s));
    r.nodes.push_back(
        b::node("DequantizeLinear", {w.name + "_q", w.name + "_s"}, {n.output[0] + "_w"},
                {b::attr("axis", 0), b::attr("block_size", block)}, n.output[0] + "_dq"));
    r.nodes.push_back(b::node("MatMul", {n.input[0], n.output[0] + "_w"}, n.output, {}, n.name));
    r.opsets.push_back(b::opset("", 21));
    r.min_ir_version = 10;
    return std::optional<Replacement>(std::move(r));
  }
};

}  // namespace

TEST_CASE(
    "onnxruntime runs an MLP whose weights rewrite_weights turned into INT4 DequantizeLinear") {
  if (ort_dir().empty()) return;
  TempDir d("ort_rewrite");
  Mlp mlp;
  Model m = mlp.model("Relu", 8, 17, false);
  Int4Qdq q{4, {}};
  auto rep = rewrite_weights(m, std::ref(q));
  REQUIRE_MESSAGE(rep, (rep ? "" : rep.error().message()));
  CHECK(rep->rewritten == 2);
  CHECK(rep->weight_bytes == (8 * 16 + 16 * 4) * 4);
  CHECK(rep->replacement_bytes == (8 * 16 + 16 * 4) / 2 + (2 * 16 + 4 * 4) * 4);
  CHECK(m.ir_version == 10);
  CHECK(m.opset_version("") == 21);
  CHECK(validate(m).ok());
  REQUIRE(write_model(m, d / "q.onnx"));
  // Duplicate node names: ORT refuses them ("two nodes with same node name"), so does validate.
  Model dup = m;
  for (auto& nd : dup.graph->node) nd.name = "same";
  CHECK_FALSE(validate(dup).ok());
  // Reference: dequantize the codes and scales the quantizer made, by hand.
  const auto deq = [&](const std::string& name, std::size_t K, std::size_t N) {
    const auto& [codes, scales] = q.made.at(name);
    std::vector<double> w(K * N);
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t c = 0; c < N; ++c)
        w[k * N + c] = static_cast<double>(codes[k * N + c] * scales[(k / 4) * N + c]);
    return w;
  };
  auto h = matmul(to_d(mlp.x), deq("W1", 8, 16), 2, 8, 16);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = std::max(0.0, h[i] + mlp.b1[i % 16]);
  auto y = matmul(h, deq("W2", 16, 4), 2, 16, 4);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += mlp.b2[i % 4];
  softmax_rows(y, 4);
  for (const char* opt : {"disabled", "all"}) {
    CAPTURE(std::string(opt));
    auto r = ort_run(d / "q.onnx", {{"x", {2, 8}, mlp.x}}, opt);
    REQUIRE(r);
    REQUIRE_MESSAGE(r->ok, r->error);
    const double err = max_abs_diff(r->out["y"], y);
    MESSAGE("INT4 QDQ MLP (" << std::string(opt) << "): max |ORT - reference| = " << err);
    CHECK(err <= kTol);
  }
}

}  // namespace eqtest_formats_onnx_ort_interop_test
