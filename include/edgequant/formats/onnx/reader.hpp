// ONNX ModelProto parser over untrusted bytes: every message of model.hpp, tensor
// payloads as zero-copy views, errors naming the byte offset and the field path.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/onnx/model.hpp"
#include "edgequant/formats/onnx/protobuf.hpp"

namespace edgequant::onnx {

struct ParseOptions {
  // Nested messages allowed (protobuf's own default recursion limit is 100).
  // Each level of subgraph costs three (graph, node, attribute).
  int max_depth = 100;
};

namespace detail {

struct ParseCtx {
  const std::byte* base = nullptr;    // offsets are relative to this byte
  std::shared_ptr<const void> owner;  // keeps the views into the buffer alive
  int depth = 0;
  int max_depth = 100;
  std::uint64_t offset_of(std::span<const std::byte> b) const noexcept {
    return static_cast<std::uint64_t>(b.data() - base);
  }
};

using pb::Field;
using pb::Path;

// Runs fn(field) over every record of the message in `buf`, one nesting level deeper.
template <class Fn>
Status for_each_field(std::span<const std::byte> buf, const Path& path, ParseCtx& c, Fn&& fn) {
  if (c.depth >= c.max_depth) {
    return pb::path_error(Errc::kLimit, path, c.offset_of(buf),
                          "messages nested deeper than " + std::to_string(c.max_depth));
  }
  ++c.depth;
  struct Leave {
    int& d;
    ~Leave() { --d; }
  } leave{c.depth};
  pb::Decoder d(buf, c.offset_of(buf), path);
  while (!d.done()) {
    auto f = d.next();
    if (!f) return std::move(f).error();
    EDGEQUANT_TRY(fn(*f));
  }
  return {};
}

inline Status keep_unknown(const Field& f, UnknownFields& u) {
  u.append(reinterpret_cast<const char*>(f.record.data()), f.record.size());
  return {};
}

inline Status get(const Field& f, std::string& out, Presence& p, const Path& path) {
  auto v = pb::as_bytes(f, path);
  if (!v) return std::move(v).error();
  out.assign(v->data(), v->size());
  p.mark(f.number);
  return {};
}
inline Status get(const Field& f, std::int64_t& out, Presence& p, const Path& path) {
  auto v = pb::as_int64(f, path);
  if (!v) return std::move(v).error();
  out = *v;
  p.mark(f.number);
  return {};
}
inline Status get(const Field& f, std::int32_t& out, Presence& p, const Path& path) {
  auto v = pb::as_int32(f, path);
  if (!v) return std::move(v).error();
  out = *v;
  p.mark(f.number);
  return {};
}
inline Status get(const Field& f, float& out, Presence& p, const Path& path) {
  auto v = pb::as_float(f, path);
  if (!v) return std::move(v).error();
  out = *v;
  p.mark(f.number);
  return {};
}
inline Status add_string(const Field& f, std::vector<std::string>& out, const Path& path) {
  auto v = pb::as_bytes(f, path);
  if (!v) return std::move(v).error();
  out.emplace_back(v->data(), v->size());
  return {};
}

// Forward declarations: the messages nest recursively.
Status parse(std::span<const std::byte>, StringStringEntry&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, OperatorSetId&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Tensor&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, SparseTensor&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Dimension&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, TensorShape&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, TypeProto&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, ValueInfo&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Attribute&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Node&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, TensorAnnotation&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Graph&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Function&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, TrainingInfo&, const Path&, ParseCtx&);
Status parse(std::span<const std::byte>, Model&, const Path&, ParseCtx&);

// Repeated sub-message: append one element.
template <class M>
Status add_message(const Field& f, std::vector<M>& out, const Path& parent, std::string_view name,
                   ParseCtx& c) {
  const Path path = parent.child(name, static_cast<std::int64_t>(out.size()));
  EDGEQUANT_TRY(pb::expect_wire(f, pb::WireType::kLen, path));
  out.emplace_back();
  return parse(f.bytes, out.back(), path, c);
}
// Singular sub-message: a second occurrence merges into the first (protobuf rule).
template <class M>
Status merge_message(const Field& f, std::optional<M>& out, const Path& parent,
                     std::string_view name, ParseCtx& c) {
  const Path path = parent.child(name);
  EDGEQUANT_TRY(pb::expect_wire(f, pb::WireType::kLen, path));
  if (!out) out.emplace();
  return parse(f.bytes, *out, path, c);
}
template <class M>
Status merge_message(const Field& f, Box<M>& out, const Path& parent, std::string_view name,
                     ParseCtx& c) {
  const Path path = parent.child(name);
  EDGEQUANT_TRY(pb::expect_wire(f, pb::WireType::kLen, path));
  if (!out) out.emplace();
  return parse(f.bytes, *out, path, c);
}

inline Status parse(std::span<const std::byte> b, StringStringEntry& m, const Path& p,
                    ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.key, m, p.child("key"));
      case 2:
        return get(f, m.value, m, p.child("value"));
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, OperatorSetId& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.domain, m, p.child("domain"));
      case 2:
        return get(f, m.version, m, p.child("version"));
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

// Typed payload fields as read, converted to the raw encoding once data_type is known.
struct TypedPayload {
  std::vector<float> f32;          // 4
  std::vector<std::int64_t> i32;   // 5 (kept as int64 to range-check before narrowing)
  std::vector<std::int64_t> i64;   // 7
  std::vector<double> f64;         // 10
  std::vector<std::uint64_t> u64;  // 11
};

inline Status typed_to_raw(Tensor& t, const TypedPayload& tp, std::uint64_t off, const Path& p) {
  const DataTypeInfo info = data_type_info(t.data_type);
  const std::string fname = t.typed_field == kFieldFloatData    ? "float_data"
                            : t.typed_field == kFieldInt32Data  ? "int32_data"
                            : t.typed_field == kFieldInt64Data  ? "int64_data"
                            : t.typed_field == kFieldDoubleData ? "double_data"
                                                                : "uint64_data";
  if (!is_known_data_type(t.data_type) || info.typed_field != t.typed_field) {
    return pb::path_error(Errc::kInvalid, p, off,
                          fname + " cannot hold data type " + std::to_string(t.data_type) + " (" +
                              std::string(info.name) + ")");
  }
  auto want = t.expected_bytes();
  if (!want) return pb::path_error(want.error().code, p, off, want.error().what);
  const std::uint64_t entries = *want / info.entry_bytes;
  const std::size_t have = t.typed_field == kFieldFloatData    ? tp.f32.size()
                           : t.typed_field == kFieldInt32Data  ? tp.i32.size()
                           : t.typed_field == kFieldInt64Data  ? tp.i64.size()
                           : t.typed_field == kFieldDoubleData ? tp.f64.size()
                                                               : tp.u64.size();
  if (have != entries) {
    return pb::path_error(Errc::kInvalid, p, off,
                          fname + " has " + std::to_string(have) + " entries, dims and " +
                              std::string(info.name) + " call for " + std::to_string(entries));
  }
  std::vector<std::byte> raw(static_cast<std::size_t>(*want));  // <= 8 x the bytes read
  std::byte* out = raw.data();
  switch (t.typed_field) {
    case kFieldFloatData:
      if (!raw.empty()) std::memcpy(out, tp.f32.data(), raw.size());
      break;
    case kFieldDoubleData:
      if (!raw.empty()) std::memcpy(out, tp.f64.data(), raw.size());
      break;
    case kFieldInt64Data:
      if (!raw.empty()) std::memcpy(out, tp.i64.data(), raw.size());
      break;
    case kFieldUint64Data:
      for (std::size_t k = 0; k < have; ++k) {
        const std::uint64_t v = tp.u64[k];
        if (info.entry_bytes == 4) {
          if (v > 0xffffffffu) {
            return pb::path_error(Errc::kInvalid, p, off,
                                  "uint64_data[" + std::to_string(k) + "] = " + std::to_string(v) +
                                      " does not fit UINT32");
          }
          store_le(out + 4 * k, static_cast<std::uint32_t>(v));
        } else {
          store_le(out + 8 * k, v);
        }
      }
      break;
    case kFieldInt32Data: {
      // protobuf keeps the low 32 bits of an int32 varint.
      const std::int64_t lo = info.entry_bytes == 4 ? INT32_MIN
                              : info.sign_extend ? -(std::int64_t{1} << (8 * info.entry_bytes - 1))
                                                 : 0;
      const std::int64_t hi = info.entry_bytes == 4 ? INT32_MAX
                              : info.sign_extend
                                  ? (std::int64_t{1} << (8 * info.entry_bytes - 1)) - 1
                                  : (std::int64_t{1} << (8 * info.entry_bytes)) - 1;
      for (std::size_t k = 0; k < have; ++k) {
        const auto v = static_cast<std::int64_t>(static_cast<std::int32_t>(tp.i32[k]));
        if (v < lo || v > hi) {
          return pb::path_error(Errc::kInvalid, p, off,
                                "int32_data[" + std::to_string(k) + "] = " + std::to_string(v) +
                                    " is out of range for " + std::string(info.name));
        }
        const auto u = static_cast<std::uint32_t>(v);
        std::memcpy(out + k * info.entry_bytes, &u, info.entry_bytes);  // little-endian low bytes
      }
      break;
    }
    default:
      break;
  }
  t.data = Bytes::own(std::move(raw));
  return {};
}

inline Status parse(std::span<const std::byte> b, Tensor& m, const Path& p, ParseCtx& c) {
  TypedPayload tp;
  bool saw_raw = false, saw_strings = false;
  std::uint32_t typed_seen = 0;  // bitmask of typed field numbers
  std::uint64_t raw_offset = 0;
  std::span<const std::byte> raw;
  EDGEQUANT_TRY(for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return pb::append_repeated(f, m.dims, p.child("dims"));
      case 2:
        return get(f, m.data_type, m, p.child("data_type"));
      case 4:
        typed_seen |= 1u << 4;
        return pb::append_repeated(f, tp.f32, p.child("float_data"));
      case 5:
        typed_seen |= 1u << 5;
        return pb::append_repeated(f, tp.i32, p.child("int32_data"));
      case 6:
        saw_strings = true;
        return add_string(f, m.string_data, p.child("string_data"));
      case 7:
        typed_seen |= 1u << 7;
        return pb::append_repeated(f, tp.i64, p.child("int64_data"));
      case 8:
        return get(f, m.name, m, p.child("name"));
      case 9:
        EDGEQUANT_TRY(pb::expect_wire(f, pb::WireType::kLen, p.child("raw_data")));
        saw_raw = true;  // last one wins
        raw = f.bytes;
        raw_offset = f.payload_offset;
        m.mark(9);
        return {};
      case 10:
        typed_seen |= 1u << 10;
        return pb::append_repeated(f, tp.f64, p.child("double_data"));
      case 11:
        typed_seen |= 1u << 11;
        return pb::append_repeated(f, tp.u64, p.child("uint64_data"));
      case 12:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 13:
        return add_message(f, m.external_data, p, "external_data", c);
      case 14:
        return get(f, m.data_location, m, p.child("data_location"));
      case 16:
        return add_message(f, m.metadata_props, p, "metadata_props", c);
      default:
        return keep_unknown(f, m.unknown);  // 3 segment: kept, never interpreted
    }
  }));
  const std::uint64_t off = c.offset_of(b);
  const int typed_count = std::popcount(typed_seen);
  const int payloads = (saw_raw ? 1 : 0) + typed_count + (saw_strings ? 1 : 0);
  if (payloads > 1) {
    return pb::path_error(Errc::kInvalid, p, off, "tensor has more than one payload field");
  }
  if (m.data_location != 0 && m.data_location != 1) {
    return pb::path_error(
        Errc::kInvalid, p, off,
        "data_location " + std::to_string(m.data_location) + " is not DEFAULT or EXTERNAL");
  }
  const DataTypeInfo info = data_type_info(m.data_type);
  if (m.data_location == 1) {
    if (payloads) {
      return pb::path_error(Errc::kInvalid, p, off, "external tensor also has an inline payload");
    }
    if (m.data_type == static_cast<std::int32_t>(DataType::kString)) {
      return pb::path_error(Errc::kInvalid, p, off, "STRING tensors cannot use external data");
    }
    auto ref = m.external_ref();
    if (!ref)
      return pb::path_error(Errc::kInvalid, p.child("external_data"), off, ref.error().what);
    m.storage = Storage::kExternal;
    return {};
  }
  if (saw_strings || m.data_type == static_cast<std::int32_t>(DataType::kString)) {
    if (m.data_type != static_cast<std::int32_t>(DataType::kString)) {
      return pb::path_error(
          Errc::kInvalid, p, off,
          "string_data in a tensor of type " + std::string(info.name.empty() ? "?" : info.name));
    }
    if (saw_raw || typed_count) {
      return pb::path_error(Errc::kInvalid, p, off, "STRING tensor with a numeric payload");
    }
    auto n = m.numel();
    if (!n) return pb::path_error(n.error().code, p.child("dims"), off, n.error().what);
    if (m.string_data.size() != *n && !(m.string_data.empty() && !saw_strings && *n == 0)) {
      return pb::path_error(Errc::kInvalid, p, off,
                            "string_data has " + std::to_string(m.string_data.size()) +
                                " entries, dims call for " + std::to_string(*n));
    }
    m.storage = Storage::kNone;
    return {};
  }
  if (saw_raw) {
    m.storage = Storage::kRaw;
    m.data = Bytes::view(raw, c.owner);
    if (info.bits != 0) {
      auto want = m.expected_bytes();
      if (!want) return pb::path_error(want.error().code, p.child("dims"), off, want.error().what);
      if (*want != raw.size()) {
        return pb::path_error(Errc::kInvalid, p.child("raw_data"), raw_offset,
                              std::to_string(raw.size()) + " bytes, dims and " +
                                  std::string(info.name) + " call for " + std::to_string(*want));
      }
    }
    return {};
  }
  if (typed_count) {
    m.storage = Storage::kTyped;
    m.typed_field = static_cast<std::uint8_t>(std::countr_zero(typed_seen));
    return typed_to_raw(m, tp, off, p);
  }
  m.storage = Storage::kNone;
  if (info.bits != 0) {
    auto want = m.expected_bytes();
    if (!want) return pb::path_error(want.error().code, p.child("dims"), off, want.error().what);
    if (*want != 0) {
      return pb::path_error(Errc::kInvalid, p, off,
                            "tensor has no payload for its " + std::to_string(*want) + " bytes");
    }
  }
  return {};
}

