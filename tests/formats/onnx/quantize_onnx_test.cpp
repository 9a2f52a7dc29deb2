// quantize-onnx and gguf-to-matmulnbits: hand-derived MatMulNBits / QDQ bytes,
// models quantized in every format run in onnxruntime-node (CPU) and match a
// reference that dequantizes the written initializers by the spec's formulas
// (specs/onnx.md §4, §6.3) and multiplies in double; the CLI's plan, errors and
// atomicity; inspect/validate on .onnx.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/onnx/quantize.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/quantize.hpp"
#include "formats/onnx/onnx_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_quantize_onnx_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {

// ------------------------------------------------------------ harness -----

struct In {
  std::string name, type;  // "float32" or "int64"
  std::vector<std::int64_t> dims;
  std::vector<std::byte> bytes;
};
template <class T>
In input(std::string name, std::string type, std::vector<std::int64_t> dims,
         const std::vector<T>& v) {
  auto s = std::as_bytes(std::span<const T>(v));
  return {std::move(name), std::move(type), std::move(dims), {s.begin(), s.end()}};
}

struct OrtOut {
  bool ok = false;
  std::string error;
  std::map<std::string, std::vector<double>> out;
};

std::string ort_dir() {
  static const std::string d = eqtest::node_dir_with("onnxruntime-node");
  return d;
}

// One model in onnxruntime-node through tests/formats/onnx/ort_run.mjs.
// opt "all0": all optimizations, but a DequantizeLinear -> MatMul that ORT
// fuses into MatMulNBits keeps accuracy_level 0 (ORT's default for the fused
// node is 4: A quantized to int8, session.qdq_matmulnbits_accuracy_level).
OrtOut ort_run(const std::string& model, const std::vector<In>& ins, const std::string& opt) {
  TempDir io("qio");
  json spec = {{"model", model}, {"opt", opt == "all0" ? "all" : opt}, {"cwd", nullptr}};
  if (opt == "all0") spec["extra"] = {{"session", {{"qdq_matmulnbits_accuracy_level", "0"}}}};
  json j = json::object();
  for (const auto& in : ins) {
    const std::string f = io / (in.name + ".bin");
    write_bytes(f, in.bytes);
    j[in.name] = {{"type", in.type}, {"dims", in.dims}, {"file", f}};
  }
  spec["inputs"] = j;
  const std::string sp = io / "spec.json", s = spec.dump();
  write_bytes(sp, std::as_bytes(std::span<const char>(s.data(), s.size())));
  auto out = run("node " + kTestDir + "/ort_run.mjs " + ort_dir() + " " + sp + " 2>&1");
  REQUIRE(out);
  const auto at = out->rfind("{\"ok\"");
  REQUIRE_MESSAGE(at != std::string::npos, *out);
  json r = json::parse(out->substr(at));
  OrtOut o;
  o.ok = r.at("ok");
  if (!o.ok) {
    o.error = r.at("error");
    return o;
  }
  for (auto& [name, t] : r.at("outputs").items()) o.out[name] = t.at("data").get<std::vector<double>>();
  return o;
}

