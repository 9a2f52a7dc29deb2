// Raw codecs for quantize-raw / dequantize-raw / types: a name -> how to turn
// rows of float32 into bytes and back. ggml types now; other ecosystems'
// schemes register here too.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgequant/quantize.hpp"

namespace eqcli {

struct RawCodec {
  std::string name;          // canonical spelling
  std::string family;        // "ggml", ...
  std::uint32_t id = 0;      // ggml type id where it has one
  std::size_t block_elems;   // row length must be a multiple of this
  std::size_t block_bytes;   // bytes per block in the raw stream
  bool requires_importance;
  std::function<edgequant::Status(std::span<const float>, std::size_t cols, std::span<std::byte>,
                                  const edgequant::QuantizeOptions&)>
      quantize;
  std::function<edgequant::Status(std::span<const std::byte>, std::size_t cols, std::span<float>,
                                  unsigned threads)>
      dequantize;
  double bpw() const { return 8.0 * static_cast<double>(block_bytes) / static_cast<double>(block_elems); }
  std::size_t row_bytes(std::size_t cols) const { return cols / block_elems * block_bytes; }
};

inline std::optional<RawCodec> ggml_codec(edgequant::GgmlType t) {
  if (!edgequant::ggml_type_supported(t)) return std::nullopt;
  const auto& info = edgequant::ggml_type_info(t);
  RawCodec c;
  c.name = std::string(info.name);
  c.family = "ggml";
  c.id = static_cast<std::uint32_t>(t);
  c.block_elems = info.block_elems;
  c.block_bytes = info.block_bytes;
  c.requires_importance = info.requires_imatrix;
  c.quantize = [t](std::span<const float> src, std::size_t cols, std::span<std::byte> dst,
                   const edgequant::QuantizeOptions& opt) {
    return edgequant::quantize(t, src, cols, dst, opt);
  };
  c.dequantize = [t](std::span<const std::byte> src, std::size_t cols, std::span<float> dst,
                     unsigned threads) { return edgequant::dequantize(t, src, cols, dst, threads); };
  return c;
}

// Every codec, in a stable order (ggml types by id).
inline std::vector<RawCodec> all_codecs() {
  std::vector<RawCodec> v;
  for (std::uint32_t id = 0; id < edgequant::kGgmlTypeCount; ++id) {
    if (!edgequant::ggml_type_info(id)) continue;
    if (auto c = ggml_codec(static_cast<edgequant::GgmlType>(id))) v.push_back(std::move(*c));
  }
  return v;
}

inline edgequant::Expected<RawCodec> find_codec(const std::string& name) {
  if (auto t = edgequant::parse_ggml_type(name)) {
    if (auto c = ggml_codec(*t)) return *c;
    return edgequant::make_error(edgequant::Errc::kUnsupported,
                                 "type " + name + " is a ggml type edgequant cannot quantize to");
  }
  std::string known;
  for (const auto& c : all_codecs()) known += (known.empty() ? "" : ", ") + c.name;
  return edgequant::make_error(edgequant::Errc::kBadArgument,
                               "unknown type '" + name + "' (known: " + known + ")");
}

}  // namespace eqcli
