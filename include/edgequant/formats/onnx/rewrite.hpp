// Graph edits for weight quantizers (specs/onnx.md §6.4): find the nodes fed by
// a constant weight (MatMul B, by default 2-D float/float16, searched through
// enclosing graphs as ORT's quantizer does), splice a replacement in their
// place, import the opsets it needs, and drop weights nothing reads any more.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edgequant/core/error.hpp"
#include "edgequant/formats/onnx/model.hpp"

namespace edgequant::onnx {

// Which nodes a quantizer looks at.
struct SiteFilter {
  std::vector<std::string> op_types{"MatMul"};
  std::size_t weight_input = 1;  // MatMul's B
  std::vector<std::int32_t> dtypes{static_cast<std::int32_t>(DataType::kFloat),
                                   static_cast<std::int32_t>(DataType::kFloat16)};
  std::size_t rank = 2;                       // 0: any rank
  std::vector<std::string> nodes_to_exclude;  // by node name
  std::vector<std::string> nodes_to_include;  // empty: all
};

// What replaces one node: new nodes spliced in its place (in this order), new
// initializers added to the node's graph, and opsets the new nodes need.
struct Replacement {
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<OperatorSetId> opsets;
  std::int64_t min_ir_version = 0;  // raised to this if lower (INT4 needs IR 10, §3)
};

// Called once per matching node with the node and its weight. nullopt keeps the
// node. Initializer names must be deterministic per weight: when two nodes
// share a weight, the second replacement's initializers of the same name are
// taken to be the same tensor and added once.
using WeightRewriter =
    std::function<Expected<std::optional<Replacement>>(const Node& node, const Tensor& weight)>;

struct RewriteReport {
  std::size_t rewritten = 0;            // nodes replaced
  std::size_t kept = 0;                 // matching nodes the rewriter left alone
  std::uint64_t weight_bytes = 0;       // payload of the weights of replaced nodes (each once)
  std::uint64_t replacement_bytes = 0;  // payload of the initializers added
  std::vector<std::string> removed;     // weights dropped because nothing reads them now
};

// Adds an opset import, or raises an older one to `version`.
inline void ensure_opset(Model& m, std::string_view domain, std::int64_t version) {
  const bool dflt = domain.empty() || domain == "ai.onnx";
  for (auto& o : m.opset_import) {
    if (o.domain == domain || (dflt && (o.domain.empty() || o.domain == "ai.onnx"))) {
      o.version = std::max(o.version, version);
      return;
    }
  }
  OperatorSetId o;
  o.domain = std::string(domain);
  o.version = version;
  o.mark(1);
  o.mark(2);
  m.opset_import.push_back(std::move(o));
}

namespace detail {

inline bool listed(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Names read anywhere in a graph and its subgraphs (node inputs, graph outputs).
inline void collect_reads(const Graph& g, std::set<std::string>& reads) {
  for (const auto& n : g.node) {
    for (const auto& in : n.input) reads.insert(in);
    for (const auto& a : n.attribute) {
      if (a.g) collect_reads(*a.g, reads);
      for (const auto& sub : a.graphs) collect_reads(sub, reads);
    }
  }
  for (const auto& o : g.output) reads.insert(o.name);
}

// Names a graph defines itself (inputs, initializers, node outputs): they hide
// an outer initializer of the same name.
inline bool defines(const Graph& g, std::string_view name) {
  for (const auto& v : g.input) {
    if (v.name == name) return true;
  }
  for (const auto& n : g.node) {
    if (listed(n.output, name)) return true;
  }
  return g.find_initializer(name) != nullptr;
}

class WeightRewrite {
 public:
  WeightRewrite(Model& m, const WeightRewriter& fn, const SiteFilter& f) : m_(m), fn_(fn), f_(f) {}

  Expected<RewriteReport> run() {
    if (!m_.graph) return r_;
    std::vector<Graph*> scopes;
    EDGEQUANT_TRY(process(*m_.graph, scopes));
    for (const auto& o : opsets_) ensure_opset(m_, o.domain, o.version);
    m_.ir_version = std::max(m_.ir_version, ir_);
    drop_unused();
    return std::move(r_);
  }

 private:
  const Tensor* resolve(Graph& g, const std::vector<Graph*>& outer, const std::string& name) {
    if (const Tensor* t = g.find_initializer(name)) return t;
    if (defines(g, name)) return nullptr;
    for (auto it = outer.rbegin(); it != outer.rend(); ++it) {
      if (const Tensor* t = (*it)->find_initializer(name)) return t;
      if (defines(**it, name)) return nullptr;
    }
    return nullptr;
  }

  bool wanted(const Node& n, const Tensor& w) const {
    if (!listed(f_.op_types, n.op_type) || !(n.domain.empty() || n.domain == "ai.onnx"))
      return false;
    if (listed(f_.nodes_to_exclude, n.name)) return false;
    if (!f_.nodes_to_include.empty() && !listed(f_.nodes_to_include, n.name)) return false;
    if (!f_.dtypes.empty() &&
        std::find(f_.dtypes.begin(), f_.dtypes.end(), w.data_type) == f_.dtypes.end()) {
      return false;
    }
    return (f_.rank == 0 || w.dims.size() == f_.rank) && (w.has_bytes() || w.lazy);
  }

  Status process(Graph& g, std::vector<Graph*>& outer) {
    // Subgraphs first: splicing this graph's nodes never moves their graphs.
    outer.push_back(&g);
    for (auto& n : g.node) {
      for (auto& a : n.attribute) {
        if (a.g) EDGEQUANT_TRY(process(*a.g, outer));
        for (auto& sub : a.graphs) EDGEQUANT_TRY(process(sub, outer));
      }
    }
    outer.pop_back();
    std::set<std::string> added_here;
    for (std::size_t i = g.node.size(); i-- > 0;) {
      const Node& n = g.node[i];
      if (n.input.size() <= f_.weight_input) continue;
      const std::string wname = n.input[f_.weight_input];
      const Tensor* wt = resolve(g, outer, wname);
      if (!wt || !wanted(n, *wt)) continue;
      const Tensor weight = *wt;  // copy (views): g.initializer may grow below
      auto rep = fn_(n, weight);
      if (!rep) return std::move(rep).error();
      if (!*rep) {
        ++r_.kept;
        continue;
      }
      Replacement& R = **rep;
      for (auto& t : R.initializers) {
        if (added_here.count(t.name)) continue;  // shared weight: added already
        if (g.find_initializer(t.name) || defines(g, t.name)) {
          return make_error(Errc::kInvalid, "rewrite of node '" + n.name + "': initializer name '" +
                                                t.name + "' is already used in graph '" + g.name +
                                                "'");
        }
        r_.replacement_bytes += t.payload_size();
        added_here.insert(t.name);
        g.initializer.push_back(std::move(t));
      }
      if (weights_.insert(wname).second) r_.weight_bytes += weight.payload_size();
      for (const auto& o : R.opsets) opsets_.push_back(o);
      ir_ = std::max(ir_, R.min_ir_version);
      g.node.erase(g.node.begin() + static_cast<std::ptrdiff_t>(i));
      g.node.insert(g.node.begin() + static_cast<std::ptrdiff_t>(i),
                    std::make_move_iterator(R.nodes.begin()),
                    std::make_move_iterator(R.nodes.end()));
      ++r_.rewritten;
    }
    return {};
  }

  // Drops replaced weights nothing reads any more, from every graph, and from
  // graph inputs (ORT's quantizer does the same).
  void drop_unused() {
    std::set<std::string> reads;
    collect_reads(*m_.graph, reads);
    for_each_graph(m_, [&](Graph& g) {
      for (std::size_t i = g.initializer.size(); i-- > 0;) {
        const std::string& name = g.initializer[i].name;
        if (!weights_.count(name) || reads.count(name)) continue;
        r_.removed.push_back(name);
        g.input.erase(std::remove_if(g.input.begin(), g.input.end(),
                                     [&](const ValueInfo& v) { return v.name == name; }),
                      g.input.end());
        g.initializer.erase(g.initializer.begin() + static_cast<std::ptrdiff_t>(i));
      }
    });
  }

  Model& m_;
  const WeightRewriter& fn_;
  const SiteFilter& f_;
  RewriteReport r_;
  std::set<std::string> weights_;
  std::vector<OperatorSetId> opsets_;
  std::int64_t ir_ = 0;
};

}  // namespace detail

// Replaces every node that `filter` selects and `rewriter` accepts; see
// WeightRewriter. The model is changed in place.
inline Expected<RewriteReport> rewrite_weights(Model& m, const WeightRewriter& rewriter,
                                               const SiteFilter& filter = {}) {
  return detail::WeightRewrite(m, rewriter, filter).run();
}

// Removes initializers that no node and no graph output reads (any graph).
inline std::vector<std::string> remove_unused_initializers(Model& m) {
  std::vector<std::string> removed;
  if (!m.graph) return removed;
  std::set<std::string> reads;
  detail::collect_reads(*m.graph, reads);
  for_each_graph(m, [&](Graph& g) {
    std::erase_if(g.initializer, [&](const Tensor& t) {
      if (reads.count(t.name)) return false;
      removed.push_back(t.name);
      return true;
    });
  });
  return removed;
}

}  // namespace edgequant::onnx
