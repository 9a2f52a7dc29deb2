// rewrite_weights: which nodes are selected, splicing in place, subgraphs
// reading outer weights, shared weights, opset imports, removal of dropped
// weights, name collisions.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "edgequant/formats/onnx/rewrite.hpp"
#include "formats/onnx/onnx_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_rewrite_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {

std::vector<b::Dim> rw_dims(std::initializer_list<std::int64_t> d) { return {d.begin(), d.end()}; }

Tensor weight(const std::string& name, std::vector<std::int64_t> shape,
              DataType dt = DataType::kFloat) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  if (dt == DataType::kFloat16)
    return b::tensor(name, dt, shape, std::vector<std::uint16_t>(n, 0x3c00));
  return b::tensor(name, dt, shape, std::vector<float>(n, 1.0f));
}

// MatMul(x, W) -> Identity(W') then MatMul(x, W'), W' = "<W>_r" (a marker rewrite).
Expected<std::optional<Replacement>> marker(const Node& n, const Tensor& w) {
  Replacement r;
  Tensor t = w;
  t.name = w.name + "_r";
  r.initializers.push_back(std::move(t));
  r.nodes.push_back(b::node("Identity", {w.name + "_r"}, {n.output[0] + "_w"}, {}, n.name + "_id"));
  r.nodes.push_back(
      b::node("MatMul", {n.input[0], n.output[0] + "_w"}, n.output, {}, n.name + "_mm"));
  r.opsets.push_back(b::opset("com.example", 1));
  return std::optional<Replacement>(std::move(r));
}

std::vector<std::string> ops(const Graph& g) {
  std::vector<std::string> v;
  for (const auto& n : g.node) v.push_back(n.op_type + ":" + n.name);
  return v;
}

}  // namespace

TEST_CASE("rewrite_weights replaces MatMuls with constant 2-D float weights, in place") {
  Graph then_g = b::graph({b::node("MatMul", {"x", "Wout"}, {"t"}, {}, "sub_mm")}, "then", {},
                          {b::value_info("t", DataType::kFloat, rw_dims({1, 2}))});
  Graph g = b::graph(
      {
          b::node("MatMul", {"x", "W"}, {"a"}, {}, "mm_w"),          // rewritten
          b::node("MatMul", {"x", "W"}, {"a2"}, {}, "mm_shared"),    // same weight
          b::node("MatMul", {"x", "W3"}, {"c"}, {}, "mm_3d"),        // rank 3: kept
          b::node("MatMul", {"x", "Bin"}, {"d"}, {}, "mm_input"),    // not constant: kept
          b::node("MatMul", {"x", "Wi"}, {"e"}, {}, "mm_int"),       // int32: kept
          b::node("MatMul", {"x", "Wh"}, {"f"}, {}, "mm_excluded"),  // excluded by name
          b::node("Gemm", {"x", "W"}, {"h"}, {}, "gemm"),            // other op: kept
          b::node("If", {"cond"}, {"i"},
                  {b::attr("then_branch", std::move(then_g)),
                   b::attr("else_branch",
                           b::graph({b::node("MatMul", {"x", "Bin"}, {"t"})}, "else", {},
                                    {b::value_info("t", DataType::kFloat, rw_dims({1, 2}))}))},
                  "if"),
      },
      "g",
      {b::value_info("x", DataType::kFloat, rw_dims({1, 4})),
       b::value_info("Bin", DataType::kFloat, rw_dims({4, 2})),
       b::value_info("cond", DataType::kBool, rw_dims({})),
       b::value_info("W", DataType::kFloat, rw_dims({4, 2}))},
      {b::value_info("a", DataType::kFloat, rw_dims({1, 2}))},
      {weight("W", {4, 2}), weight("W3", {1, 4, 2}),
       b::tensor("Wi", DataType::kInt32, {4, 2}, std::vector<std::int32_t>(8, 1)),
       weight("Wh", {4, 2}, DataType::kFloat16), weight("Wout", {4, 2})});
  Model m = b::model(std::move(g), 8, {b::opset("", 17)});
  SiteFilter f;
  f.nodes_to_exclude = {"mm_excluded"};
  auto r = rewrite_weights(m, marker, f);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(r->rewritten == 3);  // mm_w, mm_shared, sub_mm
  CHECK(r->kept == 0);
  CHECK(r->weight_bytes == 2 * 32);  // W and Wout, each once
  const Graph& out = *m.graph;
  CHECK(ops(out) == std::vector<std::string>{"Identity:mm_w_id", "MatMul:mm_w_mm",
                                             "Identity:mm_shared_id", "MatMul:mm_shared_mm",
                                             "MatMul:mm_3d", "MatMul:mm_input", "MatMul:mm_int",
                                             "MatMul:mm_excluded", "Gemm:gemm", "If:if"});
  // W is still read by Gemm: kept; Wout was only read inside the subgraph: dropped.
  CHECK(out.find_initializer("W"));
  CHECK(out.find_initializer("W_r"));
  CHECK_FALSE(out.find_initializer("Wout"));
  CHECK(r->removed == std::vector<std::string>{"Wout"});
  const Graph& sub = *out.node[9].attribute[1].g;  // attributes sorted: else_branch, then_branch
  CHECK(sub.name == "then");
  CHECK(ops(sub) == std::vector<std::string>{"Identity:sub_mm_id", "MatMul:sub_mm_mm"});
  CHECK(sub.find_initializer("Wout_r"));
  CHECK(m.opset_version("com.example") == 1);
  CHECK(validate(m).ok());
  for (const auto& fd : validate(m).findings) MESSAGE(fd.where << ": " << fd.what);
}