struct Cli {
  int rc = -1;
  std::string out;
};
std::string cli() {
#ifdef EDGEQUANT_CLI
  return EDGEQUANT_CLI;
#else
  MESSAGE("SKIPPED: the edgequant CLI is not built (EDGEQUANT_BUILD_EXAMPLES=OFF)");
  return {};
#endif
}
Cli run_cli(const std::string& args) {
  Cli r;
  std::FILE* p = ::popen((cli() + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<float> values(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  std::uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int>(s >> 9) % 2048 - 1024) / 1024.0f;
  }
  return v;
}

std::vector<std::uint8_t> u8(const Tensor& t) {
  auto d = t.data.span();
  const auto* p = reinterpret_cast<const std::uint8_t*>(d.data());
  return {p, p + d.size()};
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// ------------------------------------------------- reference dequantizers ---
// Written from the spec's formulas (§6.3, §4), not from the quantizer.

std::uint32_t bits_at(const std::vector<std::uint8_t>& p, std::size_t i, int bits) {
  const std::size_t bit = i * static_cast<std::size_t>(bits);
  return (p[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}
float f32_at(const Tensor& t, std::size_t i) {
  auto d = u8(t);
  if (t.data_type == static_cast<std::int32_t>(DataType::kFloat16)) {
    return f16_to_f32(static_cast<std::uint16_t>(d[2 * i] | d[2 * i + 1] << 8));
  }
  float f;
  std::memcpy(&f, d.data() + 4 * i, 4);
  return f;
}

// MatMulNBits node -> W [K, N] in double: W[k][n] = (q - zp) * scale[n*nb + b].
std::vector<double> deq_nbits(const Graph& g, const Node& n) {
  std::map<std::string, std::int64_t> a;
  for (const auto& at : n.attribute) a[at.name] = at.i;
  const std::int64_t K = a.at("K"), N = a.at("N"), bits = a.at("bits"), bs = a.at("block_size");
  const std::int64_t nb = (K + bs - 1) / bs, blob = bs * bits / 8;
  const Tensor* B = g.find_initializer(n.input[1]);
  const Tensor* S = g.find_initializer(n.input[2]);
  const Tensor* Z = n.input.size() > 3 ? g.find_initializer(n.input[3]) : nullptr;
  REQUIRE(B);
  REQUIRE(S);
  CHECK(B->dims == std::vector<std::int64_t>{N, nb, blob});
  const auto bq = u8(*B);
  const auto zq = Z ? u8(*Z) : std::vector<std::uint8_t>{};
  const std::int64_t zrow = (nb * bits + 7) / 8;
  std::vector<double> w(static_cast<std::size_t>(K * N));
  for (std::int64_t c = 0; c < N; ++c)
    for (std::int64_t k = 0; k < K; ++k) {
      const std::int64_t blk = k / bs, j = k % bs;
      std::vector<std::uint8_t> one(bq.begin() + (c * nb + blk) * blob,
                                    bq.begin() + (c * nb + blk + 1) * blob);
      const int q = static_cast<int>(bits_at(one, static_cast<std::size_t>(j), static_cast<int>(bits)));
      int zp = 1 << (bits - 1);
      if (Z) {
        std::vector<std::uint8_t> zr(zq.begin() + c * zrow, zq.begin() + (c + 1) * zrow);
        zp = static_cast<int>(bits_at(zr, static_cast<std::size_t>(blk), static_cast<int>(bits)));
      }
      w[static_cast<std::size_t>(k * N + c)] =
          (q - zp) * static_cast<double>(f32_at(*S, static_cast<std::size_t>(c * nb + blk)));
    }
  return w;
}

// DequantizeLinear(x [K, N], scale, zp, axis, block_size) -> W in double.
std::vector<double> deq_qdq(const Graph& g, const Node& n) {
  std::int64_t axis = 1, bs = 0;
  for (const auto& at : n.attribute) {
    if (at.name == "axis") axis = at.i;
    if (at.name == "block_size") bs = at.i;
  }
  const Tensor* X = g.find_initializer(n.input[0]);
  const Tensor* S = g.find_initializer(n.input[1]);
  const Tensor* Z = n.input.size() > 2 ? g.find_initializer(n.input[2]) : nullptr;
  REQUIRE(X);
  REQUIRE(S);
  const std::int64_t K = X->dims[0], N = X->dims[1];
  const int bits = X->data_type == static_cast<std::int32_t>(DataType::kInt4) ||
                           X->data_type == static_cast<std::int32_t>(DataType::kUint4)
                       ? 4
                       : 8;
  const bool sgn = X->data_type == static_cast<std::int32_t>(DataType::kInt4) ||
                   X->data_type == static_cast<std::int32_t>(DataType::kInt8);
  const auto xq = u8(*X);
  const auto zq = Z ? u8(*Z) : std::vector<std::uint8_t>{};
  const auto val = [&](const std::vector<std::uint8_t>& p, std::size_t i) {
    int v = static_cast<int>(bits_at(p, i, bits));
    if (sgn && v >= (1 << (bits - 1))) v -= 1 << bits;
    return v;
  };
  std::vector<double> w(static_cast<std::size_t>(K * N));
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t c = 0; c < N; ++c) {
      std::size_t si;
      if (bs == 0) {
        CHECK(axis == 1);
        si = static_cast<std::size_t>(c);
      } else {
        CHECK(axis == 0);
        si = static_cast<std::size_t>((k / bs) * N + c);
      }
      const int q = val(xq, static_cast<std::size_t>(k * N + c));
      const int zp = Z ? val(zq, si) : 0;
      w[static_cast<std::size_t>(k * N + c)] = (q - zp) * static_cast<double>(f32_at(*S, si));
    }
  return w;
}

// --------------------------------------------------------------- model ----
// ids[1,T] -> Gather(E) -> MatMul W1[64,48] -> Add -> Relu -> MatMul W2[48,40]
// -> h [1,T,40]; attention-like: softmax(h @ h^T) @ h (a MatMul whose B is not
// constant) -> MatMul Wo[40,8] -> y[1,T,8]. K = 64, 48, 40: whole and partial
// blocks for every block size.
constexpr std::int64_t T = 3, V = 10, D = 64, H = 48, E = 40, O = 8;

struct Net {
  std::vector<float> emb = values(V * D, 1), w1 = values(D * H, 2), b1 = values(H, 3),
                     w2 = values(H * E, 4), wo = values(E * O, 5);
  std::vector<std::int64_t> ids{7, 0, 3};

  Model model() const {
    std::vector<Node> nodes{
        b::node("Gather", {"E", "ids"}, {"x"}, {}, "embed"),
        b::node("MatMul", {"x", "W1"}, {"h0"}, {}, "fc1"),
        b::node("Add", {"h0", "B1"}, {"h1"}, {}, "add1"),
        b::node("Relu", {"h1"}, {"h2"}, {}, "relu"),
        b::node("MatMul", {"h2", "W2"}, {"h"}, {}, "fc2"),
        b::node("Transpose", {"h"}, {"ht"}, {b::attr_ints("perm", {0, 2, 1})}, "tr"),
        b::node("MatMul", {"h", "ht"}, {"s"}, {}, "scores"),
        b::node("Softmax", {"s"}, {"p"}, {b::attr("axis", -1)}, "softmax"),
        b::node("MatMul", {"p", "h"}, {"a"}, {}, "mix"),
        b::node("MatMul", {"a", "Wo"}, {"y"}, {}, "out"),
    };
    Graph g = b::graph(
        std::move(nodes), "net",
        {b::value_info("ids", DataType::kInt64, std::vector<b::Dim>{1, "T"})},
        {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{1, "T", O})},
        {b::tensor("E", DataType::kFloat, {V, D}, emb), b::tensor("W1", DataType::kFloat, {D, H}, w1),
         b::tensor("B1", DataType::kFloat, {H}, b1), b::tensor("W2", DataType::kFloat, {H, E}, w2),
         b::tensor("Wo", DataType::kFloat, {E, O}, wo)});
    Model m = b::model(std::move(g), 8, {b::opset("", 17)});
    m.metadata_props.push_back({});
    m.metadata_props.back().key = "origin";
    m.metadata_props.back().value = "edgequant test";
    return m;
  }

  // Forward pass in double with the given [K, N] weights.
  std::vector<double> forward(const std::vector<double>& W1, const std::vector<double>& W2,
                              const std::vector<double>& Wo,
                              const std::vector<double>* table = nullptr) const {
    const auto mm = [](const std::vector<double>& a, const std::vector<double>& w, std::int64_t m,
                       std::int64_t k, std::int64_t n) {
      std::vector<double> y(static_cast<std::size_t>(m * n), 0.0);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j)
          for (std::int64_t p = 0; p < k; ++p) y[i * n + j] += a[i * k + p] * w[p * n + j];
      return y;
    };
    std::vector<double> x;
    for (auto id : ids)
      for (std::int64_t c = 0; c < D; ++c) {
        const auto i = static_cast<std::size_t>(id * D + c);
        x.push_back(table ? (*table)[i] : emb[i]);
      }
    auto h = mm(x, W1, T, D, H);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = std::max(0.0, h[i] + b1[i % H]);
    h = mm(h, W2, T, H, E);
    std::vector<double> s(T * T), a(T * E, 0.0);
    for (std::int64_t i = 0; i < T; ++i) {
      double mx = -1e300, sum = 0;
      for (std::int64_t j = 0; j < T; ++j) {
        double acc = 0;
        for (std::int64_t c = 0; c < E; ++c) acc += h[i * E + c] * h[j * E + c];
        s[i * T + j] = acc;
        mx = std::max(mx, acc);
      }
      for (std::int64_t j = 0; j < T; ++j) sum += (s[i * T + j] = std::exp(s[i * T + j] - mx));
      for (std::int64_t j = 0; j < T; ++j)
        for (std::int64_t c = 0; c < E; ++c) a[i * E + c] += s[i * T + j] / sum * h[j * E + c];
    }
    return mm(a, Wo, T, E, O);
  }
  static std::vector<double> d(const std::vector<float>& v) { return {v.begin(), v.end()}; }
};

const Node* find_node(const Graph& g, std::string_view op, std::string_view out_or_in) {
  for (const auto& n : g.node) {
    if (n.op_type != op) continue;
    for (const auto& o : n.output)
      if (o == out_or_in) return &n;
    for (const auto& i : n.input)
      if (i == out_or_in) return &n;
  }
  return nullptr;
}

// The dequantized weight that feeds MatMul output `out` in a quantized model.
std::vector<double> weight_of(const Graph& g, const std::string& out) {
  if (const Node* n = find_node(g, "MatMulNBits", out)) return deq_nbits(g, *n);
  for (const auto& mm : g.node) {
    if (mm.op_type != "MatMul" || mm.output[0] != out) continue;
    for (const auto& dq : g.node)
      if (dq.op_type == "DequantizeLinear" && dq.output[0] == mm.input[1]) return deq_qdq(g, dq);
  }
  FAIL("no quantized weight for " << out);
  return {};
}

}  // namespace

