// A llama-family decoder (Llama, Mistral, Qwen2; Hugging Face folder or GGUF) → OpenVINO IR v11
// (`openvino_model.xml` + `openvino_model.bin`, optimum-intel's names), with
// NNCF-style weight compression: the low-bit Const → Convert → Subtract(zero
// point) → Multiply(scale) → [Reshape] → Convert(f32) subgraph of
// specs/openvino.md §5.5 in front of every MatMul and of the embedding Gather
// (docs/convert.md, "To OpenVINO").
//
// The graph is a stateless full-sequence forward pass: inputs input_ids,
// attention_mask and position_ids (i64 [batch, seq]); output logits
// (f32 [batch, seq, vocab]). Attention is written out with opset ops
// (MatMul, SoftMax, a causal + padding mask from Range/Greater/Equal/Select),
// RoPE as Hugging Face's rotate-half, grouped-query attention by repeating the
// key/value heads (Concat + Reshape), Qwen2's q/k/v biases as Adds. No KV cache.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "edgequant/convert/gguf_to_hf.hpp"
#include "edgequant/convert/gguf_tokenizer.hpp"
#include "edgequant/convert/hf_config.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/convert/hf_to_mlx.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"

namespace edgequant::openvino {

// Element types the exporter writes (specs/openvino.md §3).
enum class ElementType : std::uint8_t { kF32, kF16, kI64, kI32, kU8, kI8, kU4, kI4, kBoolean };

struct ElementInfo {
  std::string_view name;       // <data element_type>, destination_type
  std::string_view precision;  // <port precision> (upper-case legacy spelling)
  int bits;
};

constexpr ElementInfo element_info(ElementType t) noexcept {
  switch (t) {
    case ElementType::kF32:
      return {"f32", "FP32", 32};
    case ElementType::kF16:
      return {"f16", "FP16", 16};
    case ElementType::kI64:
      return {"i64", "I64", 64};
    case ElementType::kI32:
      return {"i32", "I32", 32};
    case ElementType::kU8:
      return {"u8", "U8", 8};
    case ElementType::kI8:
      return {"i8", "I8", 8};
    case ElementType::kU4:
      return {"u4", "U4", 4};
    case ElementType::kI4:
      return {"i4", "I4", 4};
    case ElementType::kBoolean:
      return {"boolean", "BOOL", 8};
  }
  return {"undefined", "UNSPECIFIED", 0};
}

using Shape = std::vector<std::int64_t>;  // -1: a dynamic dimension

// One output of a layer.
struct Output {
  std::size_t layer = 0;
  std::size_t index = 0;  // among the layer's outputs
};

// XML attribute text: the five markup characters and control characters as
// character references (pugixml reads them back unchanged).
inline std::string xml_escape(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        r += "&amp;";
        break;
      case '<':
        r += "&lt;";
        break;
      case '>':
        r += "&gt;";
        break;
      case '"':
        r += "&quot;";
        break;
      case '\'':
        r += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          r += "&#" + std::to_string(static_cast<unsigned char>(c)) + ";";
        } else {
          r += c;
        }
    }
  }
  return r;
}

// Builds the layer list and streams Const payloads into `Sink` (AtomicFile or
// MemorySink). The first write error is kept; status() reports it.
template <class Sink>
class IrBuilder {
 public:
  struct Port {
    ElementType type;
    Shape shape;
    std::string names;  // tensor names (model inputs/outputs)
  };
  struct Layer {
    std::string name, type, version;
    std::vector<std::pair<std::string, std::string>> data;  // <data> attributes, in order
    std::vector<Output> inputs;
    std::vector<Port> outputs;
    std::vector<std::string> rt;  // layer rt_info attributes (name only, version 0)
  };

  explicit IrBuilder(Sink& bin) : bin_(&bin) {}

  const Status& status() const noexcept { return status_; }
  std::uint64_t bin_bytes() const noexcept { return offset_; }
  std::span<const Layer> layers() const noexcept { return layers_; }
  const Port& port(Output o) const { return layers_[o.layer].outputs[o.index]; }

  Output parameter(const std::string& name, ElementType t, const Shape& shape) {
    return add(name, "Parameter", "opset1",
               {{"shape", shape_attr(shape)}, {"element_type", std::string(element_info(t).name)}},
               {}, {{t, shape, name}});
  }

