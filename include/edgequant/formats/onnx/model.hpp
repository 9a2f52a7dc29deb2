// ONNX model as plain C++ values: every onnx.proto message ONNX graphs use, with
// tensor payloads as zero-copy views (specs/onnx.md §2).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"

namespace edgequant::onnx {

// TensorProto.DataType (specs/onnx.md §2.8; ids are stable).
enum class DataType : std::int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUint32 = 12,
  kUint64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBfloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUint4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUint2 = 25,
  kInt2 = 26,
};
inline constexpr std::int32_t kMaxKnownDataType = 26;

// TensorProto fields that can carry a payload.
enum TensorField : std::uint8_t {
  kFieldFloatData = 4,
  kFieldInt32Data = 5,
  kFieldStringData = 6,
  kFieldInt64Data = 7,
  kFieldRawData = 9,
  kFieldDoubleData = 10,
  kFieldUint64Data = 11,
};

struct DataTypeInfo {
  std::string_view name;         // as spelled in onnx.proto
  std::uint8_t bits = 0;         // bits per element in raw_data; 0: no raw form (STRING, unknown)
  std::uint8_t typed_field = 0;  // TensorField of the typed encoding, 0 if none
  std::uint8_t entry_bytes =
      0;                     // raw bytes per typed entry (a 4-bit int32_data entry = 1 packed byte)
  bool sign_extend = false;  // int32_data entries are the sign-extended value
  std::uint8_t min_ir = 3;   // first IR version with this type (§3)
};

constexpr DataTypeInfo data_type_info(std::int32_t t) noexcept {
  switch (t) {
    case 0:
      return {"UNDEFINED", 0, 0, 0, false, 1};
    case 1:
      return {"FLOAT", 32, kFieldFloatData, 4, false, 1};
    case 2:
      return {"UINT8", 8, kFieldInt32Data, 1, false, 1};
    case 3:
      return {"INT8", 8, kFieldInt32Data, 1, true, 1};
    case 4:
      return {"UINT16", 16, kFieldInt32Data, 2, false, 1};
    case 5:
      return {"INT16", 16, kFieldInt32Data, 2, true, 1};
    case 6:
      return {"INT32", 32, kFieldInt32Data, 4, true, 1};
    case 7:
      return {"INT64", 64, kFieldInt64Data, 8, false, 1};
    case 8:
      return {"STRING", 0, kFieldStringData, 0, false, 1};
    case 9:
      return {"BOOL", 8, kFieldInt32Data, 1, false, 1};
    case 10:
      return {"FLOAT16", 16, kFieldInt32Data, 2, false, 1};
    case 11:
      return {"DOUBLE", 64, kFieldDoubleData, 8, false, 1};
    case 12:
      return {"UINT32", 32, kFieldUint64Data, 4, false, 1};
    case 13:
      return {"UINT64", 64, kFieldUint64Data, 8, false, 1};
    case 14:
      return {"COMPLEX64", 64, kFieldFloatData, 4, false, 1};
    case 15:
      return {"COMPLEX128", 128, kFieldDoubleData, 8, false, 1};
    case 16:
      return {"BFLOAT16", 16, kFieldInt32Data, 2, false, 4};
    case 17:
      return {"FLOAT8E4M3FN", 8, kFieldInt32Data, 1, false, 9};
    case 18:
      return {"FLOAT8E4M3FNUZ", 8, kFieldInt32Data, 1, false, 9};
    case 19:
      return {"FLOAT8E5M2", 8, kFieldInt32Data, 1, false, 9};
    case 20:
      return {"FLOAT8E5M2FNUZ", 8, kFieldInt32Data, 1, false, 9};
    case 21:
      return {"UINT4", 4, kFieldInt32Data, 1, false, 10};
    case 22:
      return {"INT4", 4, kFieldInt32Data, 1, false, 10};
    case 23:
      return {"FLOAT4E2M1", 4, kFieldInt32Data, 1, false, 11};
    case 24:
      return {"FLOAT8E8M0", 8, kFieldInt32Data, 1, false, 12};
    case 25:
      return {"UINT2", 2, kFieldInt32Data, 1, false, 13};
    case 26:
      return {"INT2", 2, kFieldInt32Data, 1, false, 13};
    default:
      return {"", 0, 0, 0, false, 0};
  }
}
constexpr std::string_view data_type_name(std::int32_t t) noexcept {
  return data_type_info(t).name;
}
constexpr bool is_known_data_type(std::int32_t t) noexcept {
  return t >= 0 && t <= kMaxKnownDataType;
}