TEST_CASE("MatMulNBits bytes of a tiny weight, derived by hand (§6.3, §6.4)") {
  // W[16, 2]: column 0 = (k - 8) / 4, column 1 = (8 - k) / 4, k = 0..15.
  // Symmetric, 4 bits, block 16:
  //   col 0: min -2, max 1.75 -> m = -2 (larger magnitude), scale = -m/8 = 0.25,
  //          q = round(v * 4 + 8) = k.
  //   col 1: min -1.75, max 2 -> m = 2, scale = -0.25, q = round(v * -4 + 8) = k.
  // Blob byte j = q[2j] | q[2j+1] << 4 -> 0x10 0x32 0x54 0x76 0x98 0xBA 0xDC 0xFE per column.
  std::vector<float> w(32);
  for (int k = 0; k < 16; ++k) {
    w[static_cast<std::size_t>(2 * k)] = static_cast<float>(k - 8) / 4.0f;
    w[static_cast<std::size_t>(2 * k + 1)] = static_cast<float>(8 - k) / 4.0f;
  }
  const auto make = [&] {
    Graph g = b::graph({b::node("MatMul", {"x", "W"}, {"y"}, {}, "mm")}, "tiny",
                       {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{1, 16})},
                       {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{1, 2})},
                       {b::tensor("W", DataType::kFloat, {16, 2}, w)});
    return b::model(std::move(g), 8, {b::opset("", 17)});
  };
  const std::vector<std::uint8_t> blob{0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE};
  TempDir d("qtiny");
  {
    Model m = make();
    WeightQuantOptions o;
    o.block = 16;
    auto r = quantize_weights(m, o);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    REQUIRE(write_model(m, d / "sym.onnx"));
    auto back = read_model(d / "sym.onnx");
    REQUIRE(back);
    const Graph& g = *back->graph;
    REQUIRE(g.node.size() == 1);
    const Node& n = g.node[0];
    CHECK(n.op_type == "MatMulNBits");
    CHECK(n.domain == "com.microsoft");
    CHECK(n.name == "mm_Q4");
    CHECK(n.input == std::vector<std::string>{"x", "W_Q4", "W_scales"});
    CHECK(n.output == std::vector<std::string>{"y"});
    std::vector<std::pair<std::string, std::int64_t>> attrs;
    for (const auto& a : n.attribute) attrs.push_back({a.name, a.i});
    CHECK(attrs == std::vector<std::pair<std::string, std::int64_t>>{
                       {"K", 16}, {"N", 2}, {"bits", 4}, {"block_size", 16}});
    REQUIRE(g.initializer.size() == 2);  // W removed
    CHECK(g.initializer[0].name == "W_Q4");
    CHECK(g.initializer[0].dims == std::vector<std::int64_t>{2, 1, 8});
    std::vector<std::uint8_t> both = blob;
    both.insert(both.end(), blob.begin(), blob.end());
    CHECK(u8(g.initializer[0]) == both);
    CHECK(g.initializer[1].name == "W_scales");
    CHECK(g.initializer[1].dims == std::vector<std::int64_t>{2});
    CHECK(f32_at(g.initializer[1], 0) == 0.25f);
    CHECK(f32_at(g.initializer[1], 1) == -0.25f);
    CHECK(back->opset_version("com.microsoft") == 1);
    CHECK(back->opset_version("") == 17);
  }
  // Asymmetric: col 0 range [-2, 1.75] -> scale 3.75/15 = 0.25, zp = 0 - (-2)/0.25 = 8,
  // q = round(v*4 + 8) = k; col 1 range [-1.75, 2] -> scale 0.25, zp = 1.75/0.25 = 7,
  // q = round((8-k) + 7) = 15 - k. Zero points: one nibble per row, the padding nibble 8
  // (§6.3) -> 0x88, 0x87.
  {
    Model m = make();
    WeightQuantOptions o;
    o.block = 16;
    o.symmetric = false;
    o.accuracy_level = 4;
    REQUIRE(quantize_weights(m, o));
    REQUIRE(write_model(m, d / "asym.onnx"));
    auto back = read_model(d / "asym.onnx");
    REQUIRE(back);
    const Graph& g = *back->graph;
    const Node& n = g.node[0];
    CHECK(n.input == std::vector<std::string>{"x", "W_Q4", "W_scales", "W_zero_points"});
    CHECK(n.attribute.back().name == "block_size");
    CHECK(n.attribute[0].name == "K");
    bool acc = false;
    for (const auto& a : n.attribute) acc = acc || (a.name == "accuracy_level" && a.i == 4);
    CHECK(acc);
    const std::vector<std::uint8_t> col1{0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01};
    std::vector<std::uint8_t> both = blob;
    both.insert(both.end(), col1.begin(), col1.end());
    CHECK(u8(*g.find_initializer("W_Q4")) == both);
    CHECK(f32_at(*g.find_initializer("W_scales"), 0) == 0.25f);
    CHECK(f32_at(*g.find_initializer("W_scales"), 1) == 0.25f);
    CHECK(u8(*g.find_initializer("W_zero_points")) == std::vector<std::uint8_t>{0x88, 0x87});
  }
  // QDQ int4 symmetric (ORT's MLAS QDQ): signed codes q = round(v / scale) in [-8, 7]:
  // col 0 scale 0.25 -> k - 8; col 1 scale -0.25 -> k - 8 as well. Flattened [16, 2]
  // pairs (col0, col1) per byte: (k-8) & 15 in both nibbles.
  {
    Model m = make();
    WeightQuantOptions o;
    o.format = WeightFormat::kQdq;
    o.block = 16;
    REQUIRE(quantize_weights(m, o));
    REQUIRE(write_model(m, d / "qdq.onnx"));
    auto back = read_model(d / "qdq.onnx");
    REQUIRE(back);
    const Graph& g = *back->graph;
    REQUIRE(g.node.size() == 2);
    CHECK(g.node[0].op_type == "DequantizeLinear");
    CHECK(g.node[0].name == "mm_DQ_Q4");
    CHECK(g.node[1].name == "mm_matmul_Q4");
    CHECK(g.node[1].input == std::vector<std::string>{"x", "W_DQ_Q4_output"});
    const Tensor* q = g.find_initializer("W_DQ_Q4");
    REQUIRE(q);
    CHECK(q->data_type == static_cast<std::int32_t>(DataType::kInt4));
    std::vector<std::uint8_t> want(16);
    for (int k = 0; k < 16; ++k) {
      const auto c = static_cast<std::uint8_t>((k - 8) & 15);
      want[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(c | c << 4);
    }
    CHECK(u8(*q) == want);
    CHECK(back->opset_version("") == 21);
    CHECK(back->ir_version == 10);
  }
}