  // A Const of `shape` holding `bytes` (already packed, little-endian).
  Output constant(const std::string& name, ElementType t, const Shape& shape,
                  std::span<const std::byte> bytes) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= static_cast<std::uint64_t>(d);
    const std::uint64_t want = (n * static_cast<std::uint64_t>(element_info(t).bits) + 7) / 8;
    if (want != bytes.size() && status_) {
      status_ =
          make_error(Errc::kBadArgument, "Const " + name + ": " + std::to_string(bytes.size()) +
                                             " bytes for " + std::to_string(want));
    }
    const std::uint64_t off = write_payload(bytes);
    return add(name, "Const", "opset1",
               {{"element_type", std::string(element_info(t).name)},
                {"shape", shape_attr(shape)},
                {"offset", std::to_string(off)},
                {"size", std::to_string(bytes.size())}},
               {}, {{t, shape, ""}});
  }
  Output const_i64(const std::string& name, const Shape& shape,
                   const std::vector<std::int64_t>& v) {
    std::vector<std::byte> b(v.size() * 8);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto u = static_cast<std::uint64_t>(v[i]);
      for (int k = 0; k < 8; ++k)
        b[i * 8 + static_cast<std::size_t>(k)] = static_cast<std::byte>(u >> (8 * k));
    }
    return constant(name, ElementType::kI64, shape, b);
  }
  Output const_f32(const std::string& name, const Shape& shape, const std::vector<float>& v) {
    std::vector<std::byte> b(v.size() * 4);
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::uint32_t u = f32_bits(v[i]);
      for (int k = 0; k < 4; ++k)
        b[i * 4 + static_cast<std::size_t>(k)] = static_cast<std::byte>(u >> (8 * k));
    }
    return constant(name, ElementType::kF32, shape, b);
  }

  // Any other op; `outs` are its output ports (types and shapes as inferred
  // by the caller).
  Output op(const std::string& type, const std::string& version, const std::string& name,
            std::vector<Output> in, std::vector<std::pair<std::string, std::string>> data,
            std::vector<Port> outs) {
    return add(name, type, version, std::move(data), std::move(in), std::move(outs));
  }

  void result(const std::string& name, Output in) { add(name, "Result", "opset1", {}, {in}, {}); }

  // Marks a Convert as weight decompression (rt_info "decompression"), as
  // OpenVINO's fp16 compression writes it on Const f16 → Convert f32.
  void mark_decompression(Output o) { layers_[o.layer].rt.push_back("decompression"); }

  // The .xml text. `rt_info` is model-level rt_info XML (already escaped).
  std::string xml(const std::string& model_name, const std::string& rt_info) const {
    std::string x = "<?xml version=\"1.0\"?>\n<net name=\"" + xml_escape(model_name) +
                    "\" version=\"11\">\n\t<layers>\n";
    for (std::size_t id = 0; id < layers_.size(); ++id) {
      const Layer& l = layers_[id];
      x += "\t\t<layer id=\"" + std::to_string(id) + "\" name=\"" + xml_escape(l.name) +
           "\" type=\"" + l.type + "\" version=\"" + l.version + "\">\n";
      if (!l.data.empty()) {
        x += "\t\t\t<data";
        for (const auto& [k, v] : l.data) x += " " + k + "=\"" + xml_escape(v) + "\"";
        x += " />\n";
      }
      if (!l.rt.empty()) {
        x += "\t\t\t<rt_info>\n";
        for (const auto& a : l.rt)
          x += "\t\t\t\t<attribute name=\"" + xml_escape(a) + "\" version=\"0\" />\n";
        x += "\t\t\t</rt_info>\n";
      }
      if (!l.inputs.empty()) {
        x += "\t\t\t<input>\n";
        for (std::size_t i = 0; i < l.inputs.size(); ++i)
          x += port_xml(i, port(l.inputs[i]), false);
        x += "\t\t\t</input>\n";
      }
      if (!l.outputs.empty()) {
        x += "\t\t\t<output>\n";
        for (std::size_t i = 0; i < l.outputs.size(); ++i)
          x += port_xml(l.inputs.size() + i, l.outputs[i], true);
        x += "\t\t\t</output>\n";
      }
      x += "\t\t</layer>\n";
    }
    x += "\t</layers>\n\t<edges>\n";
    for (std::size_t id = 0; id < layers_.size(); ++id) {
      const Layer& l = layers_[id];
      for (std::size_t i = 0; i < l.inputs.size(); ++i) {
        const Output& o = l.inputs[i];
        const std::size_t from_port = layers_[o.layer].inputs.size() + o.index;
        x += "\t\t<edge from-layer=\"" + std::to_string(o.layer) + "\" from-port=\"" +
             std::to_string(from_port) + "\" to-layer=\"" + std::to_string(id) + "\" to-port=\"" +
             std::to_string(i) + "\" />\n";
      }
    }
    x += "\t</edges>\n";
    if (!rt_info.empty()) x += "\t<rt_info>\n" + rt_info + "\t</rt_info>\n";
    x += "</net>\n";
    return x;
  }

 private:
  // Parameter/Const `shape` attribute: comma-separated, `?` for dynamic.
  static std::string shape_attr(const Shape& s) {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i)
      r += (i ? "," : "") + (s[i] < 0 ? std::string("?") : std::to_string(s[i]));
    return r;
  }
  static std::string port_xml(std::size_t id, const Port& p, bool output) {
    std::string x = "\t\t\t\t<port id=\"" + std::to_string(id) + "\" precision=\"" +
                    std::string(element_info(p.type).precision) + "\"";
    if (output && !p.names.empty()) x += " names=\"" + xml_escape(p.names) + "\"";
    if (p.shape.empty()) return x + " />\n";
    x += ">\n";
    for (auto d : p.shape) x += "\t\t\t\t\t<dim>" + std::to_string(d) + "</dim>\n";
    return x + "\t\t\t\t</port>\n";
  }

  Output add(const std::string& name, std::string_view type, std::string_view version,
             std::vector<std::pair<std::string, std::string>> data, std::vector<Output> in,
             std::vector<Port> outs) {
    std::string unique = name;
    for (int k = 1; !names_.emplace(unique).second; ++k) unique = name + "." + std::to_string(k);
    layers_.push_back({std::move(unique),
                       std::string(type),
                       std::string(version),
                       std::move(data),
                       std::move(in),
                       std::move(outs),
                       {}});
    return {layers_.size() - 1, 0};
  }

  // Payloads of 64 bytes or more start on a 64-byte boundary (legal: the
  // reader only checks offset + size, §2); small identical payloads (shape
  // and axis constants) are written once.
  std::uint64_t write_payload(std::span<const std::byte> b) {
    if (b.size() <= 64) {
      std::string key(reinterpret_cast<const char*>(b.data()), b.size());
      if (auto it = small_.find(key); it != small_.end()) return it->second;
      const std::uint64_t off = offset_;
      put(b);
      small_.emplace(std::move(key), off);
      return off;
    }
    if (const std::uint64_t pad = (64 - offset_ % 64) % 64; pad) {
      if (status_) status_ = bin_->write_zeros(static_cast<std::size_t>(pad));
      offset_ += pad;
    }
    const std::uint64_t off = offset_;
    put(b);
    return off;
  }
  void put(std::span<const std::byte> b) {
    if (status_ && !b.empty()) status_ = bin_->write(b.data(), b.size());
    offset_ += b.size();
  }

  Sink* bin_;
  Status status_{};
  std::uint64_t offset_ = 0;
  std::vector<Layer> layers_;
  std::set<std::string, std::less<>> names_;
  std::map<std::string, std::uint64_t> small_;
};

}  // namespace edgequant::openvino

