// `edgequant inspect-onnx` / `validate-onnx`: summary and checks of a .onnx file
// (folded into `inspect` / `validate` by file type when the CLI merges them).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "edgequant/formats/onnx.hpp"

namespace eqcli {

struct OnnxInspectOptions {
  bool json = false;
};

namespace onnx_detail {

using namespace edgequant::onnx;

inline std::string dim_text(const Dimension& d) {
  if (d.kind == Dimension::Kind::kValue) return std::to_string(d.value);
  if (d.kind == Dimension::Kind::kParam) return d.param;
  return "?";
}

inline std::string type_text(const std::optional<TypeProto>& t) {
  if (!t) return "(no type)";
  switch (t->kind) {
    case TypeProto::Kind::kTensor:
    case TypeProto::Kind::kSparseTensor: {
      std::string s(data_type_name(t->elem_type).empty()
                        ? "type" + std::to_string(t->elem_type)
                        : std::string(data_type_name(t->elem_type)));
      if (!t->shape) return s + " [unknown rank]";
      s += " [";
      for (std::size_t i = 0; i < t->shape->dims.size(); ++i)
        s += (i ? ", " : "") + dim_text(t->shape->dims[i]);
      return s + "]";
    }
    case TypeProto::Kind::kSequence:
      return "sequence";
    case TypeProto::Kind::kMap:
      return "map";
    case TypeProto::Kind::kOptional:
      return "optional";
    case TypeProto::Kind::kOpaque:
      return "opaque";
    case TypeProto::Kind::kNone:
      break;
  }
  return "(no type)";
}

inline std::string type_json(const std::optional<TypeProto>& t) {
  if (!t || (t->kind != TypeProto::Kind::kTensor && t->kind != TypeProto::Kind::kSparseTensor)) {
    return "{\"kind\": \"" + std::string(t ? "other" : "none") + "\"}";
  }
  std::string s = "{\"kind\": \"tensor\", \"elem_type\": " + std::to_string(t->elem_type) +
                  ", \"dtype\": \"" + json_escape(data_type_name(t->elem_type)) + "\", \"shape\": ";
  if (!t->shape) return s + "null}";
  s += "[";
  for (std::size_t i = 0; i < t->shape->dims.size(); ++i) {
    const auto& d = t->shape->dims[i];
    s += i ? ", " : "";
    if (d.kind == Dimension::Kind::kValue)
      s += std::to_string(d.value);
    else if (d.kind == Dimension::Kind::kParam)
      s += "\"" + json_escape(d.param) + "\"";
    else
      s += "null";
  }
  return s + "]}";
}

inline std::string dims_text(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// Bytes of an initializer: its payload, or what its dims call for when the
// external data is not loaded.
inline std::uint64_t tensor_bytes(const Tensor& t) {
  if (t.has_bytes()) return t.payload_size();
  if (auto r = t.external_ref(); r && r->length) return *r->length;
  auto e = t.expected_bytes();
  return e ? *e : 0;
}

inline std::string human(std::uint64_t b) {
  char buf[32];
  if (b < 1024)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  else if (b < (1u << 30))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1 << 30));
  return buf;
}

}  // namespace onnx_detail

