// The CLI contract of `edgequant inspect-onnx` / `validate-onnx`: JSON fields,
// exit statuses, errors for unsafe or broken files.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <string>

#include "formats/onnx/onnx_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_cli_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {

struct CliResult {
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

CliResult run_cli(const std::string& args) {
  CliResult r;
  std::FILE* p = ::popen((cli() + " " + args + " 2>/dev/null").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

Model sample() {
  Graph g = b::graph(
      {b::node("MatMul", {"x", "W"}, {"h"}, {}, "mm"), b::node("Relu", {"h"}, {"r"}, {}, "relu1"),
       b::node("Relu", {"r"}, {"y"}, {}, "relu2")},
      "sample", {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{"batch", 256})},
      {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{"batch", 8})},
      {b::tensor("W", DataType::kFloat, {256, 8}, std::vector<float>(2048, 0.5f))});
  Model m = b::model(std::move(g), 10, {b::opset("", 21)});
  m.producer_name = "edgequant-test";
  return m;
}

}  // namespace

TEST_CASE("inspect-onnx --json describes graph, opsets and initializers") {
  if (cli().empty()) return;
  TempDir d("cli");
  WriteOptions opt;
  opt.external = WriteOptions::External::kExternal;
  REQUIRE(write_model(sample(), d / "m.onnx", opt));
  auto r = run_cli("inspect-onnx " + (d / "m.onnx") + " --json");
  REQUIRE(r.rc == 0);
  const json j = json::parse(r.out);
  CHECK(j.at("format") == "onnx");
  CHECK(j.at("ir_version") == 10);
  CHECK(j.at("producer_name") == "edgequant-test");
  CHECK(j.at("opset_import") == json::parse(R"([{"domain": "", "version": 21}])"));
  const json& g = j.at("graph");
  CHECK(g.at("node_count") == 3);
  CHECK(g.at("ops") == json::parse(R"({"MatMul": 1, "Relu": 2})"));
  CHECK(g.at("inputs")[0].at("type").at("shape") == json::parse(R"(["batch", 256])"));
  const json& w = g.at("initializers")[0];
  CHECK(w.at("name") == "W");
  CHECK(w.at("dtype") == "FLOAT");
  CHECK(w.at("dims") == json::parse("[256, 8]"));
  CHECK(w.at("bytes") == 8192);
  CHECK(w.at("storage") == "external");
  CHECK(w.at("location") == "m.onnx.data");
  CHECK(w.at("offset") == 0);
  CHECK(g.at("external_bytes") == 8192);
  auto text = run_cli("inspect-onnx " + (d / "m.onnx"));
  CHECK(text.rc == 0);
  CHECK(text.out.find("external m.onnx.data @0") != std::string::npos);
}

TEST_CASE("validate-onnx: exit 0 when valid, 1 with the reason otherwise, 2 on usage errors") {
  if (cli().empty()) return;
  TempDir d("cli_val");
  REQUIRE(write_model(sample(), d / "ok.onnx"));
  auto ok = run_cli("validate-onnx " + (d / "ok.onnx") + " --json");
  CHECK(ok.rc == 0);
  CHECK(json::parse(ok.out).at("valid") == true);

  Model bad = sample();
  bad.graph->node[1].input[0] = "nowhere";
  REQUIRE(write_model(bad, d / "bad.onnx"));
  auto b1 = run_cli("validate-onnx " + (d / "bad.onnx") + " --json");
  CHECK(b1.rc == 1);
  const json j = json::parse(b1.out);
  CHECK(j.at("valid") == false);
  CHECK(j.at("findings")[0].at("what").get<std::string>().find("'nowhere'") != std::string::npos);

  // An external location leaving the folder: refused while reading.
  Model esc = sample();
  Tensor& t = esc.graph->initializer[0];
  t.storage = Storage::kExternal;
  t.data_location = 1;
  StringStringEntry e;
  e.key = "location", e.value = "../../etc/passwd";
  t.external_data = {e};
  auto bytes = serialize_to_bytes(esc);
  REQUIRE(bytes);
  write_bytes(d / "esc.onnx", *bytes);
  auto b2 = run_cli("validate-onnx " + (d / "esc.onnx") + " --json");
  CHECK(b2.rc == 1);
  const json j2 = json::parse(b2.out);
  CHECK(j2.at("findings")[0].at("code") == "invalid");
  CHECK(j2.at("findings")[0].at("what").get<std::string>().find("contains '..'") !=
        std::string::npos);

  // Not protobuf at all: an error with the byte offset.
  const std::string junk = "this is not a model";
  write_bytes(d / "junk.onnx", std::as_bytes(std::span<const char>(junk.data(), junk.size())));
  auto b3 = run_cli("validate-onnx " + (d / "junk.onnx") + " --json");
  CHECK(b3.rc == 1);
  CHECK(json::parse(b3.out).at("findings")[0].at("offset").get<long long>() >= 0);
  CHECK(run_cli("inspect-onnx " + (d / "junk.onnx")).rc == 1);

  CHECK(run_cli("validate-onnx").rc == 2);
  CHECK(run_cli("inspect-onnx a.onnx b.onnx").rc == 2);
}

}  // namespace eqtest_formats_onnx_cli_test