namespace edgequant::convert {

// Weight compression (NNCF modes, specs/openvino.md §5).
enum class OvCompression : std::uint8_t { kNone, kInt8Asym, kInt8Sym, kInt4Asym, kInt4Sym };

inline std::string_view ov_compression_name(OvCompression c) noexcept {
  switch (c) {
    case OvCompression::kNone:
      return "none";
    case OvCompression::kInt8Asym:
      return "int8_asym";
    case OvCompression::kInt8Sym:
      return "int8_sym";
    case OvCompression::kInt4Asym:
      return "int4_asym";
    case OvCompression::kInt4Sym:
      return "int4_sym";
  }
  return "?";
}

inline std::optional<OvCompression> parse_ov_compression(std::string_view s) {
  for (auto c : {OvCompression::kNone, OvCompression::kInt8Asym, OvCompression::kInt8Sym,
                 OvCompression::kInt4Asym, OvCompression::kInt4Sym}) {
    if (s == ov_compression_name(c)) return c;
  }
  return std::nullopt;
}

struct OpenVinoOptions {
  // int8_asym: NNCF's compress_weights default (and optimum-intel's for
  // models ≥ 1e9 parameters). INT4 modes: every MatMul but the last gets the
  // INT4 mode; the embedding and lm_head get the INT8_ASYM backup (NNCF's
  // all_layers=False default, §5.1).
  OvCompression compress = OvCompression::kInt8Asym;
  int group = 128;  // INT4 modes: 32, 64, 128, or -1 (one group per row)
  // Float constants that are not compressed (norm weights; all weights with
  // kNone): f16 (stored f16 → Convert f32, as optimum-intel saves) or f32.
  FloatType dtype = FloatType::kF16;
  unsigned threads = 0;
  std::string model_name;  // <net name>; default "Model0" (as optimum-intel's IRs)
};

struct OpenVinoResult {
  std::size_t layers = 0;      // IR layers
  std::size_t compressed = 0;  // weights with a decompression subgraph
  std::size_t primary = 0;     // of those, in the primary (INT4) mode
  std::size_t float_weights = 0;
  std::uint64_t bin_bytes = 0;
};

namespace ov_export {

namespace ov = edgequant::openvino;
using ov::ElementType;
using ov::Output;
using ov::Shape;

// Source of the model's weights, in Hugging Face names and layout, as float32.
struct WeightLoader {
  virtual ~WeightLoader() = default;
  virtual bool has(const std::string& name) const = 0;
  // Rows × cols (cols = 0: a 1-D tensor of `rows`).
  virtual Expected<std::vector<float>> load(const std::string& name, std::uint64_t rows,
                                            std::uint64_t cols) = 0;
};

class HfLoader final : public WeightLoader {
 public:
  HfLoader(safetensors::ShardedModel m, std::string dir) : m_(std::move(m)), dir_(std::move(dir)) {}
  bool has(const std::string& name) const override { return m_.find(name) != nullptr; }
  Expected<std::vector<float>> load(const std::string& name, std::uint64_t rows,
                                    std::uint64_t cols) override {
    const auto* e = m_.find(name);
    if (!e)
      return make_error(Errc::kNotFound, "tensor \"" + name + "\" is missing", kNoOffset, dir_);
    const Shape want = cols
                           ? Shape{static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)}
                           : Shape{static_cast<std::int64_t>(rows)};
    Shape got;
    for (auto d : e->info->shape) got.push_back(static_cast<std::int64_t>(d));
    if (got != want) {
      return make_error(Errc::kInvalid,
                        "tensor \"" + name + "\" has an unexpected shape for config.json",
                        kNoOffset, dir_);
    }
    const auto dt = e->info->dtype;
    if (dt != safetensors::Dtype::kF32 && dt != safetensors::Dtype::kF16 &&
        dt != safetensors::Dtype::kBF16) {
      return make_error(Errc::kUnsupported,
                        "tensor \"" + name + "\" is " + std::string(safetensors::dtype_name(dt)) +
                            "; the OpenVINO export takes F32, F16 and BF16 tensors",
                        kNoOffset, dir_);
    }
    std::vector<float> f(static_cast<std::size_t>(e->info->numel()));
    EDGEQUANT_TRY(safetensors::decode_to_f32(dt, m_.data(*e), f));
    m_.release(*e);
    return f;
  }

 private:
  safetensors::ShardedModel m_;
  std::string dir_;
};

template <class Reader>
class GgufLoader final : public WeightLoader {
 public:
  GgufLoader(Reader r, const hf::Config& c, std::string path)
      : r_(std::move(r)), path_(std::move(path)) {
    for (const auto& t : r_.tensors()) {
      if (auto nm = unmap_tensor_name(t.name, c)) by_hf_[nm->gguf] = {&t, nm->permute_heads};
    }
  }
  // Tensors of the GGUF without a Hugging Face name (refused: none is dropped silently).
  std::optional<std::string> unmapped(const hf::Config& c) const {
    for (const auto& t : r_.tensors()) {
      if (!unmap_tensor_name(t.name, c)) return std::string(t.name);
    }
    return std::nullopt;
  }
  bool has(const std::string& name) const override { return by_hf_.count(name) != 0; }
  Expected<std::vector<float>> load(const std::string& name, std::uint64_t rows,
                                    std::uint64_t cols) override {
    const auto it = by_hf_.find(name);
    if (it == by_hf_.end())
      return make_error(Errc::kNotFound, "tensor for \"" + name + "\" is missing", kNoOffset,
                        path_);
    const auto& t = *it->second.first;
    const bool ok = cols ? (t.n_dims == 2 && t.ne[0] == cols && t.ne[1] == rows)
                         : (t.n_dims == 1 && t.ne[0] == rows);
    if (!ok) {
      return make_error(Errc::kInvalid,
                        "tensor \"" + std::string(t.name) + "\" has an unexpected shape", kNoOffset,
                        path_);
    }
    if (!ggml_type_supported(t.type)) {
      return make_error(Errc::kUnsupported,
                        "tensor \"" + std::string(t.name) + "\": cannot dequantize " +
                            std::string(ggml_type_name(t.type)),
                        kNoOffset, path_);
    }
    const auto n = static_cast<std::size_t>(t.n_elements());
    std::vector<float> f(n);
    EDGEQUANT_TRY(dequantize(t.type, r_.tensor_data(t), static_cast<std::size_t>(t.ne[0]), f, 0));
    r_.source().release_range(r_.data_offset() + t.offset, t.nbytes);
    if (const std::uint32_t heads = it->second.second) {
      if ((cols ? rows : t.ne[0]) % (2ull * heads) != 0) {
        return make_error(Errc::kInvalid,
                          "tensor \"" + std::string(t.name) + "\": rows do not split into heads",
                          kNoOffset, path_);
      }
      std::vector<float> tmp;
      edgequant::convert::detail::unpermute_rows(f, cols ? rows : t.ne[0], heads, tmp);
    }
    return f;
  }

 private:
  Reader r_;
  std::string path_;
  std::map<std::string, std::pair<const gguf::TensorInfo*, std::uint32_t>, std::less<>> by_hf_;
};

inline std::vector<std::byte> f16_bytes(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const f16_bits h = f32_to_f16(v[i]);
    b[2 * i] = static_cast<std::byte>(h & 0xFF);
    b[2 * i + 1] = static_cast<std::byte>(h >> 8);
  }
  return b;
}