// Prints the summary of a .onnx file; 0 on success, 1 when it cannot be read.
inline int inspect_onnx(const std::string& path, const OnnxInspectOptions& opt) {
  using namespace onnx_detail;
  edgequant::onnx::ReadOptions ro;
  ro.load_external = false;  // references only: inspect works without the data files
  auto m = read_model(path, ro);
  if (!m) return fail(m.error());
  std::map<std::string, std::size_t> ops;
  std::size_t subgraphs = 0, nodes_total = 0;
  for_each_graph(*m, [&](const Graph& g) {
    ++subgraphs;
    nodes_total += g.node.size();
  });
  const Graph empty;
  const Graph& g = m->graph ? *m->graph : empty;
  for (const auto& n : g.node)
    ++ops[(n.domain.empty() || n.domain == "ai.onnx" ? "" : n.domain + ":") + n.op_type];
  std::uint64_t init_bytes = 0, ext_bytes = 0;
  for (const auto& t : g.initializer) {
    init_bytes += tensor_bytes(t);
    if (t.is_external()) ext_bytes += tensor_bytes(t);
  }
  if (opt.json) {
    std::printf(
        "{\"format\": \"onnx\", \"file\": \"%s\", \"ir_version\": %lld, \"producer_name\": \"%s\", "
        "\"producer_version\": \"%s\", \"opset_import\": [",
        json_escape(path).c_str(), static_cast<long long>(m->ir_version),
        json_escape(m->producer_name).c_str(), json_escape(m->producer_version).c_str());
    for (std::size_t i = 0; i < m->opset_import.size(); ++i) {
      std::printf("%s{\"domain\": \"%s\", \"version\": %lld}", i ? ", " : "",
                  json_escape(m->opset_import[i].domain).c_str(),
                  static_cast<long long>(m->opset_import[i].version));
    }
    std::printf("],\n \"graph\": {\"name\": \"%s\", \"node_count\": %zu, \"ops\": {",
                json_escape(g.name).c_str(), g.node.size());
    std::size_t k = 0;
    for (const auto& [op, n] : ops)
      std::printf("%s\"%s\": %zu", k++ ? ", " : "", json_escape(op).c_str(), n);
    std::printf("},\n  \"inputs\": [");
    for (std::size_t i = 0; i < g.input.size(); ++i) {
      std::printf("%s{\"name\": \"%s\", \"type\": %s}", i ? ", " : "",
                  json_escape(g.input[i].name).c_str(), type_json(g.input[i].type).c_str());
    }
    std::printf("],\n  \"outputs\": [");
    for (std::size_t i = 0; i < g.output.size(); ++i) {
      std::printf("%s{\"name\": \"%s\", \"type\": %s}", i ? ", " : "",
                  json_escape(g.output[i].name).c_str(), type_json(g.output[i].type).c_str());
    }
    std::printf("],\n  \"initializers\": [");
    for (std::size_t i = 0; i < g.initializer.size(); ++i) {
      const Tensor& t = g.initializer[i];
      const char* storage = t.storage == Storage::kExternal ? "external"
                            : t.storage == Storage::kTyped  ? "typed"
                            : t.storage == Storage::kRaw    ? "raw"
                                                            : "none";
      std::printf(
          "%s\n   {\"name\": \"%s\", \"data_type\": %d, \"dtype\": \"%s\", \"dims\": %s, "
          "\"bytes\": %llu, "
          "\"storage\": \"%s\"",
          i ? "," : "", json_escape(t.name).c_str(), t.data_type,
          json_escape(data_type_name(t.data_type)).c_str(), dims_text(t.dims).c_str(),
          static_cast<unsigned long long>(tensor_bytes(t)), storage);
      if (t.is_external()) {
        if (auto r = t.external_ref()) {
          std::printf(", \"location\": \"%s\", \"offset\": %llu", json_escape(r->location).c_str(),
                      static_cast<unsigned long long>(r->offset));
        }
      }
      std::printf("}");
    }
    std::printf("],\n  \"initializer_bytes\": %llu, \"external_bytes\": %llu},\n",
                static_cast<unsigned long long>(init_bytes),
                static_cast<unsigned long long>(ext_bytes));
    std::printf(" \"graphs\": %zu, \"nodes_in_all_graphs\": %zu, \"functions\": [", subgraphs,
                nodes_total);
    for (std::size_t i = 0; i < m->functions.size(); ++i) {
      std::printf("%s\"%s\"", i ? ", " : "",
                  json_escape(m->functions[i].domain + ":" + m->functions[i].name).c_str());
    }
    std::printf("], \"metadata\": {");
    for (std::size_t i = 0; i < m->metadata_props.size(); ++i) {
      std::printf("%s\"%s\": \"%s\"", i ? ", " : "", json_escape(m->metadata_props[i].key).c_str(),
                  json_escape(m->metadata_props[i].value).c_str());
    }
    std::printf("}}\n");
    return 0;
  }
  std::printf("%s: ONNX model, IR version %lld", path.c_str(),
              static_cast<long long>(m->ir_version));
  if (!m->producer_name.empty())
    std::printf(", producer %s %s", m->producer_name.c_str(), m->producer_version.c_str());
  std::printf("\nopset imports:");
  for (const auto& o : m->opset_import) {
    std::printf(" %s %lld", o.domain.empty() ? "ai.onnx" : o.domain.c_str(),
                static_cast<long long>(o.version));
  }
  std::printf("\ngraph '%s': %zu nodes, %zu initializers (%s, %s external)", g.name.c_str(),
              g.node.size(), g.initializer.size(), human(init_bytes).c_str(),
              human(ext_bytes).c_str());
  if (subgraphs > 1) std::printf(", %zu subgraphs (%zu nodes in all)", subgraphs - 1, nodes_total);
  if (!m->functions.empty()) std::printf(", %zu functions", m->functions.size());
  std::printf("\ninputs:\n");
  for (const auto& v : g.input)
    std::printf("  %-24s %s\n", v.name.c_str(), type_text(v.type).c_str());
  std::printf("outputs:\n");
  for (const auto& v : g.output)
    std::printf("  %-24s %s\n", v.name.c_str(), type_text(v.type).c_str());
  std::printf("nodes by op type:\n");
  for (const auto& [op, n] : ops) std::printf("  %-24s %zu\n", op.c_str(), n);
  std::printf("initializers:\n  %-32s %-12s %-20s %12s  %s\n", "name", "dtype", "shape", "bytes",
              "stored");
  for (const auto& t : g.initializer) {
    std::string where = t.storage == Storage::kExternal ? "external"
                        : t.storage == Storage::kTyped  ? "inline (typed)"
                                                        : "inline";
    if (t.is_external()) {
      if (auto r = t.external_ref()) where += " " + r->location + " @" + std::to_string(r->offset);
    }
    std::printf("  %-32s %-12s %-20s %12llu  %s\n", t.name.c_str(),
                std::string(data_type_name(t.data_type)).c_str(), dims_text(t.dims).c_str(),
                static_cast<unsigned long long>(tensor_bytes(t)), where.c_str());
  }
  for (const auto& p : m->metadata_props)
    std::printf("metadata: %s = %s\n", p.key.c_str(), p.value.c_str());
  return 0;
}

