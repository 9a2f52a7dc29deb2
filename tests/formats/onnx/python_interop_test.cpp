// The reference implementation as oracle: models written by python onnx read
// the same in edgequant, edgequant writes them back byte for byte, python onnx
// loads what edgequant wrote (onnx.checker passes, content equal), and the
// builders produce the bytes onnx.helper + onnx.save produce.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "formats/onnx/onnx_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_python_interop_test {

using namespace eqonnx;

namespace {

// Writes the python models into `dir`; their names, or empty when python is absent.
std::vector<std::string> make_python_models(const TempDir& dir) {
  const std::string py = python_onnx();
  if (py.empty()) return {};
  auto out = run(py + " " + kTestDir + "/make_models.py " + dir.path.string() + " 2>/dev/null");
  REQUIRE(out);
  std::vector<std::string> names;
  std::size_t pos = 0;
  while (pos < out->size()) {
    const auto nl = out->find('\n', pos);
    const std::string line = out->substr(pos, nl - pos);
    if (!line.empty()) names.push_back(line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  REQUIRE(names.size() >= 8);
  return names;
}

}  // namespace

TEST_CASE("python onnx models read the same in edgequant as in python onnx") {
  TempDir dir("pyread");
  const auto names = make_python_models(dir);
  if (names.empty()) return;
  std::string cmd = python_onnx() + " " + kTestDir + "/pyonnx.py describe";
  for (const auto& n : names) cmd += " " + (dir / n);
  auto out = run(cmd);
  REQUIRE(out);
  const json expected = json::parse(*out);
  for (const auto& n : names) {
    CAPTURE(n);
    auto m = read_model(dir / n);
    REQUIRE_MESSAGE(m, (m ? "" : m.error().message()));
    const json ours = describe(*m);
    CHECK(ours == expected.at(n));
    if (ours != expected.at(n))
      MESSAGE("ours:     " << ours.dump() << "\nexpected: " << expected.at(n).dump());
    CHECK(validate(*m).ok());
  }
  // Zero copy: a raw initializer is a view into the mapped file, not a copy.
  auto m = read_model(dir / "built_mlp.onnx");
  REQUIRE(m);
  const Tensor* w = m->graph->find_initializer("W1");
  REQUIRE(w);
  CHECK(w->storage == Storage::kRaw);
  auto* file = static_cast<const MappedFile*>(w->data.owner().get());
  REQUIRE(file);
  CHECK(w->data.data() >= file->data());
  CHECK(w->data.data() + w->data.size() <= file->data() + file->size());
  auto ext = read_model(dir / "external.onnx");
  REQUIRE(ext);
  const Tensor* we = ext->graph->find_initializer("Wext");
  REQUIRE(we);
  CHECK(we->is_external());
  auto* dfile = static_cast<const MappedFile*>(we->data.owner().get());
  REQUIRE(dfile);
  CHECK(dfile->path().ends_with("external.onnx.data"));
  CHECK(we->data.data() == dfile->data());  // offset 0
}

TEST_CASE("edgequant writes python onnx models back byte for byte; python reads them equal") {
  TempDir dir("pywrite");
  const auto names = make_python_models(dir);
  if (names.empty()) return;
  TempDir out("pywrite_out");
  std::string cmd = python_onnx() + " " + kTestDir + "/pyonnx.py check";
  for (const auto& n : names) {
    CAPTURE(n);
    auto m = read_model(dir / n);
    REQUIRE_MESSAGE(m, (m ? "" : m.error().message()));
    auto st = write_model(*m, out / n);
    REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
    cmd += " " + (dir / n) + " " + (out / n);
    // In memory (external references kept as they are): the same bytes.
    auto mem = serialize_to_bytes(*m);
    REQUIRE(mem);
    CHECK(*mem == file_bytes(dir / n));
    // Read back and written again: idempotent, and the same content.
    auto again = read_model(out / n);
    REQUIRE(again);
    CHECK(describe(*again) == describe(*m));
  }
  CHECK(file_bytes(out / "external.onnx.data") == file_bytes(dir / "external.onnx.data"));
  auto res = run(cmd);
  REQUIRE(res);
  const json r = json::parse(*res);
  REQUIRE(r.size() == names.size());
  for (const auto& e : r) {
    CAPTURE(e.dump());
    const std::string c = e.at("checker");
    CHECK((c == "ok" || e.at("file") == "unknown_fields.onnx"));
    CHECK(e.at("equal") == true);
    CHECK(e.at("bytes_equal") == true);
  }
}

TEST_CASE("builders make the bytes onnx.helper and onnx.save make") {
  TempDir dir("pybuild");
  const auto names = make_python_models(dir);
  if (names.empty()) return;
  namespace b = edgequant::onnx::build;
  const auto ramp = [](std::size_t n, float scale) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i)
      v[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * scale;
    return v;
  };
  Graph g = b::graph(
      {
          b::node("MatMul", {"x", "W1"}, {"h0"}, {}, "mm1"),
          b::node("Add", {"h0", "B1"}, {"h1"}, {}, "add1"),
          b::node("Relu", {"h1"}, {"h2"}, {}, "relu"),
          b::node("MatMul", {"h2", "W2"}, {"y"}, {}, "mm2"),
          b::node("Softmax", {"y"}, {"p"}, {b::attr("axis", -1)}, "sm"),
      },
      "mlp", {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{"batch", 4})},
      {b::value_info("p", DataType::kFloat, std::vector<b::Dim>{"batch", 3})},
      {b::tensor("W1", DataType::kFloat, {4, 8}, ramp(32, 0.25f)),
       b::tensor("B1", DataType::kFloat, {8}, ramp(8, 0.5f)),
       b::tensor("W2", DataType::kFloat, {8, 3}, ramp(24, 0.25f))});
  Model m = b::model(std::move(g), 8, {b::opset("", 17)});
  auto bytes = serialize_to_bytes(m);
  REQUIRE(bytes);
  CHECK(*bytes == file_bytes(dir / "built_mlp.onnx"));
}

}  // namespace eqtest_formats_onnx_python_interop_test
