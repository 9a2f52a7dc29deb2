// llama.cpp importance matrices (llama-imatrix's GGUF output): per weight
// "<name>.in_sum2" (f32, [ne0, n_mat]) and "<name>.counts" (f32, [1, n_mat]),
// metadata imatrix.datasets / chunk_count / chunk_size. Loaded as llama-quantize
// does: importance = in_sum2 / count per matrix, 1 where the count is 0.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf.hpp"

namespace edgequant::llama {

struct Imatrix {
  std::unordered_map<std::string, std::vector<float>> weights;  // by GGUF tensor name
  std::vector<std::string> datasets;
  std::uint32_t chunk_count = 0, chunk_size = 0;

  const std::vector<float>* find(const std::string& name) const {
    auto it = weights.find(name);
    return it == weights.end() ? nullptr : &it->second;
  }
};

inline Expected<Imatrix> load_imatrix(const std::string& path) {
  auto r = gguf::Reader<>::open_file(path);
  if (!r) return std::move(r).error();
  auto bad = [&](const std::string& what) { return make_error(Errc::kInvalid, what, kNoOffset, path); };
  Imatrix m;
  // llama-quantize insists on the three keys (a GGUF without them is not an imatrix).
  auto cc = r->get<std::uint32_t>("imatrix.chunk_count");
  auto cs = r->get<std::uint32_t>("imatrix.chunk_size");
  if (!cc || !cs || !r->find("imatrix.datasets")) {
    return make_error(Errc::kInvalid,
                      "not an imatrix GGUF: imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size are required "
                      "(the legacy .dat format is not supported)",
                      kNoOffset, path);
  }
  m.chunk_count = *cc;
  m.chunk_size = *cs;
  if (auto ds = r->get<std::vector<std::string>>("imatrix.datasets")) m.datasets = std::move(*ds);
  std::map<std::string, std::pair<const gguf::TensorInfo*, const gguf::TensorInfo*>> pairs;
  for (const auto& t : r->tensors()) {
    const std::string_view n = t.name;
    if (n.ends_with(".in_sum2")) {
      pairs[std::string(n.substr(0, n.size() - 8))].first = &t;
    } else if (n.ends_with(".counts")) {
      pairs[std::string(n.substr(0, n.size() - 7))].second = &t;
    }
  }
  if (pairs.empty()) return bad("no <tensor>.in_sum2 / <tensor>.counts entries");
  for (const auto& [name, p] : pairs) {
    if (!p.first || !p.second) return bad("mismatched sums and counts for " + name);
    if (p.first->type != GgmlType::kF32 || p.second->type != GgmlType::kF32) {
      return bad("sums and counts for " + name + " must be F32");
    }
    const std::uint64_t nval = p.first->n_elements(), ncounts = p.second->n_elements();
    if (ncounts == 0 || nval % ncounts != 0) return bad(name + ": " + std::to_string(nval) +
                                                        " sums do not split into " + std::to_string(ncounts) + " counts");
    const auto sums = r->tensor_data(*p.first);
    const auto counts = r->tensor_data(*p.second);
    const std::uint64_t ne0 = nval / ncounts;
    std::vector<float> w(static_cast<std::size_t>(nval));
    for (std::uint64_t j = 0; j < ncounts; ++j) {
      // llama.cpp rounds counts to integers (std::lround) before dividing.
      const float count = static_cast<float>(std::lround(load_le<float>(counts.data() + j * 4)));
      for (std::uint64_t i = 0; i < ne0; ++i) {
        const std::uint64_t k = j * ne0 + i;
        w[static_cast<std::size_t>(k)] = count > 0.0f ? load_le<float>(sums.data() + k * 4) / count : 1.0f;
        if (!std::isfinite(w[static_cast<std::size_t>(k)])) {
          return make_error(Errc::kNonFinite, "imatrix for " + name + " holds a non-finite value", k, path);
        }
      }
    }
    m.weights.emplace(name, std::move(w));
  }
  return m;
}

}  // namespace edgequant::llama
