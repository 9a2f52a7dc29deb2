// ONNX ModelProto serializer: fields in ascending number, packed only where
// onnx.proto says so (byte-identical to onnx.save for the same content), tensor
// payloads streamed from their views (specs/onnx.md §1, §2, §9).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/onnx/model.hpp"
#include "edgequant/formats/onnx/protobuf.hpp"
#include "edgequant/io/atomic_file.hpp"

namespace edgequant::onnx {

// protobuf refuses messages of 2^31 bytes or more (§1).
inline constexpr std::uint64_t kMaxProtobufBytes = 2147483647;

namespace detail {

// Where the writer puts one external tensor in the data file.
struct ExternalSlot {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct WriteCtx {
  // Tensors moved to the data file (by address), and that file's location.
  const std::unordered_map<const Tensor*, ExternalSlot>* plan = nullptr;
  std::string_view data_location;
};

template <class E>
using SinkOf = std::remove_reference_t<decltype(std::declval<E&>().sink())>;

template <class E>
constexpr bool kCounting = std::is_same_v<SinkOf<E>, pb::CountingSink>;

inline std::span<const std::byte> str_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Singular field written when set on the wire before or not the default.
template <class E>
Status opt_string(E& e, const Presence& p, std::uint32_t n, const std::string& v) {
  if (p.has(n) || !v.empty()) return e.field_string(n, v);
  return {};
}
template <class E>
Status opt_int64(E& e, const Presence& p, std::uint32_t n, std::int64_t v) {
  if (p.has(n) || v != 0) return e.field_int64(n, v);
  return {};
}
template <class E>
Status opt_int32(E& e, const Presence& p, std::uint32_t n, std::int32_t v) {
  if (p.has(n) || v != 0) return e.field_int32(n, v);
  return {};
}
template <class E>
Status strings(E& e, std::uint32_t n, const std::vector<std::string>& v) {
  for (const auto& s : v) EDGEQUANT_TRY(e.field_string(n, s));
  return {};
}

// The payload bytes of a tensor: its view, or its producer (never called in the
// counting pass; the size is known up front).
template <class E>
Status payload(E& e, const Tensor& t) {
  if (!t.lazy) return e.raw(t.data.span());
  if constexpr (kCounting<E>) {
    e.sink().n += t.lazy->size;
    return {};
  } else {
    std::uint64_t produced = 0;
    EDGEQUANT_TRY(t.lazy->produce([&](std::span<const std::byte> b) -> Status {
      produced += b.size();
      if (produced > t.lazy->size) {
        return make_error(Errc::kInvalid, "tensor '" + t.name + "': producer wrote more than " +
                                              std::to_string(t.lazy->size) + " bytes");
      }
      return e.raw(b);
    }));
    if (produced != t.lazy->size) {
      return make_error(Errc::kInvalid, "tensor '" + t.name + "': producer wrote " +
                                            std::to_string(produced) + " of " +
                                            std::to_string(t.lazy->size) + " bytes");
    }
    return {};
  }
}

template <class E, class M>
Status message(E& e, std::uint32_t n, const M& m, const WriteCtx& w);

template <class E, class M>
Status messages(E& e, std::uint32_t n, const std::vector<M>& v, const WriteCtx& w) {
  for (const auto& m : v) EDGEQUANT_TRY(message(e, n, m, w));
  return {};
}

template <class E>
Status body(E& e, const StringStringEntry& m, const WriteCtx&) {
  EDGEQUANT_TRY(opt_string(e, m, 1, m.key));
  EDGEQUANT_TRY(opt_string(e, m, 2, m.value));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const OperatorSetId& m, const WriteCtx&) {
  EDGEQUANT_TRY(opt_string(e, m, 1, m.domain));
  EDGEQUANT_TRY(opt_int64(e, m, 2, m.version));
  return e.raw(m.unknown);
}

// Typed payload re-encoded from the raw bytes (§2.8): the inverse of the reader.
template <class E>
Status typed_payload(E& e, const Tensor& t) {
  const DataTypeInfo info = data_type_info(t.data_type);
  const std::span<const std::byte> raw = t.data.span();
  const std::uint32_t f = t.typed_field;
  if (info.typed_field != f || info.entry_bytes == 0 || raw.size() % info.entry_bytes != 0) {
    return make_error(Errc::kInvalid, "tensor '" + t.name + "': typed field " + std::to_string(f) +
                                          " does not fit data type " + std::to_string(t.data_type));
  }
  const std::size_t n = raw.size() / info.entry_bytes;
  if (f == kFieldFloatData) {
    std::vector<float> v(n);
    if (n) std::memcpy(v.data(), raw.data(), raw.size());
    return e.packed_fixed(f, std::span<const float>(v));
  }
  if (f == kFieldDoubleData) {
    std::vector<double> v(n);
    if (n) std::memcpy(v.data(), raw.data(), raw.size());
    return e.packed_fixed(f, std::span<const double>(v));
  }
  if (f == kFieldInt64Data) {
    std::vector<std::int64_t> v(n);
    if (n) std::memcpy(v.data(), raw.data(), raw.size());
    return e.packed_varint(f, std::span<const std::int64_t>(v));
  }
  if (f == kFieldUint64Data) {
    std::vector<std::uint64_t> v(n);
    for (std::size_t k = 0; k < n; ++k) {
      v[k] = info.entry_bytes == 4 ? load_le<std::uint32_t>(raw.data() + 4 * k)
                                   : load_le<std::uint64_t>(raw.data() + 8 * k);
    }
    return e.packed_varint(f, std::span<const std::uint64_t>(v));
  }
  std::vector<std::int32_t> v(n);  // int32_data
  for (std::size_t k = 0; k < n; ++k) {
    const std::byte* p = raw.data() + k * info.entry_bytes;
    switch (info.entry_bytes) {
      case 1: {
        const auto b = static_cast<std::uint8_t>(*p);
        v[k] = info.sign_extend ? static_cast<std::int8_t>(b) : b;
        break;
      }
      case 2: {
        const auto h = load_le<std::uint16_t>(p);
        v[k] = info.sign_extend ? static_cast<std::int16_t>(h) : h;
        break;
      }
      default:
        v[k] = load_le<std::int32_t>(p);
    }
  }
  return e.packed_varint(f, std::span<const std::int32_t>(v));
}

template <class E>
Status body(E& e, const Tensor& t, const WriteCtx& w) {
  const ExternalSlot* slot = nullptr;
  if (w.plan) {
    if (auto it = w.plan->find(&t); it != w.plan->end()) slot = &it->second;
  }
  // Output form: planned external; kept external reference (no plan, data
  // not rewritten); else inline in the form the tensor came in.
  const bool keep_ref = !slot && t.storage == Storage::kExternal && !w.plan;
  const bool inline_raw = !slot && !keep_ref &&
                          (t.storage == Storage::kRaw || t.storage == Storage::kExternal || t.lazy);
  if (!slot && !keep_ref && t.storage == Storage::kExternal && !t.has_bytes() && !t.lazy) {
    return make_error(Errc::kInvalid,
                      "tensor '" + t.name + "': external data not loaded; cannot write it inline");
  }
  EDGEQUANT_TRY(e.unpacked_varint(1, std::span<const std::int64_t>(t.dims)));
  EDGEQUANT_TRY(opt_int32(e, t, 2, t.data_type));
  const bool typed = !slot && !keep_ref && !t.lazy && t.storage == Storage::kTyped;
  if (typed && t.typed_field == kFieldFloatData) EDGEQUANT_TRY(typed_payload(e, t));
  if (typed && t.typed_field == kFieldInt32Data) EDGEQUANT_TRY(typed_payload(e, t));
  EDGEQUANT_TRY(strings(e, 6, t.string_data));
  if (typed && t.typed_field == kFieldInt64Data) EDGEQUANT_TRY(typed_payload(e, t));
  EDGEQUANT_TRY(opt_string(e, t, 8, t.name));
  if (inline_raw) {
    EDGEQUANT_TRY(e.len_header(9, t.payload_size()));
    EDGEQUANT_TRY(payload(e, t));
  }
  if (typed && t.typed_field == kFieldDoubleData) EDGEQUANT_TRY(typed_payload(e, t));
  if (typed && t.typed_field == kFieldUint64Data) EDGEQUANT_TRY(typed_payload(e, t));
  EDGEQUANT_TRY(opt_string(e, t, 12, t.doc_string));
  if (slot) {
    // Written explicitly for every tensor (§5: readers never assume defaults).
    StringStringEntry loc, off, len;
    loc.key = "location", loc.value = std::string(w.data_location);
    off.key = "offset", off.value = std::to_string(slot->offset);
    len.key = "length", len.value = std::to_string(slot->length);
    EDGEQUANT_TRY(message(e, 13, loc, w));
    EDGEQUANT_TRY(message(e, 13, off, w));
    EDGEQUANT_TRY(message(e, 13, len, w));
    EDGEQUANT_TRY(e.field_int32(14, 1));
  } else if (keep_ref || t.storage != Storage::kExternal) {
    EDGEQUANT_TRY(messages(e, 13, t.external_data, w));
    EDGEQUANT_TRY(opt_int32(e, t, 14, t.data_location));
  }
  EDGEQUANT_TRY(messages(e, 16, t.metadata_props, w));
  return e.raw(t.unknown);
}

template <class E>
Status body(E& e, const SparseTensor& m, const WriteCtx& w) {
  if (m.values) EDGEQUANT_TRY(message(e, 1, *m.values, w));
  if (m.indices) EDGEQUANT_TRY(message(e, 2, *m.indices, w));
  EDGEQUANT_TRY(e.unpacked_varint(3, std::span<const std::int64_t>(m.dims)));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const Dimension& m, const WriteCtx&) {
  if (m.kind == Dimension::Kind::kValue) EDGEQUANT_TRY(e.field_int64(1, m.value));
  if (m.kind == Dimension::Kind::kParam) EDGEQUANT_TRY(e.field_string(2, m.param));
  EDGEQUANT_TRY(opt_string(e, m, 3, m.denotation));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const TensorShape& m, const WriteCtx& w) {
  EDGEQUANT_TRY(messages(e, 1, m.dims, w));
  return e.raw(m.unknown);
}

template <class E>
Status type_inner(E& e, const TypeProto& m, const WriteCtx& w) {
  switch (m.kind) {
    case TypeProto::Kind::kTensor:
    case TypeProto::Kind::kSparseTensor:
      EDGEQUANT_TRY(opt_int32(e, m.inner, 1, m.elem_type));
      if (m.shape) EDGEQUANT_TRY(message(e, 2, *m.shape, w));
      break;
    case TypeProto::Kind::kSequence:
    case TypeProto::Kind::kOptional:
      if (m.elem) EDGEQUANT_TRY(message(e, 1, *m.elem, w));
      break;
    case TypeProto::Kind::kMap:
      EDGEQUANT_TRY(opt_int32(e, m.inner, 1, m.key_type));
      if (m.elem) EDGEQUANT_TRY(message(e, 2, *m.elem, w));
      break;
    case TypeProto::Kind::kOpaque:
      EDGEQUANT_TRY(opt_string(e, m.inner, 1, m.opaque_domain));
      EDGEQUANT_TRY(opt_string(e, m.inner, 2, m.opaque_name));
      break;
    case TypeProto::Kind::kNone:
      break;
  }
  return e.raw(m.inner_unknown);
}

template <class E>
Status body(E& e, const TypeProto& m, const WriteCtx& w) {
  const auto inner = [&](auto& sub) { return type_inner(sub, m, w); };
  const auto k = static_cast<std::uint32_t>(m.kind);
  // Ascending field order: 1 tensor, 4 sequence, 5 map, 6 denotation, 7 opaque, 8 sparse, 9
  // optional.
  if (m.kind != TypeProto::Kind::kNone && k < 6) EDGEQUANT_TRY(e.message(k, inner));
  EDGEQUANT_TRY(opt_string(e, m, 6, m.denotation));
  if (k > 6) EDGEQUANT_TRY(e.message(k, inner));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const ValueInfo& m, const WriteCtx& w) {
  EDGEQUANT_TRY(opt_string(e, m, 1, m.name));
  if (m.type) EDGEQUANT_TRY(message(e, 2, *m.type, w));
  EDGEQUANT_TRY(opt_string(e, m, 3, m.doc_string));
  EDGEQUANT_TRY(messages(e, 4, m.metadata_props, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const Attribute& m, const WriteCtx& w) {
  // The value field that `type` names is always written (the checker wants it
  // present) unless the attribute refers to a function's attribute; any other
  // set field is kept too.
  const auto T =
      m.ref_attr_name.empty() ? static_cast<AttributeType>(m.type) : AttributeType::kUndefined;
  EDGEQUANT_TRY(opt_string(e, m, 1, m.name));
  if (T == AttributeType::kFloat || m.has(2) || m.f != 0 || std::signbit(m.f)) {
    EDGEQUANT_TRY(e.field_float(2, m.f));
  }
  if (T == AttributeType::kInt || m.has(3) || m.i != 0) EDGEQUANT_TRY(e.field_int64(3, m.i));
  if (T == AttributeType::kString || m.has(4) || !m.s.empty())
    EDGEQUANT_TRY(e.field_string(4, m.s));
  if (m.t) EDGEQUANT_TRY(message(e, 5, *m.t, w));
  if (m.g) EDGEQUANT_TRY(message(e, 6, *m.g, w));
  EDGEQUANT_TRY(e.unpacked_float(7, std::span<const float>(m.floats)));
  EDGEQUANT_TRY(e.unpacked_varint(8, std::span<const std::int64_t>(m.ints)));
  EDGEQUANT_TRY(strings(e, 9, m.strings));
  EDGEQUANT_TRY(messages(e, 10, m.tensors, w));
  EDGEQUANT_TRY(messages(e, 11, m.graphs, w));
  EDGEQUANT_TRY(opt_string(e, m, 13, m.doc_string));
  if (m.tp) EDGEQUANT_TRY(message(e, 14, *m.tp, w));
  EDGEQUANT_TRY(messages(e, 15, m.type_protos, w));
  EDGEQUANT_TRY(opt_int32(e, m, 20, m.type));
  EDGEQUANT_TRY(opt_string(e, m, 21, m.ref_attr_name));
  if (m.sparse_tensor) EDGEQUANT_TRY(message(e, 22, *m.sparse_tensor, w));
  EDGEQUANT_TRY(messages(e, 23, m.sparse_tensors, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const Node& m, const WriteCtx& w) {
  EDGEQUANT_TRY(strings(e, 1, m.input));
  EDGEQUANT_TRY(strings(e, 2, m.output));
  EDGEQUANT_TRY(opt_string(e, m, 3, m.name));
  EDGEQUANT_TRY(opt_string(e, m, 4, m.op_type));
  EDGEQUANT_TRY(messages(e, 5, m.attribute, w));
  EDGEQUANT_TRY(opt_string(e, m, 6, m.doc_string));
  EDGEQUANT_TRY(opt_string(e, m, 7, m.domain));
  EDGEQUANT_TRY(opt_string(e, m, 8, m.overload));
  EDGEQUANT_TRY(messages(e, 9, m.metadata_props, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const TensorAnnotation& m, const WriteCtx& w) {
  EDGEQUANT_TRY(opt_string(e, m, 1, m.tensor_name));
  EDGEQUANT_TRY(messages(e, 2, m.quant_parameter_tensor_names, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const Graph& m, const WriteCtx& w) {
  EDGEQUANT_TRY(messages(e, 1, m.node, w));
  EDGEQUANT_TRY(opt_string(e, m, 2, m.name));
  EDGEQUANT_TRY(messages(e, 5, m.initializer, w));
  EDGEQUANT_TRY(opt_string(e, m, 10, m.doc_string));
  EDGEQUANT_TRY(messages(e, 11, m.input, w));
  EDGEQUANT_TRY(messages(e, 12, m.output, w));
  EDGEQUANT_TRY(messages(e, 13, m.value_info, w));
  EDGEQUANT_TRY(messages(e, 14, m.quantization_annotation, w));
  EDGEQUANT_TRY(messages(e, 15, m.sparse_initializer, w));
  EDGEQUANT_TRY(messages(e, 16, m.metadata_props, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const Function& m, const WriteCtx& w) {
  EDGEQUANT_TRY(opt_string(e, m, 1, m.name));
  EDGEQUANT_TRY(strings(e, 4, m.input));
  EDGEQUANT_TRY(strings(e, 5, m.output));
  EDGEQUANT_TRY(strings(e, 6, m.attribute));
  EDGEQUANT_TRY(messages(e, 7, m.node, w));
  EDGEQUANT_TRY(opt_string(e, m, 8, m.doc_string));
  EDGEQUANT_TRY(messages(e, 9, m.opset_import, w));
  EDGEQUANT_TRY(opt_string(e, m, 10, m.domain));
  EDGEQUANT_TRY(messages(e, 11, m.attribute_proto, w));
  EDGEQUANT_TRY(messages(e, 12, m.value_info, w));
  EDGEQUANT_TRY(opt_string(e, m, 13, m.overload));
  EDGEQUANT_TRY(messages(e, 14, m.metadata_props, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const TrainingInfo& m, const WriteCtx& w) {
  if (m.initialization) EDGEQUANT_TRY(message(e, 1, *m.initialization, w));
  if (m.algorithm) EDGEQUANT_TRY(message(e, 2, *m.algorithm, w));
  EDGEQUANT_TRY(messages(e, 3, m.initialization_binding, w));
  EDGEQUANT_TRY(messages(e, 4, m.update_binding, w));
  return e.raw(m.unknown);
}

template <class E>
Status body(E& e, const Model& m, const WriteCtx& w) {
  EDGEQUANT_TRY(opt_int64(e, m, 1, m.ir_version));
  EDGEQUANT_TRY(opt_string(e, m, 2, m.producer_name));
  EDGEQUANT_TRY(opt_string(e, m, 3, m.producer_version));
  EDGEQUANT_TRY(opt_string(e, m, 4, m.domain));
  EDGEQUANT_TRY(opt_int64(e, m, 5, m.model_version));
  EDGEQUANT_TRY(opt_string(e, m, 6, m.doc_string));
  if (m.graph) EDGEQUANT_TRY(message(e, 7, *m.graph, w));
  EDGEQUANT_TRY(messages(e, 8, m.opset_import, w));
  EDGEQUANT_TRY(messages(e, 14, m.metadata_props, w));
  EDGEQUANT_TRY(messages(e, 20, m.training_info, w));
  EDGEQUANT_TRY(messages(e, 25, m.functions, w));
  return e.raw(m.unknown);
}

template <class E, class M>
Status message(E& e, std::uint32_t n, const M& m, const WriteCtx& w) {
  return e.message(n, [&](auto& sub) { return body(sub, m, w); });
}

template <class M>
Expected<std::uint64_t> serialized_size(const M& m, const WriteCtx& w) {
  return pb::encoded_size([&](auto& e) { return body(e, m, w); });
}

}  // namespace detail

// Serializes any message of model.hpp (a Model, a Graph, a Tensor...) to a
// sink, inline. External tensors keep their external_data references as they
// are (their bytes are not copied): use write_model() to rewrite data files.
template <class M, ByteSink S>
Status serialize(const M& m, S& sink) {
  pb::Encoder<S> e(sink);
  return detail::body(e, m, detail::WriteCtx{});
}

template <class M>
Expected<std::vector<std::byte>> serialize_to_bytes(const M& m) {
  MemorySink s;
  EDGEQUANT_TRY(serialize(m, s));
  return s.take();
}

// Size serialize() would write, without writing.
template <class M>
Expected<std::uint64_t> serialized_size(const M& m) {
  return detail::serialized_size(m, detail::WriteCtx{});
}

}  // namespace edgequant::onnx