// The graph, built in topological order so that each weight is loaded,
// compressed and streamed into the .bin exactly once.
template <class Sink, class Progress>
class GraphBuilder {
 public:
  using Builder = ov::IrBuilder<Sink>;
  using Port = typename Builder::Port;

  GraphBuilder(Builder& b, const hf::Config& c, WeightLoader& w, const OpenVinoOptions& o,
               Progress p)
      : b_(b), c_(c), w_(w), o_(o), progress_(p) {}

  OpenVinoResult& result() { return res_; }

  Status build() {
    const auto H = static_cast<std::int64_t>(c_.n_embd),
               hd = static_cast<std::int64_t>(c_.head_dim),
               V = static_cast<std::int64_t>(c_.n_vocab);
    total_ = 2 + 9 * static_cast<std::size_t>(c_.n_layer) + (c_.tie_embeddings ? 0 : 1);
    const Output ids = b_.parameter("input_ids", ElementType::kI64, {-1, -1});
    const Output mask = b_.parameter("attention_mask", ElementType::kI64, {-1, -1});
    const Output pos = b_.parameter("position_ids", ElementType::kI64, {-1, -1});

    // Embedding: Gather rows of the (decompressed) table.
    const bool int4 =
        o_.compress == OvCompression::kInt4Asym || o_.compress == OvCompression::kInt4Sym;
    const OvCompression backup = int4 ? OvCompression::kInt8Asym : o_.compress;
    auto emb = weight("model.embed_tokens.weight", static_cast<std::uint64_t>(V),
                      static_cast<std::uint64_t>(H), backup);
    if (!emb) return std::move(emb).error();
    Output x = b_.op("Gather", "opset8", "model.embed_tokens/Gather",
                     {*emb, ids, b_.const_i64("model.embed_tokens/axis", {}, {0})},
                     {{"batch_dims", "0"}}, {{ElementType::kF32, {-1, -1, H}, ""}});

    // RoPE tables from position_ids: angle = position × inv_freq (float32, as
    // transformers computes it), duplicated for the two halves.
    std::vector<float> inv(static_cast<std::size_t>(hd / 2));
    const double lin = c_.rope.type == "linear" && c_.rope.factor > 0 ? c_.rope.factor : 1.0;
    for (std::size_t i = 0; i < inv.size(); ++i) {
      const float e = static_cast<float>(2 * i) / static_cast<float>(hd);
      inv[i] = static_cast<float>(1.0 / std::pow(c_.rope_theta, static_cast<double>(e)) / lin);
    }
    const Output posf = unary("Convert", "opset1", "rope/position_f32", pos,
                              {{"destination_type", "f32"}}, {ElementType::kF32, {-1, -1}, ""});
    const Output posu = unsqueeze("rope/position_unsqueeze", posf, {2}, {-1, -1, 1});
    const Output freqs =
        binary("Multiply", "rope/freqs", posu, b_.const_f32("rope/inv_freq", {1, 1, hd / 2}, inv),
               {ElementType::kF32, {-1, -1, hd / 2}, ""});
    const Output angles = b_.op("Concat", "opset1", "rope/angles", {freqs, freqs}, {{"axis", "2"}},
                                {{ElementType::kF32, {-1, -1, hd}, ""}});
    const Output cosv = unsqueeze(
        "rope/cos_unsqueeze",
        unary("Cos", "opset1", "rope/cos", angles, {}, {ElementType::kF32, {-1, -1, hd}, ""}), {1},
        {-1, 1, -1, hd});
    const Output sinv = unsqueeze(
        "rope/sin_unsqueeze",
        unary("Sin", "opset1", "rope/sin", angles, {}, {ElementType::kF32, {-1, -1, hd}, ""}), {1},
        {-1, 1, -1, hd});
    cos_ = cosv;
    sin_ = sinv;

    // Additive attention bias [batch, 1, seq, seq]: the float32 minimum where
    // the key is in the future or padding (attention_mask == 0), else 0 (as
    // transformers' eager attention masks; never -inf, so fully padded rows
    // stay finite).
    const Output shape = b_.op("ShapeOf", "opset3", "mask/shape", {ids}, {{"output_type", "i64"}},
                               {{ElementType::kI64, {2}, ""}});
    const Output seq =
        b_.op("Gather", "opset8", "mask/seq_len",
              {shape, b_.const_i64("mask/one", {}, {1}), b_.const_i64("mask/zero", {}, {0})},
              {{"batch_dims", "0"}}, {{ElementType::kI64, {}, ""}});
    const Output range =
        b_.op("Range", "opset4", "mask/range",
              {b_.const_i64("mask/zero", {}, {0}), seq, b_.const_i64("mask/one", {}, {1})},
              {{"output_type", "i64"}}, {{ElementType::kI64, {-1}, ""}});
    const Output rows = unsqueeze("mask/query_index", range, {1}, {-1, 1});
    const Output cols = unsqueeze("mask/key_index", range, {0}, {1, -1});
    const Output future =
        binary("Greater", "mask/future", cols, rows, {ElementType::kBoolean, {-1, -1}, ""});
    const Output pad = binary("Equal", "mask/padding", mask, b_.const_i64("mask/zero", {}, {0}),
                              {ElementType::kBoolean, {-1, -1}, ""});
    const Output pad4 = unsqueeze("mask/padding_unsqueeze", pad, {1, 2}, {-1, 1, 1, -1});
    const Output masked = binary("LogicalOr", "mask/masked", future, pad4,
                                 {ElementType::kBoolean, {-1, 1, -1, -1}, ""});
    bias_ = b_.op("Select", "opset1", "mask/bias",
                  {masked, b_.const_f32("mask/min", {}, {-3.4028234663852886e38f}),
                   b_.const_f32("mask/none", {}, {0.0f})},
                  {{"auto_broadcast", "numpy"}}, {{ElementType::kF32, {-1, 1, -1, -1}, ""}});

    for (std::uint32_t i = 0; i < c_.n_layer; ++i) {
      auto y = layer(i, x);
      if (!y) return std::move(y).error();
      x = *y;
      EDGEQUANT_TRY(b_.status());
    }
    auto xn = rms_norm("model.norm", "model.norm.weight", x);
    if (!xn) return std::move(xn).error();
    Output head = *emb;
    if (!c_.tie_embeddings) {
      auto h = weight("lm_head.weight", static_cast<std::uint64_t>(V),
                      static_cast<std::uint64_t>(H), backup);
      if (!h) return std::move(h).error();
      head = *h;
    }
    const Output logits = b_.op("MatMul", "opset1", "lm_head/MatMul", {*xn, head},
                                {{"transpose_a", "false"}, {"transpose_b", "true"}},
                                {{ElementType::kF32, {-1, -1, V}, "logits"}});
    b_.result("logits/sink_port_0", logits);
    return b_.status();
  }

