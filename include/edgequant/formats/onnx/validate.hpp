// Semantic checks of an ONNX model beyond the wire format: IR/opset/type
// consistency, graph wiring (SSA, topological order, scopes of subgraphs),
// attributes, initializers (specs/onnx.md §2–§5, §9).
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edgequant/formats/onnx/file.hpp"
#include "edgequant/formats/onnx/model.hpp"

namespace edgequant::onnx {

struct Finding {
  bool error = true;  // false: a warning (valid ONNX, but likely a problem)
  std::string where;  // "graph.node[3] (MatMul 'mm0')", "graph.initializer 'W'"...
  std::string what;
};

struct ValidationReport {
  std::vector<Finding> findings;
  std::size_t errors() const noexcept {
    std::size_t n = 0;
    for (const auto& f : findings) n += f.error ? 1 : 0;
    return n;
  }
  std::size_t warnings() const noexcept { return findings.size() - errors(); }
  bool ok() const noexcept { return errors() == 0; }
};

// Newest IR version ONNX Runtime 1.30 loads (§3).
inline constexpr std::int64_t kNewestSupportedIr = 13;

namespace detail {

class Validator {
 public:
  explicit Validator(const Model& m) : m_(m) {}

  ValidationReport run() {
    check_model();
    return std::move(r_);
  }

 private:
  void add(bool error, std::string where, std::string what) {
    r_.findings.push_back(Finding{error, std::move(where), std::move(what)});
  }

  bool domain_imported(std::string_view dom, const std::vector<OperatorSetId>& imports) const {
    const bool dflt = dom.empty() || dom == "ai.onnx";
    for (const auto& o : imports) {
      if (o.domain == dom || (dflt && (o.domain.empty() || o.domain == "ai.onnx"))) return true;
    }
    return false;
  }

  void check_type_id(std::int32_t dt, const std::string& where) {
    if (!is_known_data_type(dt) || dt == 0) {
      add(true, where,
          "data type " + std::to_string(dt) + " is " + (dt == 0 ? "UNDEFINED" : "unknown"));
      return;
    }
    const DataTypeInfo info = data_type_info(dt);
    if (m_.ir_version > 0 && info.min_ir > m_.ir_version) {
      add(true, where,
          std::string(info.name) + " needs IR version " + std::to_string(info.min_ir) +
              " or newer; the model declares " + std::to_string(m_.ir_version));
    }
  }

  void check_type(const TypeProto& t, const std::string& where) {
    switch (t.kind) {
      case TypeProto::Kind::kTensor:
      case TypeProto::Kind::kSparseTensor:
        check_type_id(t.elem_type, where);
        break;
      case TypeProto::Kind::kSequence:
      case TypeProto::Kind::kOptional:
      case TypeProto::Kind::kMap:
        if (t.elem)
          check_type(*t.elem, where);
        else
          add(true, where, "type has no element type");
        break;
      case TypeProto::Kind::kNone:
        add(true, where, "type is not set");
        break;
      case TypeProto::Kind::kOpaque:
        break;
    }
  }

  void check_tensor(const Tensor& t, const std::string& where) {
    check_type_id(t.data_type, where);
    if (!is_known_data_type(t.data_type) || t.data_type == 0) return;
    auto n = t.numel();
    if (!n) {
      add(true, where, n.error().what);
      return;
    }
    if (t.is_external()) {
      auto ref = t.external_ref();
      if (!ref)
        add(true, where, ref.error().what);
      else if (auto s = check_location(ref->location); !s)
        add(true, where, s.error().what);
    }
    if (data_type_info(t.data_type).bits != 0 && t.has_bytes()) {
      auto want = t.expected_bytes();
      if (want && *want != t.payload_size()) {
        add(true, where,
            "payload has " + std::to_string(t.payload_size()) + " bytes, dims and " +
                std::string(data_type_name(t.data_type)) + " call for " + std::to_string(*want));
      }
    }
  }