// Reads the file (external data included, within its folder) and checks it;
// 0 when valid (warnings allowed), 1 otherwise.
inline int validate_onnx(const std::string& path, const OnnxInspectOptions& opt = {}) {
  using namespace onnx_detail;
  auto m = read_model(path);
  if (!m) {
    if (opt.json) {
      std::printf(
          "{\"format\": \"onnx\", \"file\": \"%s\", \"valid\": false, \"errors\": 1, \"warnings\": "
          "0, "
          "\"findings\": [{\"severity\": \"error\", \"code\": \"%s\", \"offset\": %lld, \"what\": "
          "\"%s\"}]}\n",
          json_escape(path).c_str(), std::string(edgequant::errc_name(m.error().code)).c_str(),
          m.error().offset == edgequant::kNoOffset ? -1LL
                                                   : static_cast<long long>(m.error().offset),
          json_escape(m.error().message()).c_str());
      return 1;
    }
    return fail(m.error());
  }
  const auto r = validate(*m);
  if (opt.json) {
    std::printf(
        "{\"format\": \"onnx\", \"file\": \"%s\", \"valid\": %s, \"errors\": %zu, \"warnings\": "
        "%zu, \"findings\": [",
        json_escape(path).c_str(), r.ok() ? "true" : "false", r.errors(), r.warnings());
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
      const auto& f = r.findings[i];
      std::printf("%s\n  {\"severity\": \"%s\", \"where\": \"%s\", \"what\": \"%s\"}", i ? "," : "",
                  f.error ? "error" : "warning", json_escape(f.where).c_str(),
                  json_escape(f.what).c_str());
    }
    std::printf("]}\n");
  } else {
    for (const auto& f : r.findings) {
      std::printf("%s: %s: %s: %s\n", path.c_str(), f.error ? "error" : "warning", f.where.c_str(),
                  f.what.c_str());
    }
    std::printf("%s: %s (%zu errors, %zu warnings)\n", path.c_str(), r.ok() ? "valid" : "INVALID",
                r.errors(), r.warnings());
  }
  return r.ok() ? 0 : 1;
}

inline Command inspect_onnx_command() {
  return {"inspect-onnx",
          "MODEL.onnx [--json]",
          "summary of an ONNX model: IR, opsets, inputs/outputs, op counts, initializers",
          {{"json", false, "one JSON document"}},
          [](const Args& a) -> int {
            if (a.positional().size() != 1) return fail_usage("inspect-onnx takes one .onnx file");
            return inspect_onnx(a.positional()[0], {a.flag("json")});
          }};
}

inline Command validate_onnx_command() {
  return {
      "validate-onnx",
      "MODEL.onnx [--json]",
      "check an ONNX model: wire format, external data containment, IR/opset/types, graph wiring",
      {{"json", false, "one JSON document"}},
      [](const Args& a) -> int {
        if (a.positional().size() != 1) return fail_usage("validate-onnx takes one .onnx file");
        return validate_onnx(a.positional()[0], {a.flag("json")});
      }};
}

}  // namespace eqcli