 private:
  Output unary(const std::string& type, const std::string& version, const std::string& name,
               Output in, std::vector<std::pair<std::string, std::string>> data, Port out) {
    return b_.op(type, version, name, {in}, std::move(data), {std::move(out)});
  }
  Output binary(const std::string& type, const std::string& name, Output a, Output bb, Port out) {
    return b_.op(type, "opset1", name, {a, bb}, {{"auto_broadcast", "numpy"}}, {std::move(out)});
  }
  Output unsqueeze(const std::string& name, Output in, const std::vector<std::int64_t>& axes,
                   const Shape& out) {
    return b_.op("Unsqueeze", "opset1", name,
                 {in, b_.const_i64(name + "/axes", {static_cast<std::int64_t>(axes.size())}, axes)},
                 {}, {{b_.port(in).type, out, ""}});
  }
  Output reshape(const std::string& name, Output in, const std::vector<std::int64_t>& target,
                 const Shape& out) {
    return b_.op(
        "Reshape", "opset1", name,
        {in, b_.const_i64(name + "/shape", {static_cast<std::int64_t>(target.size())}, target)},
        {{"special_zero", "true"}}, {{b_.port(in).type, out, ""}});
  }
  Output transpose(const std::string& name, Output in, const std::vector<std::int64_t>& order,
                   const Shape& out) {
    return b_.op(
        "Transpose", "opset1", name,
        {in, b_.const_i64(name + "/order", {static_cast<std::int64_t>(order.size())}, order)}, {},
        {{b_.port(in).type, out, ""}});
  }
  Output matmul(const std::string& name, Output a, Output w, const Shape& out, bool tb = true) {
    return b_.op("MatMul", "opset1", name, {a, w},
                 {{"transpose_a", "false"}, {"transpose_b", tb ? "true" : "false"}},
                 {{ElementType::kF32, out, ""}});
  }

  void tick(const std::string& name) {
    ++done_;
    if constexpr (!std::is_same_v<Progress, std::nullptr_t>) progress_(done_, total_, name);
  }

  // A float constant in the export dtype, as f32 (f16 → Convert f32).
  Output float_const(const std::string& name, const Shape& shape, const std::vector<float>& v) {
    if (o_.dtype == FloatType::kF32) return b_.const_f32(name, shape, v);
    const Output c = b_.constant(name, ElementType::kF16, shape, f16_bytes(v));
    const Output f = unary("Convert", "opset1", name + "/convert", c, {{"destination_type", "f32"}},
                           {ElementType::kF32, shape, ""});
    b_.mark_decompression(f);
    return f;
  }

  // A [rows, cols] weight as an f32 tensor: NNCF's decompression subgraph
  // (§5.5) for a compression mode, else a float Const.
  Expected<Output> weight(const std::string& name, std::uint64_t rows, std::uint64_t cols,
                          OvCompression mode) {
    auto f = w_.load(name, rows, cols);
    if (!f) return std::move(f).error();
    const auto R = static_cast<std::int64_t>(rows), K = static_cast<std::int64_t>(cols);
    if (const std::size_t bad = first_non_finite(f->data(), f->size()); bad != f->size()) {
      return make_error(Errc::kInvalid, "tensor \"" + name + "\" holds NaN or Inf at element " +
                                            std::to_string(bad));
    }
    if (mode == OvCompression::kNone) {
      ++res_.float_weights;
      const Output o = float_const(name, {R, K}, *f);
      tick(name);
      return o;
    }
    const bool four = mode == OvCompression::kInt4Asym || mode == OvCompression::kInt4Sym;
    const bool sym = mode == OvCompression::kInt8Sym || mode == OvCompression::kInt4Sym;
    const int group = four ? o_.group : -1;
    std::string scheme = std::string("nncf:") + std::string(ov_compression_name(mode));
    if (four) scheme += ":g" + std::to_string(group);
    const PlaneSchemeInfo* s = find_plane_scheme(scheme);
    if (!s)
      return make_error(Errc::kBadArgument,
                        "no NNCF scheme " + scheme + " (group must be 32, 64, 128 or -1)");
    if (four && group > 0 && cols % static_cast<std::uint64_t>(group) != 0) {
      // NNCF's group_size_fallback_mode ERROR (§5.1).
      return make_error(Errc::kBadArgument, "tensor \"" + name + "\": " + std::to_string(cols) +
                                                " input channels do not split into groups of " +
                                                std::to_string(group) +
                                                " (use --group -1, 32 or 64)");
    }
    PlaneOptions po;
    po.threads = o_.threads;
    auto q = quantize_planes(*s, *f, static_cast<std::size_t>(cols), po);
    if (!q) return make_error(q.error().code, "tensor \"" + name + "\": " + q.error().what);
    f->clear();
    f->shrink_to_fit();
    const ElementType qt = four ? (sym ? ElementType::kI4 : ElementType::kU4)
                                : (sym ? ElementType::kI8 : ElementType::kU8);
    const std::int64_t G = group > 0 ? group : K, ng = K / G;
    const bool grouped = four && group > 0;
    const Shape wshape = grouped ? Shape{R, ng, G} : Shape{R, K};
    const Shape sshape = grouped ? Shape{R, ng, 1} : Shape{R, 1};
    const Output wq = b_.constant(name, qt, wshape, std::as_bytes(std::span(q->data[0])));
    Output v = unary("Convert", "opset1", name + "/convert", wq, {{"destination_type", "f16"}},
                     {ElementType::kF16, wshape, ""});
    if (!sym) {
      const Output zp =
          b_.constant(name + "/zero_point", qt, sshape, std::as_bytes(std::span(q->data[2])));
      const Output zpf = unary("Convert", "opset1", name + "/zero_point/convert", zp,
                               {{"destination_type", "f16"}}, {ElementType::kF16, sshape, ""});
      v = binary("Subtract", name + "/zero_point/subtract", v, zpf,
                 {ElementType::kF16, wshape, ""});
    }
    const Output sc = b_.constant(name + "/scale", ElementType::kF16, sshape,
                                  std::as_bytes(std::span(q->data[1])));
    v = binary("Multiply", name + "/fq_weights_1", v, sc, {ElementType::kF16, wshape, ""});
    if (grouped) {
      v = b_.op("Reshape", "opset1", name + "/fq_weights_1/reshape",
                {v, b_.const_i64(name + "/fq_weights_1/reshape/shape", {2}, {R, K})},
                {{"special_zero", "false"}}, {{ElementType::kF16, {R, K}, ""}});
    }
    v = unary("Convert", "opset1", name + "/fq_weights_1/convert", v, {{"destination_type", "f32"}},
              {ElementType::kF32, {R, K}, ""});
    ++res_.compressed;
    if (four) ++res_.primary;
    tick(name);
    return v;
  }