TEST_CASE("quantized MLP/attention models run in onnxruntime and match dequantize-then-matmul") {
  if (ort_dir().empty()) return;
  const Net net;
  struct Case {
    WeightFormat fmt;
    int bits;
    std::size_t block;
    bool sym, per_channel;
    std::int64_t acc;
    bool external;
  };
  const std::vector<Case> cases{
      {WeightFormat::kMatMulNBits, 4, 32, true, false, 0, false},
      {WeightFormat::kMatMulNBits, 4, 32, false, false, 0, true},
      {WeightFormat::kMatMulNBits, 4, 128, true, false, 0, false},
      {WeightFormat::kMatMulNBits, 8, 64, true, false, 0, false},
      {WeightFormat::kMatMulNBits, 8, 32, false, false, 0, false},
      {WeightFormat::kMatMulNBits, 2, 32, false, false, 0, false},
      {WeightFormat::kMatMulNBits, 2, 16, true, false, 0, false},
      {WeightFormat::kMatMulNBits, 4, 32, false, false, 4, false},
      {WeightFormat::kQdq, 4, 32, true, false, 0, false},
      {WeightFormat::kQdq, 4, 16, false, false, 0, true},
      {WeightFormat::kQdq, 8, 32, true, false, 0, false},
      {WeightFormat::kQdq, 8, 0, true, true, 0, false},
      {WeightFormat::kQdq, 8, 0, false, true, 0, false},
      {WeightFormat::kQdq, 4, 0, true, true, 0, false},
  };
  TempDir d("qort");
  const auto ids = input("ids", "int64", {1, T}, net.ids);
  const auto fref = net.forward(Net::d(net.w1), Net::d(net.w2), Net::d(net.wo));
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& c = cases[ci];
    const bool nbits = c.fmt == WeightFormat::kMatMulNBits;
    const std::string label = std::string(nbits ? "matmulnbits" : "qdq") + " bits=" +
                              std::to_string(c.bits) +
                              (c.per_channel ? " per-channel" : " block=" + std::to_string(c.block)) +
                              (c.sym ? " sym" : " asym") +
                              (c.acc ? " accuracy_level=" + std::to_string(c.acc) : "") +
                              (c.external ? " external-data" : "");
    CAPTURE(label);
    Model m = net.model();
    WeightQuantOptions o;
    o.format = c.fmt;
    o.bits = c.bits;
    o.block = c.block;
    o.symmetric = c.sym;
    o.per_channel = c.per_channel;
    if (c.acc) o.accuracy_level = c.acc;
    auto r = quantize_weights(m, o);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
    CHECK(r->rewrite.rewritten == 3);
    CHECK(r->rewrite.removed.size() == 3);
    CHECK(validate(m).ok());
    const std::string path = d / ("m" + std::to_string(ci) + ".onnx");
    WriteOptions wo;
    if (c.external) wo.external = WriteOptions::External::kExternal;
    REQUIRE(write_model(m, path, wo));
    auto back = read_model(path);
    REQUIRE(back);
    CHECK(back->metadata_props.size() == 1);
    CHECK(find_node(*back->graph, "Gather", "x") != nullptr);  // embeddings stay float
    CHECK(find_node(*back->graph, "MatMul", "s") != nullptr);  // non-constant B kept
    if (c.external) {
      for (const auto& t : back->graph->initializer)
        if (t.payload_size() >= 1024) CHECK(t.is_external());
    }
    const auto ref = net.forward(weight_of(*back->graph, "h0"), weight_of(*back->graph, "h"),
                                 weight_of(*back->graph, "y"));
    // |ORT - reference|: float32 sums of <= 64 products, outputs up to ~40 in
    // magnitude: 1e-4 absolute. Where ORT quantizes A to int8 blocks
    // (accuracy_level 4, and DequantizeLinear -> MatMul fused at "all" with ORT's
    // default fused accuracy level 4), 3% of the largest output.
    double ymax = 0;
    for (double v : ref) ymax = std::max(ymax, std::abs(v));
    for (const std::string opt : {"disabled", "all0", "all"}) {
      CAPTURE(opt);
      auto out = ort_run(path, {ids}, opt);
      REQUIRE_MESSAGE(out.ok, out.error);
      const bool int8_a = c.acc == 4 || (!nbits && opt == "all");
      const double tol = int8_a ? 3e-2 * ymax : 1e-4;
      const double err = max_abs_diff(out.out["y"], ref);
      const double qerr = max_abs_diff(ref, fref);
      MESSAGE(label << " (" << opt << "): max |ORT - dequantized reference| = " << err
                    << " (max |y| " << ymax << "); quantization moved outputs by up to " << qerr);
      CHECK(err <= tol);
      CHECK(qerr > 0);  // the weights really were quantized
    }
  }
}