// Bytes of `numel` elements in raw_data encoding: ceil(numel * bits / 8)
// (sub-byte types pack several elements per byte, §2.8). nullopt on overflow.
constexpr std::optional<std::uint64_t> packed_bytes(std::int32_t dtype,
                                                    std::uint64_t numel) noexcept {
  const std::uint64_t bits = data_type_info(dtype).bits;
  if (bits == 0) return std::nullopt;
  const auto whole = checked_mul<std::uint64_t>(numel / 8, bits);
  if (!whole) return std::nullopt;
  return checked_add<std::uint64_t>(*whole, ((numel % 8) * bits + 7) / 8);
}

// Copyable owning pointer: lets messages nest recursively (a graph in an
// attribute of a node of a graph) while keeping value semantics.
template <class T>
class Box {
 public:
  Box() = default;
  Box(T v) : p_(std::make_unique<T>(std::move(v))) {}  // NOLINT: implicit, like optional
  Box(const Box& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  ~Box() = default;

  bool has_value() const noexcept { return p_ != nullptr; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  T& operator*() noexcept { return *p_; }
  const T& operator*() const noexcept { return *p_; }
  T* operator->() noexcept { return p_.get(); }
  const T* operator->() const noexcept { return p_.get(); }
  T* get() noexcept { return p_.get(); }
  const T* get() const noexcept { return p_.get(); }
  T& emplace() {
    p_ = std::make_unique<T>();
    return *p_;
  }
  void reset() noexcept { p_.reset(); }

  friend bool operator==(const Box& a, const Box& b) {
    if (!a.p_ || !b.p_) return !a.p_ && !b.p_;
    return *a.p_ == *b.p_;
  }

 private:
  std::unique_ptr<T> p_;
};

// A byte range that is either borrowed (a view into a mapped file, kept alive by
// `owner`) or owned. Copies share the bytes. Equality compares contents.
class Bytes {
 public:
  Bytes() = default;
  static Bytes view(std::span<const std::byte> b, std::shared_ptr<const void> owner) {
    Bytes r;
    r.data_ = b;
    r.owner_ = std::move(owner);
    return r;
  }
  static Bytes own(std::vector<std::byte> v) {
    auto p = std::make_shared<const std::vector<std::byte>>(std::move(v));
    Bytes r;
    r.data_ = std::span<const std::byte>(p->data(), p->size());
    r.owner_ = std::move(p);
    return r;
  }
  static Bytes copy(std::span<const std::byte> b) {
    return own(std::vector<std::byte>(b.begin(), b.end()));
  }
  template <class T>
  static Bytes copy_of(std::span<const T> v) {
    return copy(std::as_bytes(v));
  }

  std::span<const std::byte> span() const noexcept { return data_; }
  const std::byte* data() const noexcept { return data_.data(); }
  std::size_t size() const noexcept { return data_.size(); }
  bool empty() const noexcept { return data_.empty(); }
  const std::shared_ptr<const void>& owner() const noexcept { return owner_; }

  friend bool operator==(const Bytes& a, const Bytes& b) {
    return a.size() == b.size() &&
           (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
  }

 private:
  std::span<const std::byte> data_;
  std::shared_ptr<const void> owner_;
};

// A payload produced while the writer streams it (for example a weight that is
// quantized on the fly): `produce` must hand exactly `size` bytes to the sink.
using ChunkSink = std::function<Status(std::span<const std::byte>)>;
struct LazyData {
  std::uint64_t size = 0;
  std::function<Status(const ChunkSink&)> produce;
};

// Bit k of `present` means field k was on the wire. The writer writes a
// singular field when its value is not the default or its bit is set, so a
// file read and written again keeps explicit defaults (onnx.helper sets
// OperatorSetIdProto.domain = "" explicitly, for example) byte for byte.
struct Presence {
  std::uint32_t present = 0;
  bool has(std::uint32_t field) const noexcept { return field < 32 && (present >> field) & 1u; }
  void mark(std::uint32_t field) noexcept {
    if (field < 32) present |= 1u << field;
  }
  bool operator==(const Presence&) const = default;
};

// Fields this library does not model (future additions, DeviceConfiguration,
// TensorProto.segment...) keep their raw records and are written back after
// the known fields, as protobuf does.
using UnknownFields = std::string;

struct StringStringEntry : Presence {  // StringStringEntryProto
  std::string key;
  std::string value;
  UnknownFields unknown;
  bool operator==(const StringStringEntry&) const = default;
};

struct OperatorSetId : Presence {  // OperatorSetIdProto
  std::string domain;              // "" = ai.onnx
  std::int64_t version = 0;
  UnknownFields unknown;
  bool operator==(const OperatorSetId&) const = default;
};

// Where an external tensor's bytes live (§5), parsed from external_data.
struct ExternalRef {
  std::string location;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
  bool operator==(const ExternalRef&) const = default;
};

enum class Storage : std::uint8_t {
  kNone,      // no payload field (empty tensor, or only string_data)
  kRaw,       // raw_data
  kTyped,     // float_data / int32_data / int64_data / double_data / uint64_data
  kExternal,  // data_location = EXTERNAL
};

struct Tensor : Presence {  // TensorProto
  std::vector<std::int64_t> dims;
  std::int32_t data_type = 0;
  std::string name;
  std::string doc_string;
  // Payload. `data` always holds the raw_data encoding (little-endian, sub-byte
  // types packed low nibble first), whatever field carried it: a view into the
  // file for raw_data and loaded external data, decoded bytes for typed fields.
  Storage storage = Storage::kNone;
  std::uint8_t typed_field = 0;  // TensorField used when storage == kTyped
  Bytes data;
  std::shared_ptr<const LazyData> lazy;  // instead of `data`, for streamed writes
  bool data_loaded = false;              // external: `data` holds the bytes
  std::vector<std::string> string_data;
  std::vector<StringStringEntry> external_data;  // as on the wire
  std::int32_t data_location = 0;                // 0 DEFAULT, 1 EXTERNAL
  std::vector<StringStringEntry> metadata_props;
  UnknownFields unknown;

  bool is_external() const noexcept { return storage == Storage::kExternal; }

  // Product of dims (1 for a scalar); errors on negative dims or overflow.
  Expected<std::uint64_t> numel() const {
    std::uint64_t n = 1;
    for (std::size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] < 0) {
        return make_error(Errc::kInvalid, "tensor '" + name + "': dims[" + std::to_string(i) +
                                              "] = " + std::to_string(dims[i]) + " is negative");
      }
      auto m = checked_mul<std::uint64_t>(n, static_cast<std::uint64_t>(dims[i]));
      if (!m) return make_error(Errc::kOverflow, "tensor '" + name + "': element count overflows");
      n = *m;
    }
    return n;
  }
  // Payload bytes the dims and data type call for (raw_data encoding).
  Expected<std::uint64_t> expected_bytes() const {
    auto n = numel();
    if (!n) return n.error();
    if (data_type_info(data_type).bits == 0) {
      return make_error(Errc::kUnsupported, "tensor '" + name + "': data type " +
                                                std::to_string(data_type) + " has no raw encoding");
    }
    auto b = packed_bytes(data_type, *n);
    if (!b) return make_error(Errc::kOverflow, "tensor '" + name + "': byte size overflows");
    return *b;
  }
  // Bytes available without I/O: inline payloads and loaded external data.
  bool has_bytes() const noexcept { return storage != Storage::kExternal || data_loaded; }
  std::uint64_t payload_size() const noexcept { return lazy ? lazy->size : data.size(); }

  // The external_data entries as a location/offset/length triple.
  Expected<ExternalRef> external_ref() const;

  bool operator==(const Tensor&) const = default;
};

struct SparseTensor : Presence {  // SparseTensorProto
  std::optional<Tensor> values;
  std::optional<Tensor> indices;
  std::vector<std::int64_t> dims;
  UnknownFields unknown;
  bool operator==(const SparseTensor&) const = default;
};

struct Dimension : Presence {  // TensorShapeProto.Dimension
  enum class Kind : std::uint8_t { kUnknown, kValue, kParam };
  Kind kind = Kind::kUnknown;
  std::int64_t value = 0;  // dim_value
  std::string param;       // dim_param
  std::string denotation;
  UnknownFields unknown;
  bool operator==(const Dimension&) const = default;
};

struct TensorShape : Presence {  // TensorShapeProto
  std::vector<Dimension> dims;
  UnknownFields unknown;
  bool operator==(const TensorShape&) const = default;
};

struct TypeProto : Presence {  // TypeProto (the oneof flattened)
  enum class Kind : std::uint8_t {
    kNone = 0,
    kTensor = 1,
    kSequence = 4,
    kMap = 5,
    kOpaque = 7,
    kSparseTensor = 8,
    kOptional = 9,
  };
  Kind kind = Kind::kNone;
  std::int32_t elem_type = 0;        // tensor, sparse tensor
  std::optional<TensorShape> shape;  // tensor, sparse tensor; absent = unknown rank
  std::int32_t key_type = 0;         // map
  Box<TypeProto> elem;               // sequence, optional: elem_type; map: value_type
  std::string opaque_domain, opaque_name;
  std::string denotation;
  Presence inner;               // presence bits of the oneof's message
  UnknownFields inner_unknown;  // unknown fields of the oneof's message
  UnknownFields unknown;
  bool operator==(const TypeProto&) const = default;
};

struct ValueInfo : Presence {  // ValueInfoProto
  std::string name;
  std::optional<TypeProto> type;
  std::string doc_string;
  std::vector<StringStringEntry> metadata_props;
  UnknownFields unknown;
  bool operator==(const ValueInfo&) const = default;
};

enum class AttributeType : std::int32_t {
  kUndefined = 0,
  kFloat = 1,
  kInt = 2,
  kString = 3,
  kTensor = 4,
  kGraph = 5,
  kFloats = 6,
  kInts = 7,
  kStrings = 8,
  kTensors = 9,
  kGraphs = 10,
  kSparseTensor = 11,
  kSparseTensors = 12,
  kTypeProto = 13,
  kTypeProtos = 14,
};

constexpr std::string_view attribute_type_name(std::int32_t t) noexcept {
  constexpr std::string_view kNames[] = {
      "UNDEFINED",      "FLOAT",      "INT",        "STRING",  "TENSOR", "GRAPH",
      "FLOATS",         "INTS",       "STRINGS",    "TENSORS", "GRAPHS", "SPARSE_TENSOR",
      "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
  return t >= 0 && t <= 14 ? kNames[t] : std::string_view("?");
}

struct Graph;

struct Attribute : Presence {  // AttributeProto
  std::string name;
  std::string ref_attr_name;
  std::string doc_string;
  std::int32_t type = 0;  // AttributeType
  float f = 0;
  std::int64_t i = 0;
  std::string s;
  Box<Tensor> t;
  Box<Graph> g;
  Box<SparseTensor> sparse_tensor;
  Box<TypeProto> tp;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<Graph> graphs;
  std::vector<SparseTensor> sparse_tensors;
  std::vector<TypeProto> type_protos;
  UnknownFields unknown;
  bool operator==(const Attribute&) const;
};

struct Node : Presence {           // NodeProto
  std::vector<std::string> input;  // "" = omitted optional input
  std::vector<std::string> output;
  std::string name;
  std::string op_type;
  std::string domain;  // "" or "ai.onnx" = default domain
  std::vector<Attribute> attribute;
  std::string doc_string;
  std::string overload;
  std::vector<StringStringEntry> metadata_props;
  UnknownFields unknown;  // includes device_configurations (field 10)

  const Attribute* find_attribute(std::string_view n) const noexcept {
    for (const auto& a : attribute) {
      if (a.name == n) return &a;
    }
    return nullptr;
  }
  bool operator==(const Node&) const = default;
};

struct TensorAnnotation : Presence {  // TensorAnnotation
  std::string tensor_name;
  std::vector<StringStringEntry> quant_parameter_tensor_names;
  UnknownFields unknown;
  bool operator==(const TensorAnnotation&) const = default;
};

struct Graph : Presence {  // GraphProto
  std::vector<Node> node;
  std::string name;
  std::vector<Tensor> initializer;
  std::string doc_string;
  std::vector<ValueInfo> input;
  std::vector<ValueInfo> output;
  std::vector<ValueInfo> value_info;
  std::vector<TensorAnnotation> quantization_annotation;
  std::vector<SparseTensor> sparse_initializer;
  std::vector<StringStringEntry> metadata_props;
  UnknownFields unknown;

  const Tensor* find_initializer(std::string_view n) const noexcept {
    for (const auto& t : initializer) {
      if (t.name == n) return &t;
    }
    return nullptr;
  }
  Tensor* find_initializer(std::string_view n) noexcept {
    for (auto& t : initializer) {
      if (t.name == n) return &t;
    }
    return nullptr;
  }
  bool operator==(const Graph&) const = default;
};

inline bool Attribute::operator==(const Attribute& o) const {
  return static_cast<const Presence&>(*this) == static_cast<const Presence&>(o) && name == o.name &&
         ref_attr_name == o.ref_attr_name && doc_string == o.doc_string && type == o.type &&
         std::bit_cast<std::uint32_t>(f) == std::bit_cast<std::uint32_t>(o.f) && i == o.i &&
         s == o.s && t == o.t && g == o.g && sparse_tensor == o.sparse_tensor && tp == o.tp &&
         floats.size() == o.floats.size() &&
         (floats.empty() ||
          std::memcmp(floats.data(), o.floats.data(), floats.size() * sizeof(float)) == 0) &&
         ints == o.ints && strings == o.strings && tensors == o.tensors && graphs == o.graphs &&
         sparse_tensors == o.sparse_tensors && type_protos == o.type_protos && unknown == o.unknown;
}

struct Function : Presence {  // FunctionProto
  std::string name;
  std::vector<std::string> input;
  std::vector<std::string> output;
  std::vector<std::string> attribute;
  std::vector<Node> node;
  std::string doc_string;
  std::vector<OperatorSetId> opset_import;
  std::string domain;
  std::vector<Attribute> attribute_proto;
  std::vector<ValueInfo> value_info;
  std::string overload;
  std::vector<StringStringEntry> metadata_props;
  UnknownFields unknown;
  bool operator==(const Function&) const = default;
};

struct TrainingInfo : Presence {  // TrainingInfoProto
  std::optional<Graph> initialization;
  std::optional<Graph> algorithm;
  std::vector<StringStringEntry> initialization_binding;
  std::vector<StringStringEntry> update_binding;
  UnknownFields unknown;
  bool operator==(const TrainingInfo&) const = default;
};

struct Model : Presence {  // ModelProto
  std::int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  std::int64_t model_version = 0;
  std::string doc_string;
  std::optional<Graph> graph;
  std::vector<OperatorSetId> opset_import;
  std::vector<StringStringEntry> metadata_props;
  std::vector<TrainingInfo> training_info;
  std::vector<Function> functions;
  UnknownFields unknown;  // includes configuration (field 26)

  // Version of an imported opset ("" and "ai.onnx" are the same domain), or 0.
  std::int64_t opset_version(std::string_view dom) const noexcept {
    const bool dflt = dom.empty() || dom == "ai.onnx";
    for (const auto& o : opset_import) {
      if (o.domain == dom || (dflt && (o.domain.empty() || o.domain == "ai.onnx")))
        return o.version;
    }
    return 0;
  }
  bool operator==(const Model&) const = default;
};

// ---- walking every tensor and graph ---------------------------------------

enum class TensorRole : std::uint8_t {
  kInitializer,  // GraphProto.initializer
  kAttribute,    // a node attribute (Constant's value, ...)
  kSparse,       // values/indices of a sparse tensor
};

namespace detail {
template <class G, class Fn>
void walk_graph(G& g, Fn& fn);

template <class S, class Fn>
void walk_sparse(S& s, Fn& fn) {
  if (s.values) fn.tensor(*s.values, TensorRole::kSparse);
  if (s.indices) fn.tensor(*s.indices, TensorRole::kSparse);
}
template <class N, class Fn>
void walk_nodes(N& nodes, Fn& fn) {
  for (auto& n : nodes) {
    for (auto& a : n.attribute) {
      if (a.t) fn.tensor(*a.t, TensorRole::kAttribute);
      for (auto& t : a.tensors) fn.tensor(t, TensorRole::kAttribute);
      if (a.sparse_tensor) walk_sparse(*a.sparse_tensor, fn);
      for (auto& s : a.sparse_tensors) walk_sparse(s, fn);
      if (a.g) walk_graph(*a.g, fn);
      for (auto& sub : a.graphs) walk_graph(sub, fn);
    }
  }
}
template <class G, class Fn>
void walk_graph(G& g, Fn& fn) {
  fn.graph(g);
  for (auto& t : g.initializer) fn.tensor(t, TensorRole::kInitializer);
  for (auto& s : g.sparse_initializer) walk_sparse(s, fn);
  walk_nodes(g.node, fn);
}
template <class M, class Fn>
void walk_model(M& m, Fn& fn) {
  if (m.graph) walk_graph(*m.graph, fn);
  for (auto& ti : m.training_info) {
    if (ti.initialization) walk_graph(*ti.initialization, fn);
    if (ti.algorithm) walk_graph(*ti.algorithm, fn);
  }
  for (auto& f : m.functions) walk_nodes(f.node, fn);
}
template <class TensorFn>
struct TensorVisitor {
  TensorFn& f;
  template <class T>
  void tensor(T& t, TensorRole r) {
    f(t, r);
  }
  template <class G>
  void graph(G&) {}
};
template <class GraphFn>
struct GraphVisitor {
  GraphFn& f;
  template <class T>
  void tensor(T&, TensorRole) {}
  template <class G>
  void graph(G& g) {
    f(g);
  }
};
}  // namespace detail

// Calls fn(tensor, role) for every tensor of the model: initializers of the
// main graph and of every subgraph, attribute tensors, sparse tensors, and
// those inside functions and training graphs. Works on const and mutable models.
template <class M, class Fn>
void for_each_tensor(M& model, Fn&& fn) {
  detail::TensorVisitor<Fn> v{fn};
  detail::walk_model(model, v);
}
// Calls fn(graph) for the main graph and every subgraph (outer before inner).
template <class M, class Fn>
void for_each_graph(M& model, Fn&& fn) {
  detail::GraphVisitor<Fn> v{fn};
  detail::walk_model(model, v);
}

// ---- ExternalRef from the external_data entries ------------------------------

namespace detail {
// Decimal digits only (no sign, no spaces), overflow-checked: offset/length (§5).
inline std::optional<std::uint64_t> parse_decimal(std::string_view s) noexcept {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto m = checked_mul<std::uint64_t>(v, 10);
    if (!m) return std::nullopt;
    auto a = checked_add<std::uint64_t>(*m, static_cast<std::uint64_t>(c - '0'));
    if (!a) return std::nullopt;
    v = *a;
  }
  return v;
}
}  // namespace detail

inline Expected<ExternalRef> Tensor::external_ref() const {
  ExternalRef r;
  bool have_location = false;
  for (const auto& e : external_data) {  // a repeated key: the last one wins
    if (e.key == "location") {
      r.location = e.value;
      have_location = true;
    } else if (e.key == "offset" || e.key == "length") {
      auto v = detail::parse_decimal(e.value);
      if (!v) {
        return make_error(Errc::kInvalid, "tensor '" + name + "': external data " + e.key + " '" +
                                              e.value + "' is not a non-negative integer");
      }
      if (e.key == "offset")
        r.offset = *v;
      else
        r.length = *v;
    }
    // checksum, basepath and unknown keys carry no addressing information.
  }
  if (!have_location || r.location.empty()) {
    return make_error(Errc::kInvalid, "tensor '" + name + "': external data without a location");
  }
  return r;
}

}  // namespace edgequant::onnx