TEST_CASE(
    "rewrite_weights drops replaced weights from the graph inputs too, and refuses name clashes") {
  Graph g = b::graph({b::node("MatMul", {"x", "W"}, {"y"}, {}, "mm")}, "g",
                     {b::value_info("x", DataType::kFloat, rw_dims({1, 4})),
                      b::value_info("W", DataType::kFloat, rw_dims({4, 2}))},
                     {b::value_info("y", DataType::kFloat, rw_dims({1, 2}))}, {weight("W", {4, 2})});
  Model m = b::model(g, 8, {b::opset("", 17)});
  auto r = rewrite_weights(m, marker);
  REQUIRE(r);
  CHECK(r->removed == std::vector<std::string>{"W"});
  CHECK(m.graph->input.size() == 1);
  CHECK(m.graph->initializer.size() == 1);
  CHECK(validate(m).ok());

  Model clash = b::model(g, 8, {b::opset("", 17)});
  clash.graph->initializer.push_back(weight("W_r", {4, 2}));
  auto e = rewrite_weights(clash, marker);
  REQUIRE_FALSE(e);
  CHECK(e.error().what.find("'W_r' is already used") != std::string::npos);

  // A rewriter error stops the rewrite and is returned as is.
  Model m3 = b::model(g, 8, {b::opset("", 17)});
  auto e3 =
      rewrite_weights(m3, [](const Node&, const Tensor&) -> Expected<std::optional<Replacement>> {
        return make_error(Errc::kNonFinite, "weight has a NaN");
      });
  REQUIRE_FALSE(e3);
  CHECK(e3.error().code == Errc::kNonFinite);

  // Declining leaves the model untouched.
  Model m4 = b::model(g, 8, {b::opset("", 17)});
  auto r4 =
      rewrite_weights(m4, [](const Node&, const Tensor&) -> Expected<std::optional<Replacement>> {
        return std::optional<Replacement>();
      });
  REQUIRE(r4);
  CHECK(r4->kept == 1);
  CHECK(*serialize_to_bytes(m4) == *serialize_to_bytes(b::model(g, 8, {b::opset("", 17)})));
}

TEST_CASE("ensure_opset adds or raises imports; remove_unused_initializers drops dead weights") {
  Model m =
      b::model(b::graph({b::node("Relu", {"x"}, {"y"})}, "g",
                        {b::value_info("x", DataType::kFloat, rw_dims({1}))},
                        {b::value_info("y", DataType::kFloat, rw_dims({1}))}, {weight("dead", {2})}),
               8, {b::opset("", 17)});
  ensure_opset(m, "", 21);
  ensure_opset(m, "ai.onnx", 13);  // lower: no change
  ensure_opset(m, "com.microsoft", 1);
  CHECK(m.opset_version("") == 21);
  CHECK(m.opset_version("com.microsoft") == 1);
  CHECK(m.opset_import.size() == 2);
  CHECK(remove_unused_initializers(m) == std::vector<std::string>{"dead"});
  CHECK(m.graph->initializer.empty());
}

}  // namespace eqtest_formats_onnx_rewrite_test
