// GGUF printing for `inspect`: the text report and the JSON document whose
// schema docs/gguf.md fixes ("edgequant.inspect/1").
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include "cli/common.hpp"
#include "edgequant/formats/gguf.hpp"

namespace eqcli {

struct InspectOptions {
  bool json = false;
  bool tensors = false;
  bool full = false;  // every array element, not the first kSummaryItems
};

namespace gguf_print {

namespace gg = edgequant::gguf;

inline constexpr std::uint64_t kSummaryItems = 16;  // JSON (and 8 in text) unless --full

// Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

inline std::string hex(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string o;
  o.reserve(s.size() * 2);
  for (unsigned char c : s) {
    o += kHex[c >> 4];
    o += kHex[c & 15];
  }
  return o;
}

// A JSON string, or {"hex": "..."} when the bytes are not valid UTF-8.
inline std::string json_string(std::string_view s) {
  if (!valid_utf8(s)) return "{\"hex\": \"" + hex(s) + "\"}";
  return "\"" + json_escape(s) + "\"";
}

// Shortest decimal that reads back to the same float/double; non-finite
// values (not representable in JSON) as the strings "nan", "inf", "-inf".
template <class F>
std::string json_float(F v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

inline std::string scalar_json(const gg::ValueView& v) {
  using T = gg::Type;
  switch (v.type()) {
    case T::kUint8:
      return std::to_string(v.scalar<std::uint8_t>());
    case T::kInt8:
      return std::to_string(v.scalar<std::int8_t>());
    case T::kUint16:
      return std::to_string(v.scalar<std::uint16_t>());
    case T::kInt16:
      return std::to_string(v.scalar<std::int16_t>());
    case T::kUint32:
      return std::to_string(v.scalar<std::uint32_t>());
    case T::kInt32:
      return std::to_string(v.scalar<std::int32_t>());
    case T::kUint64:
      return std::to_string(v.scalar<std::uint64_t>());
    case T::kInt64:
      return std::to_string(v.scalar<std::int64_t>());
    case T::kFloat32:
      return json_float(v.scalar<float>());
    case T::kFloat64:
      return json_float(v.scalar<double>());
    case T::kBool:
      return v.scalar<bool>() ? "true" : "false";
    case T::kString:
      return json_string(v.string());
    case T::kArray:
      break;
  }
  return "null";
}

// "element_type", "count", "value" (and "truncated") of an array.
inline void array_json(std::string& o, const gg::ArrayView& a, bool full) {
  o += "\"element_type\": \"" + std::string(gg::type_name(a.element_type())) +
       "\", \"count\": " + std::to_string(a.size()) + ", \"value\": [";
  const std::uint64_t shown = full ? a.size() : std::min(a.size(), kSummaryItems);
  std::uint64_t i = 0;
  for (gg::ValueView e : a) {
    if (i == shown) break;
    if (i) o += ", ";
    if (e.type() == gg::Type::kArray) {
      o += "{";
      array_json(o, e.array(), full);
      o += "}";
    } else {
      o += scalar_json(e);
    }
    ++i;
  }
  o += "]";
  if (shown < a.size()) o += ", \"truncated\": true";
}

inline std::string shape_json(const gg::TensorInfo& t) {
  std::string o = "[";
  for (std::uint32_t d = 0; d < t.n_dims; ++d) o += (d ? ", " : "") + std::to_string(t.ne[d]);
  return o + "]";
}

template <class R>
std::string json(const R& r, const std::string& file, const InspectOptions& opt) {
  std::string o = "{\n  \"schema\": \"edgequant.inspect/1\",\n  \"format\": \"gguf\",\n";
  o += "  \"file\": " + json_string(file) + ",\n";
  o += "  \"file_size\": " + std::to_string(r.file_size()) + ",\n";
  o += "  \"version\": " + std::to_string(r.version()) + ",\n";
  o += "  \"alignment\": " + std::to_string(r.alignment()) + ",\n";
  o += "  \"metadata_size\": " + std::to_string(r.metadata_end()) + ",\n";
  o += "  \"data_offset\": " + std::to_string(r.data_offset()) + ",\n";
  o += "  \"kv_count\": " + std::to_string(r.metadata().size()) + ",\n";
  o += "  \"tensor_count\": " + std::to_string(r.tensors().size()) + ",\n";
  std::uint64_t data = 0;
  std::map<std::string, std::uint64_t> types;
  for (const auto& t : r.tensors()) {
    data += t.nbytes;
    ++types[std::string(edgequant::ggml_type_name(t.type))];
  }
  o += "  \"tensor_bytes\": " + std::to_string(data) + ",\n";
  o += "  \"tensor_types\": {";
  bool first = true;
  for (const auto& [name, n] : types) {
    o += (first ? "" : ", ") + ("\"" + name + "\": ") + std::to_string(n);
    first = false;
  }
  o += "},\n  \"metadata\": [";
  first = true;
  for (const gg::KeyValue& kv : r.metadata()) {
    o += first ? "\n    {" : ",\n    {";
    first = false;
    o += "\"key\": " + json_string(kv.key) + ", \"type\": \"" +
         std::string(gg::type_name(kv.value.type())) + "\", ";
    if (kv.value.type() == gg::Type::kArray) {
      array_json(o, kv.value.array(), opt.full);
    } else {
      o += "\"value\": " + scalar_json(kv.value);
    }
    o += "}";
  }
  o += first ? "]" : "\n  ]";
  if (opt.tensors) {
    o += ",\n  \"tensors\": [";
    first = true;
    for (const auto& t : r.tensors()) {
      o += first ? "\n    {" : ",\n    {";
      first = false;
      o += "\"name\": " + json_string(t.name) + ", \"type\": \"" +
           std::string(edgequant::ggml_type_name(t.type)) +
           "\", \"type_id\": " + std::to_string(static_cast<std::uint32_t>(t.type)) +
           ", \"shape\": " + shape_json(t) + ", \"offset\": " + std::to_string(t.offset) +
           ", \"file_offset\": " + std::to_string(r.data_offset() + t.offset) +
           ", \"bytes\": " + std::to_string(t.nbytes) + "}";
    }
    o += first ? "]" : "\n  ]";
  }
  o += "\n}\n";
  return o;
}

// --- text report

// Printable form of file bytes: valid UTF-8 as is, control bytes escaped.
inline std::string text_string(std::string_view s, std::size_t max = 120) {
  std::string o = "\"";
  const bool utf8 = valid_utf8(s);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (o.size() > max) {
      o += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c == '\n') {
      o += "\\n";
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      o += "\\x" + hex(std::string_view(s.data() + i, 1));
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

inline std::string scalar_text(const gg::ValueView& v) {
  if (v.type() == gg::Type::kString) return text_string(v.string());
  return scalar_json(v);
}

inline std::string array_text(const gg::ArrayView& a, bool full) {
  const std::uint64_t shown = full ? a.size() : std::min<std::uint64_t>(a.size(), 8);
  std::string o = "[";
  std::uint64_t i = 0;
  for (gg::ValueView e : a) {
    if (i == shown) break;
    if (i) o += ", ";
    o += e.type() == gg::Type::kArray
             ? "arr[" + std::string(gg::type_name(e.array().element_type())) + "] x " +
                   std::to_string(e.array().size()) + " " + array_text(e.array(), full)
             : scalar_text(e);
    ++i;
  }
  if (shown < a.size())
    o += ", ... (" + std::to_string(a.size() - shown) + " more; --full shows all)";
  return o + "]";
}

template <class R>
std::string text(const R& r, const std::string& file, const InspectOptions& opt) {
  std::string o;
  char line[512];
  std::uint64_t data = 0;
  std::map<std::string, std::uint64_t> types;
  for (const auto& t : r.tensors()) {
    data += t.nbytes;
    ++types[std::string(edgequant::ggml_type_name(t.type))];
  }
  std::snprintf(line, sizeof line,
                "%s: GGUF v%u, %llu bytes, alignment %llu, data at offset %llu\n", file.c_str(),
                r.version(), static_cast<unsigned long long>(r.file_size()),
                static_cast<unsigned long long>(r.alignment()),
                static_cast<unsigned long long>(r.data_offset()));
  o += line;
  o += "metadata: " + std::to_string(r.metadata().size()) + " keys\n";
  std::size_t w = 8;
  for (const auto& kv : r.metadata()) w = std::max(w, std::min<std::size_t>(kv.key.size(), 48));
  for (const gg::KeyValue& kv : r.metadata()) {
    std::string type(gg::type_name(kv.value.type())), value;
    if (kv.value.type() == gg::Type::kArray) {
      const auto a = kv.value.array();
      type =
          "arr[" + std::string(gg::type_name(a.element_type())) + "] x " + std::to_string(a.size());
      value = array_text(a, opt.full);
    } else {
      value = scalar_text(kv.value);
    }
    const std::string key = text_string(kv.key, 200);
    o += "  " + key.substr(1, key.size() - 2) +
         std::string(w > kv.key.size() ? w - kv.key.size() : 0, ' ') + "  " + type + "  " + value +
         "\n";
  }
  o += "tensors: " + std::to_string(r.tensors().size()) + " (" + std::to_string(data) +
       " bytes of data";
  for (const auto& [name, n] : types) o += ", " + name + " x" + std::to_string(n);
  o += ")\n";
  if (opt.tensors && !r.tensors().empty()) {
    std::size_t nw = 4;
    for (const auto& t : r.tensors()) nw = std::max(nw, t.name.size());
    std::snprintf(line, sizeof line, "  %5s  %-*s  %-7s  %-24s %12s %12s\n", "#",
                  static_cast<int>(nw), "name", "type", "shape", "offset", "bytes");
    o += line;
    std::size_t i = 0;
    for (const auto& t : r.tensors()) {
      std::string shape;
      for (std::uint32_t d = 0; d < t.n_dims; ++d)
        shape += (d ? " x " : "") + std::to_string(t.ne[d]);
      const std::string name = text_string(t.name, 200);
      std::snprintf(line, sizeof line, "  %5zu  %-*s  %-7s  %-24s %12llu %12llu\n", i++,
                    static_cast<int>(nw), name.substr(1, name.size() - 2).c_str(),
                    std::string(edgequant::ggml_type_name(t.type)).c_str(), shape.c_str(),
                    static_cast<unsigned long long>(t.offset),
                    static_cast<unsigned long long>(t.nbytes));
      o += line;
    }
  }
  return o;
}

}  // namespace gguf_print
}  // namespace eqcli
