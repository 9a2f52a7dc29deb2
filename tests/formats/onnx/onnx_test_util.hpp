// Helpers of the ONNX tests: temp folders, running python/node, and the JSON
// description of a model that tests/formats/onnx/pyonnx.py also produces.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "edgequant/formats/onnx.hpp"

namespace eqonnx {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace edgequant;
using namespace edgequant::onnx;

inline const std::string kTestDir = EQ_ONNX_TEST_DIR;

// A fresh folder under the temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("eq_onnx_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Runs a shell command; its stdout, or nullopt when it fails.
inline std::optional<std::string> run(const std::string& cmd) {
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) {
    MESSAGE("command failed (" << rc << "): " << cmd << "\n" << out.substr(0, 2000));
    return std::nullopt;
  }
  return out;
}

// /usr/bin/python3 with the onnx module, or empty (and a visible skip message).
inline std::string python_onnx() {
  static const std::string py = [] {
    const std::string cand =
        std::getenv("EDGEQUANT_PYTHON") ? std::getenv("EDGEQUANT_PYTHON") : "/usr/bin/python3";
    if (std::system((cand + " -c 'import onnx, numpy' >/dev/null 2>&1").c_str()) != 0)
      return std::string();
    return cand;
  }();
  if (py.empty()) MESSAGE("SKIPPED: python3 with the onnx module not found (Debian python3-onnx)");
  return py;
}

inline std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string o;
  for (unsigned char c : s) {
    o += d[c >> 4];
    o += d[c & 15];
  }
  return o;
}

// ---- the description pyonnx.py prints, built from our Model -------------------

inline json describe(const Graph& g);

inline json describe_dim(const Dimension& d) {
  if (d.kind == Dimension::Kind::kValue) return d.value;
  if (d.kind == Dimension::Kind::kParam) return d.param;
  return nullptr;
}

inline json describe(const TypeProto& t) {
  switch (t.kind) {
    case TypeProto::Kind::kTensor:
    case TypeProto::Kind::kSparseTensor: {
      json shape = nullptr;
      if (t.shape) {
        shape = json::array();
        for (const auto& d : t.shape->dims) shape.push_back(describe_dim(d));
      }
      return {{"kind", t.kind == TypeProto::Kind::kTensor ? "tensor" : "sparse_tensor"},
              {"elem_type", t.elem_type},
              {"shape", shape}};
    }
    case TypeProto::Kind::kSequence:
      return {{"kind", "sequence"}, {"elem", describe(*t.elem)}};
    case TypeProto::Kind::kOptional:
      return {{"kind", "optional"}, {"elem", describe(*t.elem)}};
    case TypeProto::Kind::kMap:
      return {{"kind", "map"}, {"key_type", t.key_type}, {"elem", describe(*t.elem)}};
    default:
      return {{"kind", "none"}};
  }
}

inline json describe(const ValueInfo& v) {
  return {{"name", v.name}, {"type", v.type ? describe(*v.type) : json(nullptr)}};
}

inline json describe_values(const Tensor& t) {
  json a = json::array();
  const auto dt = static_cast<DataType>(t.data_type);
  if (dt == DataType::kString) {
    for (const auto& s : t.string_data) a.push_back(hex(s));
    return a;
  }
  const std::byte* p = t.data.data();
  const std::size_t n = t.data.size();
  switch (dt) {
    case DataType::kComplex64:
      for (std::size_t i = 0; i < n / 4; ++i)
        a.push_back(static_cast<double>(load_le<float>(p + 4 * i)));
      return a;
    case DataType::kComplex128:
    case DataType::kDouble:
      for (std::size_t i = 0; i < n / 8; ++i) a.push_back(load_le<double>(p + 8 * i));
      return a;
    case DataType::kUint64:
      for (std::size_t i = 0; i < n / 8; ++i) a.push_back(load_le<std::uint64_t>(p + 8 * i));
      return a;
    case DataType::kBool:
      for (std::size_t i = 0; i < n; ++i) a.push_back(p[i] != std::byte{0});
      return a;
    default:
      break;
  }
  if (auto ints = to_int64s(t)) {
    for (auto v : *ints) a.push_back(v);
    return a;
  }
  auto f = to_floats(t);
  REQUIRE_MESSAGE(f, (f ? "" : f.error().message()));
  for (float v : *f) a.push_back(static_cast<double>(v));
  return a;
}

inline json describe(const Tensor& t) {
  const char* storage = t.storage == Storage::kRaw        ? "raw"
                        : t.storage == Storage::kTyped    ? "typed"
                        : t.storage == Storage::kExternal ? "external"
                                                          : "none";
  return {{"name", t.name},
          {"data_type", t.data_type},
          {"dims", t.dims},
          {"storage", storage},
          {"values", describe_values(t)}};
}