TEST_CASE("float16 weights: MatMulNBits scales in float16, run in onnxruntime") {
  if (ort_dir().empty()) return;
  // x[1,40] (float16) -> MatMul W[40, 8] float16.
  const auto wf = values(40 * 8, 9), xf = values(40, 10);
  std::vector<std::uint16_t> wh(wf.size()), xh(xf.size());
  for (std::size_t i = 0; i < wf.size(); ++i) wh[i] = f32_to_f16(wf[i]);
  for (std::size_t i = 0; i < xf.size(); ++i) xh[i] = f32_to_f16(xf[i]);
  for (bool sym : {true, false}) {
    CAPTURE(sym);
    Graph g = b::graph({b::node("MatMul", {"x", "W"}, {"y"}, {}, "mm")}, "h",
                       {b::value_info("x", DataType::kFloat16, std::vector<b::Dim>{1, 40})},
                       {b::value_info("y", DataType::kFloat16, std::vector<b::Dim>{1, 8})},
                       {b::tensor("W", DataType::kFloat16, {40, 8}, wh)});
    Model m = b::model(std::move(g), 8, {b::opset("", 17)});
    WeightQuantOptions o;
    o.symmetric = sym;
    REQUIRE(quantize_weights(m, o));
    TempDir d("qf16");
    REQUIRE(write_model(m, d / "h.onnx"));
    auto back = read_model(d / "h.onnx");
    REQUIRE(back);
    const Tensor* s = back->graph->find_initializer("W_scales");
    REQUIRE(s);
    CHECK(s->data_type == static_cast<std::int32_t>(DataType::kFloat16));
    const auto w = deq_nbits(*back->graph, back->graph->node[0]);
    std::vector<double> ref(8, 0.0);
    for (int k = 0; k < 40; ++k)
      for (int n = 0; n < 8; ++n)
        ref[static_cast<std::size_t>(n)] +=
            static_cast<double>(f16_to_f32(xh[static_cast<std::size_t>(k)])) * w[static_cast<std::size_t>(k * 8 + n)];
    auto out = ort_run(d / "h.onnx", {input("x", "float16", {1, 40}, xh)}, "disabled");
    REQUIRE_MESSAGE(out.ok, out.error);
    double err = 0;
    for (int n = 0; n < 8; ++n)
      err = std::max(err, std::abs(static_cast<double>(f16_to_f32(static_cast<std::uint16_t>(
                                       out.out["y"][static_cast<std::size_t>(n)]))) -
                                   ref[static_cast<std::size_t>(n)]));
    MESSAGE("float16 MatMulNBits " << std::string(sym ? "sym" : "asym") << ": max |ORT - reference| = " << err);
    CHECK(err <= 2e-2);  // float16 output: |y| <= ~8, half an f16 ulp at 8 is 2^-8
  }
}

TEST_CASE("quantize_weights: skipped sites say why; option errors") {
  // B 3-D, B int32, B not constant: nothing is rewritten, each with its reason.
  Graph g = b::graph(
      {b::node("MatMul", {"x", "W3"}, {"a"}, {}, "rank3"),
       b::node("MatMul", {"x2", "Wi"}, {"c"}, {}, "ints"),
       b::node("MatMul", {"x2", "x3"}, {"e"}, {}, "dynamic")},
      "bad",
      {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{2, 4, 8}),
       b::value_info("x2", DataType::kInt32, std::vector<b::Dim>{1, 8}),
       b::value_info("x3", DataType::kInt32, std::vector<b::Dim>{8, 2})},
      {b::value_info("a", DataType::kFloat, std::nullopt),
       b::value_info("c", DataType::kInt32, std::nullopt),
       b::value_info("e", DataType::kInt32, std::nullopt)},
      {b::tensor("W3", DataType::kFloat, {2, 8, 4}, std::vector<float>(64, 1.0f)),
       b::tensor("Wi", DataType::kInt32, {8, 2}, std::vector<std::int32_t>(16, 1))});
  Model m = b::model(std::move(g), 8, {b::opset("", 17)});
  auto r = quantize_weights(m, {});
  REQUIRE(r);
  CHECK(r->rewrite.rewritten == 0);
  std::map<std::string, std::string> why;
  for (const auto& it : r->items) why[it.node] = it.note;
  CHECK(why["rank3"].find("3-D") != std::string::npos);
  CHECK(why["ints"].find("INT32") != std::string::npos);
  CHECK(why["dynamic"].find("not a constant initializer") != std::string::npos);
  CHECK(m.graph->initializer.size() == 2);

  const auto bad = [](WeightQuantOptions o) { return check_options(o).error().message(); };
  WeightQuantOptions o;
  o.bits = 3;
  CHECK(bad(o).find("2, 4 or 8") != std::string::npos);
  o = {};
  o.block = 48;
  CHECK(bad(o).find("16, 32, 64, 128 or 256") != std::string::npos);
  o = {};
  o.format = WeightFormat::kQdq;
  o.bits = 2;
  CHECK(bad(o).find("4 or 8") != std::string::npos);
  o = {};
  o.per_channel = true;
  CHECK(bad(o).find("qdq") != std::string::npos);
}