  void check_attribute(const Attribute& a, const std::string& where, std::set<std::string>& scope) {
    using AT = AttributeType;
    const auto T = static_cast<AT>(a.type);
    if (a.type == 0) {
      if (m_.ir_version >= 2) add(true, where, "attribute '" + a.name + "' has no type");
    } else if (a.type < 0 || a.type > 14) {
      add(true, where, "attribute '" + a.name + "' has unknown type " + std::to_string(a.type));
      return;
    }
    // Exactly one value field, the one `type` names (ref_attr_name attributes carry none).
    int others = 0;
    others += (a.has(2) && T != AT::kFloat) ? 1 : 0;
    others += (a.has(3) && T != AT::kInt) ? 1 : 0;
    others += (a.has(4) && T != AT::kString) ? 1 : 0;
    others += (a.t && T != AT::kTensor) ? 1 : 0;
    others += (a.g && T != AT::kGraph) ? 1 : 0;
    others += (a.sparse_tensor && T != AT::kSparseTensor) ? 1 : 0;
    others += (a.tp && T != AT::kTypeProto) ? 1 : 0;
    others += (!a.floats.empty() && T != AT::kFloats) ? 1 : 0;
    others += (!a.ints.empty() && T != AT::kInts) ? 1 : 0;
    others += (!a.strings.empty() && T != AT::kStrings) ? 1 : 0;
    others += (!a.tensors.empty() && T != AT::kTensors) ? 1 : 0;
    others += (!a.graphs.empty() && T != AT::kGraphs) ? 1 : 0;
    others += (!a.sparse_tensors.empty() && T != AT::kSparseTensors) ? 1 : 0;
    others += (!a.type_protos.empty() && T != AT::kTypeProtos) ? 1 : 0;
    if (others) {
      add(true, where,
          "attribute '" + a.name + "' of type " + std::string(attribute_type_name(a.type)) +
              " also sets a value field of another type");
    }
    const bool missing =
        a.ref_attr_name.empty() &&
        ((T == AT::kTensor && !a.t) || (T == AT::kGraph && !a.g) ||
         (T == AT::kSparseTensor && !a.sparse_tensor) || (T == AT::kTypeProto && !a.tp));
    if (missing) add(true, where, "attribute '" + a.name + "' has no value");
    if (a.t) check_tensor(*a.t, where + " attribute '" + a.name + "'");
    for (const auto& t : a.tensors) check_tensor(t, where + " attribute '" + a.name + "'");
    if (a.g) check_graph(*a.g, where + " attribute '" + a.name + "'", scope);
    for (std::size_t i = 0; i < a.graphs.size(); ++i) {
      check_graph(a.graphs[i], where + " attribute '" + a.name + "'[" + std::to_string(i) + "]",
                  scope);
    }
  }

  // `outer`: names visible from enclosing graphs.
  void check_graph(const Graph& g, const std::string& where, const std::set<std::string>& outer) {
    std::set<std::string> scope = outer;
    std::set<std::string> defined_here;
    std::set<std::string> inputs;
    for (const auto& v : g.input) {
      if (v.name.empty()) add(true, where + ".input", "graph input with an empty name");
      if (!inputs.insert(v.name).second)
        add(true, where + ".input", "duplicate graph input '" + v.name + "'");
      if (v.type)
        check_type(*v.type, where + ".input '" + v.name + "'");
      else
        add(true, where + ".input '" + v.name + "'", "graph input has no type");
      scope.insert(v.name);
    }
    std::set<std::string> inits;
    for (const auto& t : g.initializer) {
      const std::string w = where + ".initializer '" + t.name + "'";
      if (t.name.empty()) add(true, where + ".initializer", "initializer with an empty name");
      if (!inits.insert(t.name).second) add(true, w, "duplicate initializer name");
      if (inputs.count(t.name)) {
        add(false, w,
            "also listed as a graph input: ONNX Runtime treats it as an overridable input "
            "(no constant folding, no MatMulNBits pre-packing)");
      }
      check_tensor(t, w);
      scope.insert(t.name);
    }
    for (const auto& s : g.sparse_initializer) {
      if (s.values) scope.insert(s.values->name);
    }
    std::set<std::string> node_names;
    for (std::size_t i = 0; i < g.node.size(); ++i) {
      const Node& n = g.node[i];
      const std::string w = where + ".node[" + std::to_string(i) + "] (" + n.op_type +
                            (n.name.empty() ? "" : " '" + n.name + "'") + ")";
      if (n.op_type.empty()) add(true, w, "node without op_type");
      if (!n.name.empty() && !node_names.insert(n.name).second) {
        add(true, w,
            "node name '" + n.name + "' is used twice in this graph (ONNX Runtime refuses it)");
      }
      if (!domain_imported(n.domain, m_.opset_import)) {
        add(true, w, "no opset import for domain '" + n.domain + "'");
      }
      for (const auto& in : n.input) {
        if (!in.empty() && !scope.count(in)) {
          add(true, w,
              "input '" + in +
                  "' is not produced by an earlier node, an initializer or a graph input");
        }
      }
      std::set<std::string> attr_names;
      for (const auto& a : n.attribute) {
        if (!attr_names.insert(a.name).second) add(true, w, "duplicate attribute '" + a.name + "'");
        check_attribute(a, w, scope);
      }
      for (const auto& out : n.output) {
        if (out.empty()) continue;
        if (!defined_here.insert(out).second || inputs.count(out) || inits.count(out)) {
          add(true, w, "output '" + out + "' is already defined in this graph");
        }
        scope.insert(out);
      }
    }
    for (const auto& v : g.output) {
      if (!scope.count(v.name))
        add(true, where + ".output '" + v.name + "'", "graph output is never produced");
      if (v.type) check_type(*v.type, where + ".output '" + v.name + "'");
    }
  }

