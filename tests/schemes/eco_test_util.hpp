// Helpers for the ecosystem-scheme tests: a minimal safetensors reader for
// the MLX golden file (independent of the library's readers), float bits, and
// the ONNX interop pipeline (python3-onnx builds a model, onnxruntime-node runs it).
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace eqtest {

struct StTensor {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<std::uint8_t> bytes;
};

// Reads every tensor of a safetensors file (8-byte LE header length, JSON
// header, data). Test-only: trusts the golden file.
inline std::map<std::string, StTensor> read_safetensors(const std::string& path) {
  const auto raw = read_file(path);
  REQUIRE(raw.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(raw[i]) << (8 * i);
  REQUIRE(8 + n <= raw.size());
  const auto header =
      nlohmann::json::parse(raw.begin() + 8, raw.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  std::map<std::string, StTensor> out;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    StTensor t;
    t.dtype = v["dtype"].get<std::string>();
    for (const auto& d : v["shape"]) t.shape.push_back(d.get<std::size_t>());
    const auto b = v["data_offsets"][0].get<std::size_t>(),
               e = v["data_offsets"][1].get<std::size_t>();
    REQUIRE(8 + n + e <= raw.size());
    t.bytes.assign(raw.begin() + static_cast<std::ptrdiff_t>(8 + n + b),
                   raw.begin() + static_cast<std::ptrdiff_t>(8 + n + e));
    out.emplace(name, std::move(t));
  }
  return out;
}

inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace eqtest

namespace eqtest {

// Runs the ONNX interop pipeline: /usr/bin/python3 make_onnx.py SPEC MODEL,
// then onnxruntime-node on MODEL. Returns the output bytes, or nullopt with a
// visible skip message when python3-onnx / onnxruntime-node are missing.
struct OrtInput {
  std::string name, path, dtype;
  std::vector<std::size_t> dims;
};

inline bool python_onnx_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
  if (!ok) MESSAGE("SKIPPED: /usr/bin/python3 with python3-onnx not found");
  return ok;
}

inline std::optional<std::vector<std::uint8_t>> run_onnx(const std::string& dir,
                                                         const std::string& spec_json,
                                                         const std::optional<OrtInput>& in,
                                                         const char* opt = "all") {
  const std::string node = node_dir_with("onnxruntime-node");
  if (node.empty() || !python_onnx_available()) return std::nullopt;
  const std::string spec = dir + "/spec.json", model = dir + "/model.onnx", out = dir + "/out.bin";
  {
    std::ofstream f(spec);
    f << spec_json;
  }
  const std::string mk = std::string("/usr/bin/python3 ") + EQ_INTEROP_DIR + "/make_onnx.py " +
                         spec + " " + model + " 2>" + dir + "/py.log";
  REQUIRE_MESSAGE(std::system(mk.c_str()) == 0, "make_onnx.py failed: see " << dir << "/py.log");
  std::string run = "EQ_ORT_OPT=" + std::string(opt) + " NODE_PATH=" + node +
                    "/node_modules node " + EQ_INTEROP_DIR + "/run_onnx.js " + model + " " + out;
  if (in) {
    run += " " + in->name + " " + in->path + " " + in->dtype;
    for (auto d : in->dims) run += " " + std::to_string(d);
  }
  run += " 2>" + dir + "/node.log";
  REQUIRE_MESSAGE(std::system(run.c_str()) == 0,
                  "onnxruntime-node failed: see " << dir << "/node.log");
  return read_file(out);
}

inline std::string temp_dir(const std::string& tag) {
  auto p =
      std::filesystem::temp_directory_path() / ("eq_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

template <class T>
void write_file(const std::string& path, const std::vector<T>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()),
          static_cast<std::streamsize>(v.size() * sizeof(T)));
}

}  // namespace eqtest