TEST_CASE("quantize-onnx CLI: dry run, errors, atomicity, inspect/validate on .onnx") {
  if (cli().empty()) return;
  TempDir d("qcli");
  const Net net;
  REQUIRE(write_model(net.model(), d / "net.onnx"));

  // Dry run: the plan, bytes by the spec's formulas, nothing written.
  auto dry = run_cli("quantize-onnx " + d / "net.onnx" + " --dry-run --bits 4 --block 32");
  CHECK(dry.rc == 0);
  MESSAGE(dry.out);
  CHECK(dry.out.find("rewrite    MatMul fc1 (B = W1 [64, 48])") != std::string::npos);
  CHECK(dry.out.find("keep       MatMul scores (B = ht): skipped: B 'ht' is not a constant") !=
        std::string::npos);
  CHECK(dry.out.find("keep       Gather embed (B = E): kept: Gather") != std::string::npos);
  // MatMulNBits 4-bit block 32 sym: N * nb * 16 bytes of B + N * nb * 4 of scales.
  const auto nb = [](std::uint64_t k) { return (k + 31) / 32; };
  const std::uint64_t before = (64 * 48 + 48 * 40 + 40 * 8) * 4;
  const std::uint64_t after =
      48 * nb(64) * 20 + 40 * nb(48) * 20 + 8 * nb(40) * 20;
  CHECK(dry.out.find("plan: 3 nodes rewritten, 3 kept; weights " + std::to_string(before) +
                     " -> " + std::to_string(after) + " bytes") != std::string::npos);
  CHECK(dry.out.find("external data: no") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "q.onnx"));

  // A real run, then inspect/validate dispatch by extension.
  auto ok = run_cli("quantize-onnx " + d / "net.onnx" + " -o " + d / "q.onnx" + " --external-data");
  CHECK(ok.rc == 0);
  CHECK(ok.out.find("external data: yes (--external-data)") != std::string::npos);
  CHECK(fs::exists(d / "q.onnx.data"));
  auto again = run_cli("quantize-onnx " + d / "net.onnx" + " -o " + d / "q.onnx");
  CHECK(again.rc == 2);
  CHECK(again.out.find("--force") != std::string::npos);
  auto v = run_cli("validate " + d / "q.onnx");
  CHECK(v.rc == 0);
  CHECK(v.out.find("ok (ONNX IR 8, 10 nodes, 8 initializers") != std::string::npos);
  auto ins = run_cli("inspect --json " + d / "q.onnx");
  CHECK(ins.rc == 0);
  auto j = json::parse(ins.out);
  CHECK(j.dump().find("MatMulNBits") != std::string::npos);
  CHECK(j.dump().find("com.microsoft") != std::string::npos);
  write_bytes(d / "broken.onnx", std::as_bytes(std::span<const char>("\x08\x0a\x12\xff", 4)));
  auto vb = run_cli("validate " + d / "broken.onnx");
  CHECK(vb.rc == 1);
  CHECK(vb.out.find("INVALID") != std::string::npos);

  // Usage errors: exit 2 with the reason.
  for (const auto& [args, msg] : std::vector<std::pair<std::string, std::string>>{
           {" --bits 3", "2, 4 or 8"},
           {" --format qdq --bits 2", "4 or 8"},
           {" --block 48", "16, 32, 64, 128 or 256"},
           {" --format int4", "matmulnbits or qdq"},
           {"", "needs -o"}}) {
    CAPTURE(args);
    auto r = run_cli("quantize-onnx " + d / "net.onnx" + args + (msg == "needs -o" ? "" : " -o " + d / "x.onnx"));
    CHECK(r.rc == 2);
    CHECK(r.out.find(msg) != std::string::npos);
    CHECK_FALSE(fs::exists(d / "x.onnx"));
  }

  // Nothing to quantize: an error, no output.
  {
    Graph g = b::graph({b::node("MatMul", {"a", "b"}, {"y"}, {}, "dyn")}, "dyn",
                       {b::value_info("a", DataType::kFloat, std::vector<b::Dim>{1, 8}),
                        b::value_info("b", DataType::kFloat, std::vector<b::Dim>{8, 2})},
                       {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{1, 2})});
    REQUIRE(write_model(b::model(std::move(g), 8, {b::opset("", 17)}), d / "dyn.onnx"));
    auto r = run_cli("quantize-onnx " + d / "dyn.onnx" + " -o " + d / "dyn_q.onnx");
    CHECK(r.rc == 1);
    CHECK(r.out.find("B 'b' is not a constant initializer") != std::string::npos);
    CHECK(r.out.find("no MatMul with a constant 2-D float weight") != std::string::npos);
    CHECK_FALSE(fs::exists(d / "dyn_q.onnx"));
  }

  // A NaN in the second weight fails while the output is being written: no
  // output, no data file, no temp file left in the folder.
  {
    Net bad = net;
    bad.w2[100] = std::nanf("");
    TempDir a("qatomic");
    REQUIRE(write_model(bad.model(), a / "nan.onnx"));
    for (const char* extra : {"", " --external-data", " --format qdq"}) {
      CAPTURE(std::string(extra));
      auto r = run_cli("quantize-onnx " + a / "nan.onnx" + " -o " + a / "out.onnx" + extra);
      CHECK(r.rc == 1);
      CHECK(r.out.find("W2") != std::string::npos);
      CHECK((r.out.find("NaN") != std::string::npos ||
             r.out.find("non-finite") != std::string::npos));
      std::vector<std::string> left;
      for (const auto& e : fs::directory_iterator(a.path)) left.push_back(e.path().filename().string());
      CHECK(left == std::vector<std::string>{"nan.onnx"});
    }
  }
}