  void check_model() {
    if (m_.ir_version <= 0) {
      add(true, "model", "ir_version is not set");
    } else if (m_.ir_version > kNewestSupportedIr) {
      add(false, "model",
          "IR version " + std::to_string(m_.ir_version) +
              " is newer than ONNX Runtime 1.30 loads (" + std::to_string(kNewestSupportedIr) +
              ")");
    }
    std::set<std::string> doms;
    for (const auto& o : m_.opset_import) {
      const std::string d = o.domain == "ai.onnx" ? "" : o.domain;
      if (!doms.insert(d).second)
        add(true, "model.opset_import", "domain '" + o.domain + "' imported twice");
      if (o.version <= 0)
        add(true, "model.opset_import",
            "domain '" + o.domain + "' has version " + std::to_string(o.version));
    }
    if (m_.opset_import.empty() && m_.ir_version >= 3) add(true, "model", "no opset_import");
    const std::int64_t ai = m_.opset_version("");
    if (ai > 0 && m_.ir_version > 0) {
      // ai.onnx opsets that need a newer IR (§3): 21 -> IR 10, 23 -> 11, 24 -> 12, 25 -> 13.
      const std::int64_t need = ai >= 25   ? 13
                                : ai >= 24 ? 12
                                : ai >= 23 ? 11
                                : ai >= 21 ? 10
                                : ai >= 19 ? 9
                                           : 0;
      if (need > m_.ir_version) {
        add(true, "model",
            "ai.onnx opset " + std::to_string(ai) + " needs IR version " + std::to_string(need) +
                "; the model declares " + std::to_string(m_.ir_version));
      }
    }
    if (!m_.graph) {
      add(true, "model", "no graph");
    } else {
      check_graph(*m_.graph, "graph", {});
      if (m_.graph->node.empty()) add(false, "graph", "graph has no nodes");
    }
    for (std::size_t i = 0; i < m_.functions.size(); ++i) {
      const Function& f = m_.functions[i];
      const std::string w = "functions[" + std::to_string(i) + "] '" + f.name + "'";
      if (!domain_imported(f.domain, m_.opset_import))
        add(true, w, "no opset import for its domain '" + f.domain + "'");
      for (const auto& n : f.node) {
        if (!domain_imported(n.domain, f.opset_import) &&
            !domain_imported(n.domain, m_.opset_import)) {
          add(true, w, "node " + n.op_type + ": no opset import for domain '" + n.domain + "'");
        }
      }
    }
  }

  const Model& m_;
  ValidationReport r_;
};

}  // namespace detail

// Checks a parsed model. Wire-format problems were already errors when it
// was read; this looks at meaning.
inline ValidationReport validate(const Model& m) { return detail::Validator(m).run(); }

}  // namespace edgequant::onnx