inline Status parse(std::span<const std::byte> b, SparseTensor& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return merge_message(f, m.values, p, "values", c);
      case 2:
        return merge_message(f, m.indices, p, "indices", c);
      case 3:
        return pb::append_repeated(f, m.dims, p.child("dims"));
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, Dimension& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:  // oneof value: setting one member clears the other
        m.param.clear();
        m.kind = Dimension::Kind::kValue;
        return get(f, m.value, m, p.child("dim_value"));
      case 2:
        m.value = 0;
        m.kind = Dimension::Kind::kParam;
        return get(f, m.param, m, p.child("dim_param"));
      case 3:
        return get(f, m.denotation, m, p.child("denotation"));
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, TensorShape& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    if (f.number == 1) return add_message(f, m.dims, p, "dim", c);
    return keep_unknown(f, m.unknown);
  });
}

inline Status parse(std::span<const std::byte> b, TypeProto& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    if (f.number == 6) return get(f, m.denotation, m, p.child("denotation"));
    TypeProto::Kind k;
    std::string_view name;
    switch (f.number) {
      case 1:
        k = TypeProto::Kind::kTensor, name = "tensor_type";
        break;
      case 4:
        k = TypeProto::Kind::kSequence, name = "sequence_type";
        break;
      case 5:
        k = TypeProto::Kind::kMap, name = "map_type";
        break;
      case 7:
        k = TypeProto::Kind::kOpaque, name = "opaque_type";
        break;
      case 8:
        k = TypeProto::Kind::kSparseTensor, name = "sparse_tensor_type";
        break;
      case 9:
        k = TypeProto::Kind::kOptional, name = "optional_type";
        break;
      default:
        return keep_unknown(f, m.unknown);
    }
    const Path ip = p.child(name);
    EDGEQUANT_TRY(pb::expect_wire(f, pb::WireType::kLen, ip));
    if (m.kind != k) {  // switching the oneof clears the previous member
      m.elem_type = m.key_type = 0;
      m.shape.reset();
      m.elem.reset();
      m.opaque_domain.clear();
      m.opaque_name.clear();
      m.inner = {};
      m.inner_unknown.clear();
      m.kind = k;
    }
    return for_each_field(f.bytes, ip, c, [&](const Field& g) -> Status {
      switch (k) {
        case TypeProto::Kind::kTensor:
        case TypeProto::Kind::kSparseTensor:
          if (g.number == 1) return get(g, m.elem_type, m.inner, ip.child("elem_type"));
          if (g.number == 2) return merge_message(g, m.shape, ip, "shape", c);
          break;
        case TypeProto::Kind::kSequence:
        case TypeProto::Kind::kOptional:
          if (g.number == 1) return merge_message(g, m.elem, ip, "elem_type", c);
          break;
        case TypeProto::Kind::kMap:
          if (g.number == 1) return get(g, m.key_type, m.inner, ip.child("key_type"));
          if (g.number == 2) return merge_message(g, m.elem, ip, "value_type", c);
          break;
        case TypeProto::Kind::kOpaque:
          if (g.number == 1) return get(g, m.opaque_domain, m.inner, ip.child("domain"));
          if (g.number == 2) return get(g, m.opaque_name, m.inner, ip.child("name"));
          break;
        case TypeProto::Kind::kNone:
          break;
      }
      return keep_unknown(g, m.inner_unknown);
    });
  });
}