TEST_CASE("gguf-to-matmulnbits: GGUF Q4_0/Q8_0 weights run in onnxruntime as MatMulNBits") {
  if (cli().empty()) return;
  TempDir d("qgguf");
  // ggml weight [N = 6 rows, K = 96]: y = W x, i.e. the ONNX weight is W^T [K, N].
  constexpr std::size_t N = 6, K = 96;
  const auto wf = values(N * K, 21);
  std::vector<std::byte> q4(N * K / 32 * 18), q8(N * K / 32 * 34);
  REQUIRE(edgequant::quantize(GgmlType::kQ4_0, wf, K, q4));
  REQUIRE(edgequant::quantize(GgmlType::kQ8_0, wf, K, q8));
  {
    gguf::Layout l;
    l.metadata.set("general.architecture", "test");
    l.tensors.push_back(gguf::TensorSpec::make("w.q4", GgmlType::kQ4_0, {K, N}));
    l.tensors.push_back(gguf::TensorSpec::make("w.q8", GgmlType::kQ8_0, {K, N}));
    l.tensors.push_back(gguf::TensorSpec::make("w.f32", GgmlType::kF32, {K, N}));
    l.tensors.push_back(gguf::TensorSpec::make("v.q8", GgmlType::kQ8_0, {K}));
    auto f = AtomicFile::create(d / "m.gguf");
    REQUIRE(f);
    auto w = gguf::Writer<AtomicFile&>::begin(*f, l);
    REQUIRE(w);
    REQUIRE(w->write_tensor(q4));
    REQUIRE(w->write_tensor(q8));
    REQUIRE(w->write_tensor(std::as_bytes(std::span<const float>(wf))));
    REQUIRE(w->write_tensor(std::span<const std::byte>(q8).first(K / 32 * 34)));
    REQUIRE(w->finish());
  }
  const auto x = values(2 * K, 22);
  for (const auto& [name, type] : std::vector<std::pair<std::string, GgmlType>>{
           {"w.q4", GgmlType::kQ4_0}, {"w.q8", GgmlType::kQ8_0}}) {
    // Reference: edgequant's ggml dequantization of the GGUF bytes, in double.
    std::vector<float> deq(N * K);
    REQUIRE(edgequant::dequantize(type, type == GgmlType::kQ4_0 ? q4 : q8, K, deq));
    std::vector<double> ref(2 * N, 0.0);
    for (std::size_t m = 0; m < 2; ++m)
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
          ref[m * N + n] += static_cast<double>(x[m * K + k]) * deq[n * K + k];
    const std::string out = d / (name + ".onnx");
    auto r = run_cli("gguf-to-matmulnbits " + d / "m.gguf" + " " + name + " -o " + out);
    CHECK(r.rc == 0);
    CHECK(r.out.find("carried over") != std::string::npos);
    MESSAGE(r.out);
    auto m = read_model(out);
    REQUIRE(m);
    CHECK(validate(*m).ok());
    // The written planes dequantize (spec formulas) to exactly ggml's floats.
    const auto w = deq_nbits(*m->graph, m->graph->node[0]);  // [K, N]
    std::size_t same = 0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t k = 0; k < K; ++k) same += w[k * N + n] == static_cast<double>(deq[n * K + k]);
    CHECK(same == N * K);
    auto o = ort_run(out, {input("A", "float32", {2, static_cast<std::int64_t>(K)}, x)}, "all");
    REQUIRE_MESSAGE(o.ok, o.error);
    const double err = max_abs_diff(o.out["Y"], ref);
    MESSAGE(name << ": max |ORT - x @ dequant_ggml(W)^T| = " << err);
    CHECK(err <= 1e-4);
  }
  auto f32 = run_cli("gguf-to-matmulnbits " + d / "m.gguf" + " w.f32 -o " + d / "f.onnx");
  CHECK(f32.rc == 1);
  CHECK(f32.out.find("only Q4_0 and Q8_0") != std::string::npos);
  auto v1 = run_cli("gguf-to-matmulnbits " + d / "m.gguf" + " v.q8 -o " + d / "v.onnx");
  CHECK(v1.rc == 1);
  CHECK(v1.out.find("1-D") != std::string::npos);
  auto missing = run_cli("gguf-to-matmulnbits " + d / "m.gguf" + " nope -o " + d / "n.onnx");
  CHECK(missing.rc == 1);
  CHECK(missing.out.find("not found") != std::string::npos);
  CHECK_FALSE(fs::exists(d / "f.onnx"));
}

TEST_CASE("python onnx's checker accepts a MatMulNBits model (IR 8, opset 17 kept)") {
  const std::string py = python_onnx();
  if (py.empty()) return;
  Model m = Net{}.model();
  WeightQuantOptions o;
  o.symmetric = false;
  REQUIRE(quantize_weights(m, o));
  CHECK(m.ir_version == 8);  // MatMulNBits needs no newer IR; the input's is kept
  TempDir d("qpy");
  REQUIRE(write_model(m, d / "q.onnx"));
  auto out = run(py + " -c \"import onnx; m = onnx.load('" + d / "q.onnx" +
                 "'); onnx.checker.check_model(m); "
                 "print(sorted(set(n.op_type for n in m.graph.node)), "
                 "[(o.domain, o.version) for o in m.opset_import])\" 2>&1");
  REQUIRE(out);
  CHECK(out->find("['Add', 'Gather', 'MatMul', 'MatMulNBits', 'Relu', 'Softmax', 'Transpose']") !=
        std::string::npos);
  CHECK(out->find("('com.microsoft', 1)") != std::string::npos);
}