inline json describe(const SparseTensor& s) {
  return {{"values", describe(*s.values)}, {"indices", describe(*s.indices)}, {"dims", s.dims}};
}

inline json describe(const Attribute& a) {
  json d = {{"name", a.name}, {"type", a.type}};
  if (!a.ref_attr_name.empty()) d["ref_attr_name"] = a.ref_attr_name;
  const auto list = [](const auto& v) {
    json o = json::array();
    for (const auto& x : v) o.push_back(describe(x));
    return o;
  };
  switch (static_cast<AttributeType>(a.type)) {
    case AttributeType::kFloat:
      d["value"] = static_cast<double>(a.f);
      break;
    case AttributeType::kInt:
      d["value"] = a.i;
      break;
    case AttributeType::kString:
      d["value"] = hex(a.s);
      break;
    case AttributeType::kTensor:
      d["value"] = describe(*a.t);
      break;
    case AttributeType::kGraph:
      d["value"] = describe(*a.g);
      break;
    case AttributeType::kFloats: {
      json o = json::array();
      for (float f : a.floats) o.push_back(static_cast<double>(f));
      d["value"] = o;
      break;
    }
    case AttributeType::kInts:
      d["value"] = a.ints;
      break;
    case AttributeType::kStrings: {
      json o = json::array();
      for (const auto& s : a.strings) o.push_back(hex(s));
      d["value"] = o;
      break;
    }
    case AttributeType::kTensors:
      d["value"] = list(a.tensors);
      break;
    case AttributeType::kGraphs:
      d["value"] = list(a.graphs);
      break;
    case AttributeType::kSparseTensor:
      d["value"] = describe(*a.sparse_tensor);
      break;
    case AttributeType::kSparseTensors:
      d["value"] = list(a.sparse_tensors);
      break;
    case AttributeType::kTypeProto:
      d["value"] = describe(*a.tp);
      break;
    case AttributeType::kTypeProtos:
      d["value"] = list(a.type_protos);
      break;
    default:
      break;
  }
  return d;
}

inline json describe(const Node& n) {
  json attrs = json::array();
  for (const auto& a : n.attribute) attrs.push_back(describe(a));
  return {{"op_type", n.op_type}, {"domain", n.domain},  {"name", n.name},
          {"inputs", n.input},    {"outputs", n.output}, {"attributes", attrs}};
}

inline json describe(const Graph& g) {
  const auto list = [](const auto& v) {
    json o = json::array();
    for (const auto& x : v) o.push_back(describe(x));
    return o;
  };
  return {{"name", g.name},
          {"inputs", list(g.input)},
          {"outputs", list(g.output)},
          {"value_info", list(g.value_info)},
          {"initializers", list(g.initializer)},
          {"sparse_initializers", list(g.sparse_initializer)},
          {"nodes", list(g.node)}};
}

inline json describe(const Model& m) {
  json ops = json::array();
  for (const auto& o : m.opset_import) ops.push_back(json::array({o.domain, o.version}));
  json meta = json::object();
  for (const auto& p : m.metadata_props) meta[p.key] = p.value;
  json fns = json::array();
  for (const auto& f : m.functions) {
    json nodes = json::array();
    for (const auto& n : f.node) nodes.push_back(describe(n));
    fns.push_back({{"name", f.name},
                   {"domain", f.domain},
                   {"inputs", f.input},
                   {"outputs", f.output},
                   {"attributes", f.attribute},
                   {"nodes", nodes}});
  }
  return {{"ir_version", m.ir_version},
          {"opset_import", ops},
          {"producer_name", m.producer_name},
          {"producer_version", m.producer_version},
          {"domain", m.domain},
          {"model_version", m.model_version},
          {"doc_string", m.doc_string},
          {"metadata", meta},
          {"graph", m.graph ? describe(*m.graph) : json(nullptr)},
          {"functions", fns}};
}

// Bytes of a file.
inline std::vector<std::byte> file_bytes(const std::string& path) {
  auto v = edgequant::MappedFile::open(path, edgequant::MappedFile::Mode::kRead);
  REQUIRE_MESSAGE(v, path);
  return std::vector<std::byte>(v->bytes().begin(), v->bytes().end());
}

inline void write_bytes(const std::string& path, std::span<const std::byte> b) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  if (!b.empty()) REQUIRE(std::fwrite(b.data(), 1, b.size(), f) == b.size());
  std::fclose(f);
}

}  // namespace eqonnx
