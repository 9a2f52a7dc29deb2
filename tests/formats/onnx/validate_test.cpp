// validate(): each rule on a model that breaks only that rule.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "formats/onnx/onnx_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_validate_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {

std::vector<b::Dim> val_dims(std::initializer_list<std::int64_t> d) { return {d.begin(), d.end()}; }

Model good() {
  Graph g = b::graph(
      {b::node("MatMul", {"x", "W"}, {"h"}, {}, "mm"), b::node("Relu", {"h"}, {"y"}, {}, "relu")},
      "g", {b::value_info("x", DataType::kFloat, val_dims({1, 2}))},
      {b::value_info("y", DataType::kFloat, val_dims({1, 2}))},
      {b::tensor("W", DataType::kFloat, {2, 2}, std::vector<float>{1, 2, 3, 4})});
  return b::model(std::move(g), 8, {b::opset("", 17)});
}

// The single error message a broken model gets (checks there is exactly one).
std::string only_error(const Model& m) {
  const auto r = validate(m);
  std::vector<std::string> errs;
  for (const auto& f : r.findings) {
    if (f.error) errs.push_back(f.where + ": " + f.what);
  }
  CHECK_MESSAGE(errs.size() == 1, (errs.empty() ? std::string("no error") : errs[0]));
  return errs.empty() ? std::string() : errs[0];
}

}  // namespace

TEST_CASE("validate accepts a well-formed model and names each broken rule") {
  CHECK(validate(good()).findings.empty());
  struct Case {
    const char* text;
    std::function<void(Model&)> edit;
  };
  const Case cases[] = {
      {"ir_version is not set", [](Model& m) { m.ir_version = 0; }},
      {"no opset import for domain 'com.microsoft'",
       [](Model& m) { m.graph->node[1].domain = "com.microsoft"; }},
      {"input 'h' is not produced",
       [](Model& m) { std::swap(m.graph->node[0], m.graph->node[1]); }},
      {"output 'h' is already defined",
       [](Model& m) {
         m.graph->node[1].output[0] = "h";
         m.graph->output[0].name = "h";
       }},
      {"graph output is never produced", [](Model& m) { m.graph->output[0].name = "z"; }},
      {"duplicate attribute 'axis'",
       [](Model& m) {
         m.graph->node[1].attribute = {b::attr("axis", 1), b::attr("axis", 2)};
       }},
      {"also sets a value field of another type",
       [](Model& m) {
         Attribute a = b::attr("alpha", 1.5f);
         a.ints = {1};
         m.graph->node[1].attribute = {a};
       }},
      {"has no type",
       [](Model& m) {
         Attribute a = b::attr("alpha", 1.5f);
         a.type = 0;
         m.graph->node[1].attribute = {a};
       }},
      {"INT4 needs IR version 10",
       [](Model& m) {
         m.graph->initializer[0] =
             b::tensor("W", DataType::kInt4, {2, 2},
                       Bytes::own(pack_bits(std::vector<std::uint8_t>{1, 2, 3, 4}, 4)));
       }},
      {"ai.onnx opset 21 needs IR version 10", [](Model& m) { m.opset_import[0].version = 21; }},
      {"data type 99 is unknown", [](Model& m) { m.graph->input[0].type->elem_type = 99; }},
      {"duplicate initializer name",
       [](Model& m) { m.graph->initializer.push_back(m.graph->initializer[0]); }},
      {"payload has 4 bytes",
       [](Model& m) {
         m.graph->initializer[0].data =
             Bytes::copy_of(std::span<const float>(std::vector<float>{1}));
       }},
      {"imported twice", [](Model& m) { m.opset_import.push_back(b::opset("ai.onnx", 17)); }},
      {"node name 'mm' is used twice", [](Model& m) { m.graph->node[1].name = "mm"; }},
      {"contains '..'",
       [](Model& m) {
         Tensor& t = m.graph->initializer[0];
         t.storage = Storage::kExternal;
         t.data_location = 1;
         StringStringEntry e;
         e.key = "location", e.value = "../x.bin";
         t.external_data = {e};
       }},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.text));
    Model m = good();
    c.edit(m);
    const std::string e = only_error(m);
    CHECK_MESSAGE(e.find(c.text) != std::string::npos, e);
  }
}

TEST_CASE("validate: subgraphs see outer names; warnings are not errors") {
  Model m = good();
  Graph body = b::graph({b::node("Add", {"h", "W"}, {"t"})}, "then", {},
                        {b::value_info("t", DataType::kFloat, val_dims({1, 2}))});
  Graph other = b::graph({b::node("Sub", {"h", "W"}, {"t"})}, "else", {},
                         {b::value_info("t", DataType::kFloat, val_dims({1, 2}))});
  m.graph->input.push_back(b::value_info("c", DataType::kBool, val_dims({})));
  m.graph->node.push_back(
      b::node("If", {"c"}, {"z"}, {b::attr("then_branch", body), b::attr("else_branch", other)}));
  CHECK(validate(m).ok());
  // A subgraph reading a name produced later in the outer graph is an error.
  m.graph->node[2].attribute[1].g->node[0].input[0] = "later";
  m.graph->node.push_back(b::node("Relu", {"y"}, {"later"}));
  CHECK_FALSE(validate(m).ok());
  // Initializer listed as a graph input: a warning only.
  Model w = good();
  w.graph->input.push_back(b::value_info("W", DataType::kFloat, val_dims({2, 2})));
  const auto r = validate(w);
  CHECK(r.ok());
  CHECK(r.warnings() == 1);
}

}  // namespace eqtest_formats_onnx_validate_test
