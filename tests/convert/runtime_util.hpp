// Real runtimes for the export tests: llama.cpp (node-llama-cpp) and
// onnxruntime-node on generated Hugging Face folders, plus the numpy HF
// forward pass (hf_reference.py). Everything lives in namespace eqrt so that
// unity builds can combine this header with any test file.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

namespace eqrt {

namespace fs = std::filesystem;
using json = nlohmann::json;

inline const char* kPython = "/usr/bin/python3";

// One temporary folder per process and tag prefix, removed at exit.
inline const fs::path& tmp_root(const std::string& prefix) {
  struct Roots {
    std::map<std::string, fs::path> m;
    ~Roots() {
      std::error_code ec;
      for (const auto& [k, p] : m) fs::remove_all(p, ec);
    }
  };
  static Roots roots;
  if (auto it = roots.m.find(prefix); it != roots.m.end()) return it->second;
  auto p = fs::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return roots.m.emplace(prefix, p).first->second;
}

// Generates (once per process and tag) a model folder with make_hf_model.py.
inline fs::path hf_model(const std::string& script, const fs::path& root, const std::string& tag,
                         const std::string& args) {
  static std::map<std::string, fs::path> made;
  const fs::path out = root / tag;
  if (auto it = made.find(out.string()); it != made.end()) return it->second;
  const std::string cmd = std::string(kPython) + " " + eqtest::shell_quote(script) + " --out " +
                          eqtest::shell_quote(out.string()) + " " + args + " >/dev/null 2>&1";
  const auto r = eqtest::run_command(cmd);
  REQUIRE_MESSAGE(r.rc == 0, "make_hf_model.py failed: " << cmd);
  made[out.string()] = out;
  return out;
}

// node-llama-cpp: per {model, tokens | prompt}, evaluate and return the token
// ids and the last position's logits. KV cache in F32 (not llama.cpp's F16
// default) and no flash attention (its CPU path rounds K/V/Q to F16), so that
// an F32 model is compared with F32 attention.
inline constexpr const char* kLlamaScript = R"JS(
import { pathToFileURL } from "node:url";
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(process.env.EQ_NODE_DIR + "/node_modules/node-llama-cpp/dist/index.js").href);
const runs = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const out = [];
for (const run of runs) {
  const model = await llama.loadModel({ modelPath: run.model });
  const ctx = await model.createContext({ contextSize: 64, batchSize: 64, flashAttention: false,
                                          experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  const seq = ctx.getSequence();
  const tokens = run.tokens ?? model.tokenize(run.prompt, false);
  const input = tokens.map((t, i) => i === tokens.length - 1 ? [t, { generateNext: { logits: true } }] : t);
  const res = await seq.controlledEvaluate(input);
  const next = res[tokens.length - 1].next;
  const logits = new Array(next.logits.size);
  for (const [id, v] of next.logits) logits[id] = v;
  out.push({ model: run.model, tokens, logits });
  await ctx.dispose();
  await model.dispose();
}
await llama.dispose();
console.log(JSON.stringify(out));
)JS";

inline json run_llama(const std::string& node_dir, const fs::path& root, const json& runs) {
  const fs::path script = root / "llama_run.mjs";
  std::ofstream(script) << kLlamaScript;
  const fs::path err = root / "llama_run.err";
  const auto r = eqtest::run_command("EQ_NODE_DIR=" + eqtest::shell_quote(node_dir) + " node " +
                                     eqtest::shell_quote(script.string()) + " " +
                                     eqtest::shell_quote(runs.dump()) + " 2>" +
                                     eqtest::shell_quote(err.string()));
  if (r.rc != 0) {
    std::ifstream e(err);
    FAIL("node failed (" << r.rc << "): " << std::string((std::istreambuf_iterator<char>(e)), {}));
  }
  return json::parse(r.out);
}

// hf_reference.py: numpy float64 forward pass, last position's logits.
inline std::vector<double> reference_logits(const std::string& script, const fs::path& model,
                                            const json& tokens) {
  const auto r = eqtest::run_command(std::string(kPython) + " " + eqtest::shell_quote(script) +
                                     " " + eqtest::shell_quote(model.string()) + " " +
                                     eqtest::shell_quote(tokens.dump()));
  REQUIRE(r.rc == 0);
  return json::parse(r.out).get<std::vector<double>>();
}

// onnxruntime-node (ort_run.mjs): named inputs (raw little-endian bytes) →
// every output as doubles. ok = false with the error when it fails.
struct OrtInput {
  std::string name, type;  // "int64", "float32"
  std::vector<std::int64_t> dims;
  std::vector<std::byte> bytes;
};
template <class T>
OrtInput ort_input(std::string name, std::string type, std::vector<std::int64_t> dims,
                   const std::vector<T>& v) {
  const auto b = std::as_bytes(std::span<const T>(v));
  return {std::move(name), std::move(type), std::move(dims), {b.begin(), b.end()}};
}
struct OrtTensor {
  std::vector<std::int64_t> dims;
  std::vector<double> data;
};
struct OrtResult {
  bool ok = false;
  std::string error;
  std::map<std::string, OrtTensor> out;
};
inline OrtResult ort_run(const std::string& ort_run_mjs, const std::string& node_dir,
                         const fs::path& root, const fs::path& model,
                         const std::vector<OrtInput>& inputs, const std::string& opt = "all") {
  static int counter = 0;
  const std::string tag = "ort_" + std::to_string(counter++);
  json ins = json::object();
  for (const auto& in : inputs) {
    const fs::path f = root / (tag + "_" + in.name + ".bin");
    std::ofstream(f, std::ios::binary)
        .write(reinterpret_cast<const char*>(in.bytes.data()),
               static_cast<std::streamsize>(in.bytes.size()));
    ins[in.name] = {{"type", in.type}, {"dims", in.dims}, {"file", f.string()}};
  }
  const fs::path spec = root / (tag + "_spec.json");
  std::ofstream(spec)
      << json{{"model", model.string()}, {"cwd", nullptr}, {"opt", opt}, {"inputs", ins}}.dump();
  const auto r = eqtest::run_command("node " + eqtest::shell_quote(ort_run_mjs) + " " +
                                     eqtest::shell_quote(node_dir) + " " +
                                     eqtest::shell_quote(spec.string()) + " 2>&1");
  OrtResult o;
  const auto at = r.out.rfind("{\"ok\"");
  if (at == std::string::npos) {
    o.error = "no result from ort_run.mjs: " + r.out.substr(0, 2000);
    return o;
  }
  const json j = json::parse(r.out.substr(at));
  o.ok = j.at("ok").get<bool>();
  if (!o.ok) {
    o.error = j.at("error").get<std::string>();
    return o;
  }
  for (const auto& [name, t] : j.at("outputs").items()) {
    o.out[name] = {t.at("dims").get<std::vector<std::int64_t>>(),
                   t.at("data").get<std::vector<double>>()};
  }
  return o;
}

// A decoder's logits: input_ids [batch, T] (ids row-major) → logits
// [batch, T, V], returned row by row (batch-major).
struct OrtLogits {
  bool ok = false;
  std::string error;
  std::vector<std::int64_t> dims;
  std::vector<std::vector<double>> rows;  // one per position
};
inline std::vector<std::vector<double>> logit_rows(const OrtTensor& t) {
  std::vector<std::vector<double>> rows;
  if (t.dims.size() != 3 || t.dims[2] <= 0) return rows;
  const auto V = static_cast<std::size_t>(t.dims[2]);
  for (std::size_t p = 0; p + V <= t.data.size(); p += V) {
    rows.emplace_back(t.data.begin() + static_cast<std::ptrdiff_t>(p),
                      t.data.begin() + static_cast<std::ptrdiff_t>(p + V));
  }
  return rows;
}
inline OrtLogits ort_decoder(const std::string& ort_run_mjs, const std::string& node_dir,
                             const fs::path& root, const fs::path& model,
                             const std::vector<std::int64_t>& ids, const std::string& opt = "all",
                             std::size_t batch = 1) {
  const std::vector<std::int64_t> dims{static_cast<std::int64_t>(batch),
                                       static_cast<std::int64_t>(ids.size() / batch)};
  const auto r = ort_run(ort_run_mjs, node_dir, root, model,
                         {ort_input("input_ids", "int64", dims, ids)}, opt);
  OrtLogits o;
  o.ok = r.ok;
  o.error = r.error;
  if (!r.ok) return o;
  const auto it = r.out.find("logits");
  if (it == r.out.end() || it->second.dims.size() != 3) {
    o.ok = false;
    o.error = "no logits [batch, seq, vocab] output";
    return o;
  }
  o.dims = it->second.dims;
  o.rows = logit_rows(it->second);
  return o;
}

struct Diff {
  double max_abs = 0, max_ref = 0;
  double rms_ratio = 0;  // RMS(a - ref) / RMS(ref)
  double rel() const { return max_ref > 0 ? max_abs / max_ref : max_abs; }
};
inline Diff diff(const std::vector<double>& a, const std::vector<double>& ref) {
  REQUIRE(a.size() == ref.size());
  Diff d;
  double se = 0, sr = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::abs(a[i] - ref[i]));
    d.max_ref = std::max(d.max_ref, std::abs(ref[i]));
    se += (a[i] - ref[i]) * (a[i] - ref[i]);
    sr += ref[i] * ref[i];
  }
  d.rms_ratio = sr > 0 ? std::sqrt(se / sr) : 0;
  return d;
}

}  // namespace eqrt