  // `y + bias` when the checkpoint has `<module>.bias` (Qwen2's q/k/v); biases
  // are not compressed (NNCF compresses MatMul weights only).
  Expected<Output> biased(const std::string& module, Output y, std::int64_t n) {
    const std::string name = module + ".bias";
    if (!w_.has(name)) return y;
    auto v = w_.load(name, static_cast<std::uint64_t>(n), 0);
    if (!v) return std::move(v).error();
    const Output bc = float_const(name, {n}, *v);
    return binary("Add", module + "/bias", y, bc, {ElementType::kF32, {-1, -1, n}, ""});
  }

  // transformers' LlamaRMSNorm: x / sqrt(mean(x²) + eps) × weight.
  Expected<Output> rms_norm(const std::string& prefix, const std::string& wname, Output x) {
    const auto H = static_cast<std::int64_t>(c_.n_embd);
    auto w = w_.load(wname, c_.n_embd, 0);
    if (!w) return std::move(w).error();
    const Shape s3{-1, -1, H};
    const Output sq = binary("Multiply", prefix + "/square", x, x, {ElementType::kF32, s3, ""});
    const Output mean = b_.op("ReduceMean", "opset1", prefix + "/mean",
                              {sq, b_.const_i64(prefix + "/mean/axes", {1}, {-1})},
                              {{"keep_dims", "true"}}, {{ElementType::kF32, {-1, -1, 1}, ""}});
    const Output ve = binary("Add", prefix + "/add_eps", mean,
                             b_.const_f32(prefix + "/eps", {}, {static_cast<float>(c_.rms_eps)}),
                             {ElementType::kF32, {-1, -1, 1}, ""});
    const Output sd =
        unary("Sqrt", "opset1", prefix + "/sqrt", ve, {}, {ElementType::kF32, {-1, -1, 1}, ""});
    const Output n = b_.op("Divide", "opset1", prefix + "/divide", {x, sd},
                           {{"auto_broadcast", "numpy"}, {"m_pythondiv", "true"}},
                           {{ElementType::kF32, s3, ""}});
    const Output wc = float_const(wname, {H}, *w);
    tick(wname);
    return binary("Multiply", prefix + "/scale", n, wc, {ElementType::kF32, s3, ""});
  }

  // [batch, seq, heads·hd] → [batch, heads, seq, hd], then rotate-half RoPE.
  Output heads(const std::string& p, Output y, std::int64_t n, bool rope) {
    const auto hd = static_cast<std::int64_t>(c_.head_dim);
    const Output r = reshape(p + "/reshape", y, {0, 0, n, hd}, {-1, -1, n, hd});
    Output t = transpose(p + "/transpose", r, {0, 2, 1, 3}, {-1, n, -1, hd});
    if (!rope) return t;
    const Shape half{-1, n, -1, hd / 2}, full{-1, n, -1, hd};
    const Output split = b_.op("VariadicSplit", "opset1", p + "/rope/split",
                               {t, b_.const_i64(p + "/rope/split/axis", {}, {3}),
                                b_.const_i64(p + "/rope/split/lengths", {2}, {hd / 2, hd / 2})},
                               {}, {{ElementType::kF32, half, ""}, {ElementType::kF32, half, ""}});
    const Output x1{split.layer, 0}, x2{split.layer, 1};
    const Output neg =
        unary("Negative", "opset1", p + "/rope/negative", x2, {}, {ElementType::kF32, half, ""});
    const Output rot = b_.op("Concat", "opset1", p + "/rope/rotate_half", {neg, x1},
                             {{"axis", "3"}}, {{ElementType::kF32, full, ""}});
    const Output a =
        binary("Multiply", p + "/rope/mul_cos", t, cos_, {ElementType::kF32, full, ""});
    const Output bb =
        binary("Multiply", p + "/rope/mul_sin", rot, sin_, {ElementType::kF32, full, ""});
    return binary("Add", p + "/rope/add", a, bb, {ElementType::kF32, full, ""});
  }

  // Grouped-query attention: key/value head j serves query heads
  // j·rep … j·rep + rep − 1 (transformers' repeat_kv).
  Output repeat_kv(const std::string& p, Output t) {
    const auto nh = static_cast<std::int64_t>(c_.n_head),
               nkv = static_cast<std::int64_t>(c_.n_head_kv),
               hd = static_cast<std::int64_t>(c_.head_dim);
    const std::int64_t rep = nh / nkv;
    if (rep == 1) return t;
    const Output u = unsqueeze(p + "/repeat_kv/unsqueeze", t, {2}, {-1, nkv, 1, -1, hd});
    const Output cat = b_.op("Concat", "opset1", p + "/repeat_kv/concat",
                             std::vector<Output>(static_cast<std::size_t>(rep), u), {{"axis", "2"}},
                             {{ElementType::kF32, {-1, nkv, rep, -1, hd}, ""}});
    return reshape(p + "/repeat_kv/reshape", cat, {0, nh, -1, hd}, {-1, nh, -1, hd});
  }

