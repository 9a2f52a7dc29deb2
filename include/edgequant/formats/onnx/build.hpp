// Builders for ONNX messages. Each sets the same fields (presence included) as
// its onnx.helper namesake, so a model built here serializes to the bytes
// onnx.save writes for the same model.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "edgequant/formats/onnx/model.hpp"

namespace edgequant::onnx::build {

// numpy_helper.from_array / make_tensor(raw=True): dims, name, data_type, raw_data.
inline Tensor tensor(std::string name, DataType dt, std::vector<std::int64_t> dims, Bytes raw) {
  Tensor t;
  t.dims = std::move(dims);
  t.name = std::move(name);
  t.data_type = static_cast<std::int32_t>(dt);
  t.mark(2);
  t.storage = Storage::kRaw;
  t.data = std::move(raw);
  t.mark(9);
  return t;
}
template <class T>
Tensor tensor(std::string name, DataType dt, std::vector<std::int64_t> dims,
              std::span<const T> values) {
  return tensor(std::move(name), dt, std::move(dims), Bytes::copy(std::as_bytes(values)));
}
template <class T>
Tensor tensor(std::string name, DataType dt, std::vector<std::int64_t> dims,
              const std::vector<T>& values) {
  return tensor(std::move(name), dt, std::move(dims), std::span<const T>(values));
}

// A tensor whose raw bytes are produced while the writer streams them.
inline Tensor lazy_tensor(std::string name, DataType dt, std::vector<std::int64_t> dims,
                          std::uint64_t size, std::function<Status(const ChunkSink&)> produce) {
  Tensor t = tensor(std::move(name), dt, std::move(dims), Bytes{});
  auto l = std::make_shared<LazyData>();
  l->size = size;
  l->produce = std::move(produce);
  t.lazy = std::move(l);
  return t;
}

// A dimension for value_info(): a number, a symbolic name, or unknown (nullopt).
struct Dim {
  Dim(std::int64_t v) : kind(Dimension::Kind::kValue), value(v) {}            // NOLINT: implicit
  Dim(int v) : kind(Dimension::Kind::kValue), value(v) {}                     // NOLINT
  Dim(const char* p) : kind(Dimension::Kind::kParam), param(p) {}             // NOLINT
  Dim(std::string p) : kind(Dimension::Kind::kParam), param(std::move(p)) {}  // NOLINT
  Dim(std::nullopt_t) {}                                                      // NOLINT
  Dimension::Kind kind = Dimension::Kind::kUnknown;
  std::int64_t value = 0;
  std::string param;
};

// make_tensor_type_proto: elem_type always set; shape present unless nullopt.
inline TypeProto tensor_type(DataType dt, std::optional<std::vector<Dim>> shape) {
  TypeProto tp;
  tp.kind = TypeProto::Kind::kTensor;
  tp.elem_type = static_cast<std::int32_t>(dt);
  tp.inner.mark(1);
  if (shape) {
    tp.shape.emplace();
    for (const Dim& d : *shape) {
      Dimension dim;
      dim.kind = d.kind;
      dim.value = d.value;
      dim.param = d.param;
      if (d.kind == Dimension::Kind::kValue) dim.mark(1);
      if (d.kind == Dimension::Kind::kParam) dim.mark(2);
      tp.shape->dims.push_back(std::move(dim));
    }
  }
  return tp;
}

// make_tensor_value_info.
inline ValueInfo value_info(std::string name, DataType dt, std::optional<std::vector<Dim>> shape) {
  ValueInfo v;
  v.name = std::move(name);
  v.mark(1);
  v.type = tensor_type(dt, std::move(shape));
  return v;
}

// make_attribute, by value type.
inline Attribute attr(std::string name, std::int64_t v) {
  Attribute a;
  a.name = std::move(name);
  a.i = v;
  a.type = static_cast<std::int32_t>(AttributeType::kInt);
  return a;
}
inline Attribute attr(std::string name, int v) {
  return attr(std::move(name), static_cast<std::int64_t>(v));
}
inline Attribute attr(std::string name, float v) {
  Attribute a;
  a.name = std::move(name);
  a.f = v;
  a.type = static_cast<std::int32_t>(AttributeType::kFloat);
  return a;
}
inline Attribute attr(std::string name, std::string v) {
  Attribute a;
  a.name = std::move(name);
  a.s = std::move(v);
  a.type = static_cast<std::int32_t>(AttributeType::kString);
  return a;
}
inline Attribute attr(std::string name, const char* v) {
  return attr(std::move(name), std::string(v));
}
inline Attribute attr(std::string name, Tensor v) {
  Attribute a;
  a.name = std::move(name);
  a.t = std::move(v);
  a.type = static_cast<std::int32_t>(AttributeType::kTensor);
  return a;
}
inline Attribute attr(std::string name, Graph g);  // below Graph builders
inline Attribute attr_ints(std::string name, std::vector<std::int64_t> v) {
  Attribute a;
  a.name = std::move(name);
  a.ints = std::move(v);
  a.type = static_cast<std::int32_t>(AttributeType::kInts);
  return a;
}
inline Attribute attr_floats(std::string name, std::vector<float> v) {
  Attribute a;
  a.name = std::move(name);
  a.floats = std::move(v);
  a.type = static_cast<std::int32_t>(AttributeType::kFloats);
  return a;
}
inline Attribute attr_strings(std::string name, std::vector<std::string> v) {
  Attribute a;
  a.name = std::move(name);
  a.strings = std::move(v);
  a.type = static_cast<std::int32_t>(AttributeType::kStrings);
  return a;
}

// make_node: attributes sorted by name as onnx.helper does with its kwargs.
inline Node node(std::string op_type, std::vector<std::string> inputs,
                 std::vector<std::string> outputs, std::vector<Attribute> attrs = {},
                 std::string name = {}, std::optional<std::string> domain = std::nullopt) {
  Node n;
  n.op_type = std::move(op_type);
  n.input = std::move(inputs);
  n.output = std::move(outputs);
  n.name = std::move(name);
  if (domain) {
    n.domain = std::move(*domain);
    n.mark(7);
  }
  std::stable_sort(attrs.begin(), attrs.end(),
                   [](const Attribute& a, const Attribute& b) { return a.name < b.name; });
  n.attribute = std::move(attrs);
  return n;
}

// make_graph.
inline Graph graph(std::vector<Node> nodes, std::string name, std::vector<ValueInfo> inputs,
                   std::vector<ValueInfo> outputs, std::vector<Tensor> initializers = {}) {
  Graph g;
  g.node = std::move(nodes);
  g.name = std::move(name);
  g.mark(2);
  g.input = std::move(inputs);
  g.output = std::move(outputs);
  g.initializer = std::move(initializers);
  return g;
}

inline Attribute attr(std::string name, Graph g) {
  Attribute a;
  a.name = std::move(name);
  a.g = std::move(g);
  a.type = static_cast<std::int32_t>(AttributeType::kGraph);
  return a;
}

// make_opsetid: domain and version both set.
inline OperatorSetId opset(std::string domain, std::int64_t version) {
  OperatorSetId o;
  o.domain = std::move(domain);
  o.version = version;
  o.mark(1);
  o.mark(2);
  return o;
}

// make_model(graph, ir_version=..., opset_imports=[...]).
inline Model model(Graph g, std::int64_t ir_version, std::vector<OperatorSetId> opsets) {
  Model m;
  m.ir_version = ir_version;
  m.mark(1);
  m.graph = std::move(g);
  m.opset_import = std::move(opsets);
  return m;
}

}  // namespace edgequant::onnx::build