// GatherBlockQuantized data [R, C] -> table in double: (q - zp) * scale[r, c / block],
// zp 0 when absent (int4 data, §6.5).
std::vector<double> deq_gbq(const Graph& g, const Node& n) {
  std::int64_t bs = 0;
  for (const auto& a : n.attribute)
    if (a.name == "block_size") bs = a.i;
  const Tensor* X = g.find_initializer(n.input[0]);
  const Tensor* S = g.find_initializer(n.input[2]);
  const Tensor* Z = n.input.size() > 3 ? g.find_initializer(n.input[3]) : nullptr;
  REQUIRE(X);
  REQUIRE(S);
  const std::int64_t R = X->dims[0], C = X->dims[1], nb = (C + bs - 1) / bs;
  const bool sgn = X->data_type == static_cast<std::int32_t>(DataType::kInt4);
  const auto xq = u8(*X);
  const auto zq = Z ? u8(*Z) : std::vector<std::uint8_t>{};
  std::vector<double> t(static_cast<std::size_t>(R * C));
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t c = 0; c < C; ++c) {
      int q = static_cast<int>(bits_at(xq, static_cast<std::size_t>(r * C + c), 4));
      if (sgn && q >= 8) q -= 16;
      const auto si = static_cast<std::size_t>(r * nb + c / bs);
      const int zp = Z ? static_cast<int>(bits_at(zq, si, 4)) : 0;
      t[static_cast<std::size_t>(r * C + c)] = (q - zp) * static_cast<double>(f32_at(*S, si));
    }
  return t;
}

TEST_CASE("--gather: embeddings as GatherBlockQuantized, hand-derived and run in onnxruntime") {
  // Tiny table E[1, 16] = (k - 8) / 4, block 16. Symmetric (numpy path, §6.5): m = -2 (larger
  // magnitude), scale = m / -8 = 0.25, q = round(v / 0.25) = k - 8 -> INT4 nibbles
  // (k-8) & 15: bytes 0x98 0xBA 0xDC 0xFE 0x10 0x32 0x54 0x76.
  // Asymmetric: range [-2, 1.75], scale = 3.75 / 15 = 0.25, zp = round(2 / 0.25) = 8,
  // q = round(v / 0.25 + 8) = k -> 0x10 ... 0xFE; zero point 8 in one UINT4 -> 0x08.
  std::vector<float> e(16);
  for (int k = 0; k < 16; ++k) e[static_cast<std::size_t>(k)] = static_cast<float>(k - 8) / 4.0f;
  for (bool sym : {true, false}) {
    CAPTURE(sym);
    Graph g = b::graph({b::node("Gather", {"E", "ids"}, {"y"}, {}, "emb")}, "t",
                       {b::value_info("ids", DataType::kInt64, std::vector<b::Dim>{2})},
                       {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{2, 16})},
                       {b::tensor("E", DataType::kFloat, {1, 16}, e)});
    Model m = b::model(std::move(g), 10, {b::opset("", 21)});
    WeightQuantOptions o;
    o.block = 16;
    o.symmetric = sym;
    o.gather = true;
    auto r = quantize_weights(m, o);
    REQUIRE(r);
    CHECK(r->rewrite.rewritten == 1);
    const Graph& q = *m.graph;
    REQUIRE(q.node.size() == 1);
    CHECK(q.node[0].op_type == "GatherBlockQuantized");
    CHECK(q.node[0].name == "emb_Q4");
    CHECK(q.node[0].domain == "com.microsoft");
    TempDir d("qgbq");
    REQUIRE(write_model(m, d / "g.onnx"));
    auto back = read_model(d / "g.onnx");
    REQUIRE(back);
    const Tensor* data = back->graph->find_initializer("E_Q4");
    REQUIRE(data);
    CHECK(data->data_type ==
          static_cast<std::int32_t>(sym ? DataType::kInt4 : DataType::kUint4));
    CHECK(u8(*data) == (sym ? std::vector<std::uint8_t>{0x98, 0xBA, 0xDC, 0xFE, 0x10, 0x32, 0x54, 0x76}
                            : std::vector<std::uint8_t>{0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE}));
    CHECK(f32_at(*back->graph->find_initializer("E_scales"), 0) == 0.25f);
    if (!sym) CHECK(u8(*back->graph->find_initializer("E_zero_points")) == std::vector<std::uint8_t>{0x08});
    if (ort_dir().empty()) continue;
    auto out = ort_run(d / "g.onnx", {input("ids", "int64", {2}, std::vector<std::int64_t>{0, 0})},
                       "disabled");
    REQUIRE_MESSAGE(out.ok, out.error);
    std::vector<double> want;
    for (int rep = 0; rep < 2; ++rep)
      for (float v : e) want.push_back(v);  // every value is exactly representable
    CHECK(out.out["y"] == want);
  }

  // The network with its embedding table quantized too (block 32: 64 = 2 blocks).
  if (ort_dir().empty()) return;
  const Net net;
  for (bool sym : {true, false}) {
    CAPTURE(sym);
    Model m = net.model();
    WeightQuantOptions o;
    o.symmetric = sym;
    o.gather = true;
    auto r = quantize_weights(m, o);
    REQUIRE(r);
    CHECK(r->rewrite.rewritten == 4);
    CHECK(m.ir_version == 10);  // INT4/UINT4 table
    CHECK(validate(m).ok());
    TempDir d("qgbqnet");
    REQUIRE(write_model(m, d / "n.onnx"));
    auto back = read_model(d / "n.onnx");
    REQUIRE(back);
    const Graph& g = *back->graph;
    const Node* gq = find_node(g, "GatherBlockQuantized", "x");
    REQUIRE(gq);
    const auto table = deq_gbq(g, *gq);
    const auto ref = net.forward(weight_of(g, "h0"), weight_of(g, "h"), weight_of(g, "y"), &table);
    for (const std::string opt : {"disabled", "all"}) {
      auto out = ort_run(d / "n.onnx", {input("ids", "int64", {1, T}, net.ids)}, opt);
      REQUIRE_MESSAGE(out.ok, out.error);
      const double err = max_abs_diff(out.out["y"], ref);
      MESSAGE("GatherBlockQuantized + MatMulNBits " << std::string(sym ? "sym" : "asym") << " ("
                                                    << opt << "): max |ORT - reference| = " << err);
      CHECK(err <= 1e-4);
    }
  }
  // Options: Gather with qdq or 8 bits is refused.
  WeightQuantOptions o;
  o.gather = true;
  o.bits = 8;
  CHECK_FALSE(check_options(o));
  o.bits = 4;
  o.format = WeightFormat::kQdq;
  CHECK_FALSE(check_options(o));
}

}  // namespace eqtest_formats_onnx_quantize_onnx_test