  Expected<Output> layer(std::uint32_t i, Output x) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const auto H = static_cast<std::int64_t>(c_.n_embd), nh = static_cast<std::int64_t>(c_.n_head),
               nkv = static_cast<std::int64_t>(c_.n_head_kv),
               hd = static_cast<std::int64_t>(c_.head_dim), F = static_cast<std::int64_t>(c_.n_ff);
    const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
    auto h = rms_norm(p + "input_layernorm", p + "input_layernorm.weight", x);
    if (!h) return std::move(h).error();
    Output wq, wk, wv, wo, wg, wu, wd;
    for (auto [slot, nm, rows, cols] : {std::tuple{&wq, "self_attn.q_proj", nh * hd, H},
                                        std::tuple{&wk, "self_attn.k_proj", nkv * hd, H},
                                        std::tuple{&wv, "self_attn.v_proj", nkv * hd, H}}) {
      auto w = weight(p + nm + ".weight", u(rows), u(cols), o_.compress);
      if (!w) return std::move(w).error();
      *slot = *w;
    }
    const std::string a = p + "self_attn";
    Output proj[3];
    for (auto [i, nm, w, n] : {std::tuple{0, "q_proj", wq, nh}, std::tuple{1, "k_proj", wk, nkv},
                               std::tuple{2, "v_proj", wv, nkv}}) {
      auto y = biased(p + "self_attn." + nm,
                      matmul(p + "self_attn." + nm + "/MatMul", *h, w, {-1, -1, n * hd}), n * hd);
      if (!y) return std::move(y).error();
      proj[i] = *y;
    }
    const Output q = heads(a + "/q", proj[0], nh, true);
    const Output k = heads(a + "/k", proj[1], nkv, true);
    const Output v = heads(a + "/v", proj[2], nkv, false);
    const Output kk = repeat_kv(a + "/k", k), vv = repeat_kv(a + "/v", v);
    const Shape ss{-1, nh, -1, -1};
    const Output scores = matmul(a + "/scores", q, kk, ss);
    const Output scaled =
        binary("Multiply", a + "/scale", scores,
               b_.const_f32(a + "/scaling", {},
                            {static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)))}),
               {ElementType::kF32, ss, ""});
    const Output biased = binary("Add", a + "/mask", scaled, bias_, {ElementType::kF32, ss, ""});
    const Output probs = b_.op("SoftMax", "opset8", a + "/softmax", {biased}, {{"axis", "-1"}},
                               {{ElementType::kF32, ss, ""}});
    const Output ctx = matmul(a + "/context", probs, vv, {-1, nh, -1, hd}, false);
    const Output ct = transpose(a + "/context/transpose", ctx, {0, 2, 1, 3}, {-1, -1, nh, hd});
    const Output cm = reshape(a + "/context/reshape", ct, {0, 0, nh * hd}, {-1, -1, nh * hd});
    {
      auto w = weight(p + "self_attn.o_proj.weight", u(H), u(nh * hd), o_.compress);
      if (!w) return std::move(w).error();
      wo = *w;
    }
    const Output att = matmul(p + "self_attn.o_proj/MatMul", cm, wo, {-1, -1, H});
    x = binary("Add", p + "self_attn/residual", x, att, {ElementType::kF32, {-1, -1, H}, ""});
    auto h2 = rms_norm(p + "post_attention_layernorm", p + "post_attention_layernorm.weight", x);
    if (!h2) return std::move(h2).error();
    for (auto [slot, nm, rows, cols] :
         {std::tuple{&wg, "mlp.gate_proj", F, H}, std::tuple{&wu, "mlp.up_proj", F, H},
          std::tuple{&wd, "mlp.down_proj", H, F}}) {
      auto w = weight(p + nm + ".weight", u(rows), u(cols), o_.compress);
      if (!w) return std::move(w).error();
      *slot = *w;
    }
    const Output g = matmul(p + "mlp.gate_proj/MatMul", *h2, wg, {-1, -1, F});
    const Output up = matmul(p + "mlp.up_proj/MatMul", *h2, wu, {-1, -1, F});
    const Output act = unary("Swish", "opset4", p + "mlp.act_fn/Swish", g, {},
                             {ElementType::kF32, {-1, -1, F}, ""});
    const Output m =
        binary("Multiply", p + "mlp/mul", act, up, {ElementType::kF32, {-1, -1, F}, ""});
    const Output d = matmul(p + "mlp.down_proj/MatMul", m, wd, {-1, -1, H});
    return binary("Add", p + "mlp/residual", x, d, {ElementType::kF32, {-1, -1, H}, ""});
  }

  Builder& b_;
  const hf::Config& c_;
  WeightLoader& w_;
  const OpenVinoOptions& o_;
  Progress progress_;
  OpenVinoResult res_;
  Output cos_, sin_, bias_;
  std::size_t done_ = 0, total_ = 0;
};

// What the exporter supports (the graph above is the llama decoder).
inline Status check_config(const hf::Config& c, const std::string& file) {
  if (c.arch != hf::Arch::kLlama && c.arch != hf::Arch::kMistral && c.arch != hf::Arch::kQwen2) {
    return make_error(Errc::kUnsupported,
                      "the OpenVINO export supports LlamaForCausalLM, MistralForCausalLM and "
                      "Qwen2ForCausalLM (got " +
                          c.hf_class + ")",
                      kNoOffset, file);
  }
  if (!c.rope.type.empty() && c.rope.type != "linear") {
    return make_error(Errc::kUnsupported,
                      "rope_scaling type \"" + c.rope.type + "\" is not supported (none, linear)",
                      kNoOffset, file);
  }
  if (c.n_vocab == 0 || c.head_dim == 0 || c.head_dim % 2 != 0 || c.n_head % c.n_head_kv != 0) {
    return make_error(Errc::kInvalid, "vocab size, head dimension or head counts are unusable",
                      kNoOffset, file);
  }
  return {};
}

// NNCF's model-level rt_info (§5.5) for the compression that was applied.
inline std::string rt_info(const OpenVinoOptions& o) {
  if (o.compress == OvCompression::kNone) return {};
  const bool four = o.compress == OvCompression::kInt4Asym || o.compress == OvCompression::kInt4Sym;
  std::string x = "\t\t<nncf>\n\t\t\t<weight_compression>\n";
  const auto kv = [&](const char* k, const std::string& v) {
    x += "\t\t\t\t<" + std::string(k) + " value=\"" + ov::xml_escape(v) + "\" />\n";
  };
  kv("all_layers", "False");
  kv("awq", "False");
  kv("backup_mode", "int8_asym");
  kv("gptq", "False");
  kv("group_size", std::to_string(four ? o.group : -1));
  kv("ignored_scope", "[]");
  kv("lora_correction", "False");
  kv("mode", std::string(ov_compression_name(o.compress)));
  kv("ratio", "1.0");
  kv("scale_estimation", "False");
  kv("sensitivity_metric", "weight_quantization_error");
  x += "\t\t\t</weight_compression>\n\t\t</nncf>\n";
  x += "\t\t<edgequant>\n\t\t\t<exporter value=\"edgequant convert --to openvino\" "
       "/>\n\t\t</edgequant>\n";
  return x;
}