inline Status parse(std::span<const std::byte> b, ValueInfo& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.name, m, p.child("name"));
      case 2:
        return merge_message(f, m.type, p, "type", c);
      case 3:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 4:
        return add_message(f, m.metadata_props, p, "metadata_props", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, Attribute& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.name, m, p.child("name"));
      case 2:
        return get(f, m.f, m, p.child("f"));
      case 3:
        return get(f, m.i, m, p.child("i"));
      case 4:
        return get(f, m.s, m, p.child("s"));
      case 5:
        m.mark(5);
        return merge_message(f, m.t, p, "t", c);
      case 6:
        m.mark(6);
        return merge_message(f, m.g, p, "g", c);
      case 7:
        return pb::append_repeated(f, m.floats, p.child("floats"));
      case 8:
        return pb::append_repeated(f, m.ints, p.child("ints"));
      case 9:
        return add_string(f, m.strings, p.child("strings"));
      case 10:
        return add_message(f, m.tensors, p, "tensors", c);
      case 11:
        return add_message(f, m.graphs, p, "graphs", c);
      case 13:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 14:
        m.mark(14);
        return merge_message(f, m.tp, p, "tp", c);
      case 15:
        return add_message(f, m.type_protos, p, "type_protos", c);
      case 20:
        return get(f, m.type, m, p.child("type"));
      case 21:
        return get(f, m.ref_attr_name, m, p.child("ref_attr_name"));
      case 22:
        m.mark(22);
        return merge_message(f, m.sparse_tensor, p, "sparse_tensor", c);
      case 23:
        return add_message(f, m.sparse_tensors, p, "sparse_tensors", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, Node& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return add_string(f, m.input, p.child("input"));
      case 2:
        return add_string(f, m.output, p.child("output"));
      case 3:
        return get(f, m.name, m, p.child("name"));
      case 4:
        return get(f, m.op_type, m, p.child("op_type"));
      case 5:
        return add_message(f, m.attribute, p, "attribute", c);
      case 6:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 7:
        return get(f, m.domain, m, p.child("domain"));
      case 8:
        return get(f, m.overload, m, p.child("overload"));
      case 9:
        return add_message(f, m.metadata_props, p, "metadata_props", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, TensorAnnotation& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.tensor_name, m, p.child("tensor_name"));
      case 2:
        return add_message(f, m.quant_parameter_tensor_names, p, "quant_parameter_tensor_names", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, Graph& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return add_message(f, m.node, p, "node", c);
      case 2:
        return get(f, m.name, m, p.child("name"));
      case 5:
        return add_message(f, m.initializer, p, "initializer", c);
      case 10:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 11:
        return add_message(f, m.input, p, "input", c);
      case 12:
        return add_message(f, m.output, p, "output", c);
      case 13:
        return add_message(f, m.value_info, p, "value_info", c);
      case 14:
        return add_message(f, m.quantization_annotation, p, "quantization_annotation", c);
      case 15:
        return add_message(f, m.sparse_initializer, p, "sparse_initializer", c);
      case 16:
        return add_message(f, m.metadata_props, p, "metadata_props", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, Function& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.name, m, p.child("name"));
      case 4:
        return add_string(f, m.input, p.child("input"));
      case 5:
        return add_string(f, m.output, p.child("output"));
      case 6:
        return add_string(f, m.attribute, p.child("attribute"));
      case 7:
        return add_message(f, m.node, p, "node", c);
      case 8:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 9:
        return add_message(f, m.opset_import, p, "opset_import", c);
      case 10:
        return get(f, m.domain, m, p.child("domain"));
      case 11:
        return add_message(f, m.attribute_proto, p, "attribute_proto", c);
      case 12:
        return add_message(f, m.value_info, p, "value_info", c);
      case 13:
        return get(f, m.overload, m, p.child("overload"));
      case 14:
        return add_message(f, m.metadata_props, p, "metadata_props", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, TrainingInfo& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return merge_message(f, m.initialization, p, "initialization", c);
      case 2:
        return merge_message(f, m.algorithm, p, "algorithm", c);
      case 3:
        return add_message(f, m.initialization_binding, p, "initialization_binding", c);
      case 4:
        return add_message(f, m.update_binding, p, "update_binding", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

inline Status parse(std::span<const std::byte> b, Model& m, const Path& p, ParseCtx& c) {
  return for_each_field(b, p, c, [&](const Field& f) -> Status {
    switch (f.number) {
      case 1:
        return get(f, m.ir_version, m, p.child("ir_version"));
      case 2:
        return get(f, m.producer_name, m, p.child("producer_name"));
      case 3:
        return get(f, m.producer_version, m, p.child("producer_version"));
      case 4:
        return get(f, m.domain, m, p.child("domain"));
      case 5:
        return get(f, m.model_version, m, p.child("model_version"));
      case 6:
        return get(f, m.doc_string, m, p.child("doc_string"));
      case 7:
        return merge_message(f, m.graph, p, "graph", c);
      case 8:
        return add_message(f, m.opset_import, p, "opset_import", c);
      case 14:
        return add_message(f, m.metadata_props, p, "metadata_props", c);
      case 20:
        return add_message(f, m.training_info, p, "training_info", c);
      case 25:
        return add_message(f, m.functions, p, "functions", c);
      default:
        return keep_unknown(f, m.unknown);
    }
  });
}

}  // namespace detail

// Parses a serialized ModelProto. Raw tensor payloads are views into `bytes`,
// kept alive by `owner` (pass the MappedFile's owner, or nullptr when the
// caller keeps the bytes alive). External data is not loaded here
// (external_data.hpp). Errors name the field path and the byte offset.
inline Expected<Model> parse_model(std::span<const std::byte> bytes,
                                   std::shared_ptr<const void> owner = nullptr,
                                   const ParseOptions& opt = {}, std::string_view name = {}) {
  detail::ParseCtx c;
  c.base = bytes.data();
  c.owner = std::move(owner);
  c.max_depth = opt.max_depth;
  Model m;
  const pb::Path root;
  if (auto s = detail::parse(bytes, m, root, c); !s) return std::move(s).error().in_file(name);
  return m;
}

// Parses one serialized message of another type (a TensorProto file, a GraphProto...).
template <class M>
Expected<M> parse_message(std::span<const std::byte> bytes,
                          std::shared_ptr<const void> owner = nullptr,
                          const ParseOptions& opt = {}) {
  detail::ParseCtx c;
  c.base = bytes.data();
  c.owner = std::move(owner);
  c.max_depth = opt.max_depth;
  M m;
  const pb::Path root;
  EDGEQUANT_TRY(detail::parse(bytes, m, root, c));
  return m;
}

}  // namespace edgequant::onnx