inline Status check_options(const OpenVinoOptions& o) {
  const bool four = o.compress == OvCompression::kInt4Asym || o.compress == OvCompression::kInt4Sym;
  if (four && o.group != 32 && o.group != 64 && o.group != 128 && o.group != -1) {
    return make_error(Errc::kBadArgument, "INT4 group size must be 32, 64, 128 or -1 (got " +
                                              std::to_string(o.group) + ")");
  }
  if (o.dtype == FloatType::kBF16)
    return make_error(Errc::kBadArgument, "the IR's float constants are f16 or f32");
  return {};
}

// Builds and writes both files into `out_dir`: the .bin first (streamed), the
// .xml after it, each atomically; then config.json and tokenizer files.
template <class Progress>
Expected<OpenVinoResult> write_ir(const hf::Config& c, WeightLoader& w, const std::string& out_dir,
                                  const OpenVinoOptions& opt, Progress progress) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create folder: " + ec.message(), kNoOffset, out_dir);
  auto bin = AtomicFile::create((fs::path(out_dir) / "openvino_model.bin").string());
  if (!bin) return std::move(bin).error();
  ov::IrBuilder<AtomicFile> b(*bin);
  GraphBuilder<AtomicFile, Progress> g(b, c, w, opt, progress);
  EDGEQUANT_TRY(g.build());
  const std::string xml = b.xml(opt.model_name.empty() ? "Model0" : opt.model_name, rt_info(opt));
  auto xf = AtomicFile::create((fs::path(out_dir) / "openvino_model.xml").string());
  if (!xf) return std::move(xf).error();
  EDGEQUANT_TRY(xf->write(xml.data(), xml.size()));
  EDGEQUANT_TRY(bin->commit());
  EDGEQUANT_TRY(xf->commit());
  OpenVinoResult r = g.result();
  r.layers = b.layers().size();
  r.bin_bytes = b.bin_bytes();
  return r;
}

}  // namespace ov_export

// Hugging Face folder → IR in `out_dir` (config.json and tokenizer files copied).
template <class Progress = std::nullptr_t>
Expected<OpenVinoResult> hf_to_openvino(const std::string& in_dir, const std::string& out_dir,
                                        const OpenVinoOptions& opt, Progress progress = nullptr) {
  namespace fs = std::filesystem;
  EDGEQUANT_TRY(ov_export::check_options(opt));
  const fs::path in(in_dir);
  auto cfg = hf::detail::read_folder_config(in_dir, "a Hugging Face model folder or a .gguf");
  if (!cfg) return std::move(cfg).error();
  EDGEQUANT_TRY(ov_export::check_config(*cfg, (in / "config.json").string()));
  auto m = safetensors::ShardedModel::open(in_dir);
  if (!m) return std::move(m).error();
  // Every tensor must be used (nothing dropped silently), rotary buffers aside.
  for (const auto& e : m->tensors()) {
    const std::string& n = e.info->name;
    if (n.ends_with("rotary_emb.inv_freq")) continue;
    bool known =
        n == "model.embed_tokens.weight" || n == "model.norm.weight" || n == "lm_head.weight";
    if (!known && n.starts_with("model.layers.")) {
      for (std::string_view s :
           {".input_layernorm.weight", ".post_attention_layernorm.weight", ".self_attn.q_proj.bias",
            ".self_attn.k_proj.bias", ".self_attn.v_proj.bias", ".self_attn.q_proj.weight",
            ".self_attn.k_proj.weight", ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
            ".mlp.gate_proj.weight", ".mlp.up_proj.weight", ".mlp.down_proj.weight"}) {
        known = known || n.ends_with(s);
      }
    }
    if (!known) {
      return make_error(Errc::kUnsupported, "tensor \"" + n + "\" has no place in the llama graph",
                        kNoOffset, in_dir);
    }
  }
  if (!cfg->tie_embeddings && !m->find("lm_head.weight")) cfg->tie_embeddings = true;
  ov_export::HfLoader loader(std::move(*m), in_dir);
  auto r = ov_export::write_ir(*cfg, loader, out_dir, opt, progress);
  if (!r) return r;
  if (auto c = mlx_export::copy_folder_files(in, out_dir, true); !c) return std::move(c).error();
  return r;
}

// GGUF (llama — Llama and Mistral as llama.cpp converts them — or qwen2) → IR in `out_dir`, weights
// dequantized and llama.cpp's Q/K permutation undone as for --to safetensors;
// a config.json and the tokenizer files rebuilt from its vocabulary are written.
template <class Progress = std::nullptr_t>
Expected<OpenVinoResult> gguf_to_openvino(const std::string& gguf_path, const std::string& out_dir,
                                          const OpenVinoOptions& opt, Progress progress = nullptr) {
  EDGEQUANT_TRY(ov_export::check_options(opt));
  auto r = gguf::Reader<>::open_file(gguf_path);
  if (!r) return std::move(r).error();
  auto c = detail::config_from_gguf(*r);
  if (!c) return std::move(c).error();
  EDGEQUANT_TRY(ov_export::check_config(*c, gguf_path));
  ov_export::GgufLoader<gguf::Reader<>> loader(std::move(*r), *c, gguf_path);
  if (auto u = loader.unmapped(*c)) {
    return make_error(Errc::kUnsupported, "tensor \"" + *u + "\" has no Hugging Face name",
                      kNoOffset, gguf_path);
  }
  auto res = ov_export::write_ir(*c, loader, out_dir, opt, progress);
  if (!res) return res;
  // config.json and the tokenizer files (the loader owns the first reader; a
  // second mapping of the same file costs nothing).
  auto again = gguf::Reader<>::open_file(gguf_path);
  if (!again) return std::move(again).error();
  if (auto side = detail::write_gguf_side_files(*again, *c, out_dir); !side) return std::move(side).error();
  return res;
}

// Either source: a path ending in .gguf is a GGUF file, anything else a folder.
template <class Progress = std::nullptr_t>
Expected<OpenVinoResult> to_openvino(const std::string& src, const std::string& out_dir,
                                     const OpenVinoOptions& opt, Progress progress = nullptr) {
  if (src.ends_with(".gguf")) return gguf_to_openvino(src, out_dir, opt, progress);
  return hf_to_openvino(src, out_dir, opt, progress);
}

}  // namespace edgequant::convert
