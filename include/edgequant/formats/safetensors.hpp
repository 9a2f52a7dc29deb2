// safetensors reader (mmap, zero-copy views, every rule of the reference
// reader) and streaming writer (reference or MLX header layout); specs/safetensors.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/core/tensor_view.hpp"
#include "edgequant/formats/json.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace edgequant::safetensors {

// ------------------------------------------------------------------ dtypes --
// In the reference crate's enum order (§1.3): the writer sorts by this order,
// descending, so keep it exactly.
enum class Dtype : std::uint8_t {
  kBool,
  kF4,
  kF6E2M3,
  kF6E3M2,
  kU8,
  kI8,
  kF8E5M2,
  kF8E4M3,
  kF8E8M0,
  kF8E4M3Fnuz,
  kF8E5M2Fnuz,
  kI16,
  kU16,
  kF16,
  kBF16,
  kI32,
  kU32,
  kF32,
  kC64,
  kF64,
  kI64,
  kU64,
};
inline constexpr std::size_t kDtypeCount = 22;

namespace detail {
struct DtypeEntry {
  std::string_view name;
  unsigned bits;
};
// §2: the header strings (case-sensitive) and element sizes in bits.
inline constexpr std::array<DtypeEntry, kDtypeCount> kDtypes = {{
    {"BOOL", 8},        {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},          {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},    {"U16", 16},    {"F16", 16},    {"BF16", 16},
    {"I32", 32},        {"U32", 32},    {"F32", 32},    {"C64", 64},    {"F64", 64},
    {"I64", 64},        {"U64", 64},
}};
}  // namespace detail

constexpr std::string_view dtype_name(Dtype d) noexcept {
  return detail::kDtypes[static_cast<std::size_t>(d)].name;
}
// Bits per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64.
constexpr unsigned dtype_bits(Dtype d) noexcept {
  return detail::kDtypes[static_cast<std::size_t>(d)].bits;
}
constexpr std::optional<Dtype> parse_dtype(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kDtypeCount; ++i) {
    if (detail::kDtypes[i].name == s) return static_cast<Dtype>(i);
  }
  return std::nullopt;
}

// Byte size of `shape` elements of `d`; nullopt on overflow or when the bit
// count is not a whole number of bytes (the reference's MisalignedSlice).
inline std::optional<std::uint64_t> tensor_nbytes(Dtype d, std::span<const std::uint64_t> shape) {
  const auto n = checked_product<std::uint64_t>(shape);
  if (!n) return std::nullopt;
  const auto bits = checked_mul<std::uint64_t>(*n, dtype_bits(d));
  if (!bits || *bits % 8 != 0) return std::nullopt;
  return *bits / 8;
}

// ------------------------------------------------------------------ header --
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<std::uint64_t> shape;  // outermost first; [] is a scalar
  std::uint64_t begin = 0;           // data_offsets, relative to the data buffer
  std::uint64_t end = 0;
  std::uint64_t header_offset = 0;  // file offset of the entry's name (diagnostics)

  std::uint64_t nbytes() const noexcept { return end - begin; }
  // Element count. Validated not to overflow for tensors from a reader.
  std::uint64_t numel() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

// `__metadata__`: absent, JSON null (MLX writes that), or a string map whose
// entries keep their header order.
struct Metadata {
  enum class Form : std::uint8_t { kAbsent, kNull, kObject };
  Form form = Form::kAbsent;
  std::vector<std::pair<std::string, std::string>> entries;

  static Metadata of(std::vector<std::pair<std::string, std::string>> e) {
    return Metadata{Form::kObject, std::move(e)};
  }
  const std::string* find(std::string_view key) const noexcept {
    for (const auto& [k, v] : entries) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  bool empty() const noexcept { return entries.empty(); }
};

// Reader limits. The header cap is the reference's (§3 rule 2: N == 1e8 is
// still accepted); the others bound parse time and memory on hostile headers
// (§3.1). max_depth is serde_json's recursion limit.
struct Limits {
  std::uint64_t max_header_bytes = 100'000'000;
  std::size_t max_tensors = std::size_t{1} << 20;
  std::size_t max_rank = 64;
  std::size_t max_metadata_entries = std::size_t{1} << 20;
  std::size_t max_depth = 128;
};

struct Header {
  std::uint64_t header_len = 0;     // N
  std::uint64_t data_offset = 0;    // 8 + N: file offset of the data buffer
  std::uint64_t data_size = 0;      // bytes of tensor data (= file size - 8 - N)
  std::vector<TensorInfo> tensors;  // in data order (sorted by data_offsets)
  Metadata metadata;
  std::vector<std::uint32_t> by_name;  // indices into tensors, sorted by name

  const TensorInfo* find(std::string_view name) const noexcept {
    auto it = std::lower_bound(
        by_name.begin(), by_name.end(), name,
        [&](std::uint32_t i, std::string_view n) { return std::string_view(tensors[i].name) < n; });
    if (it == by_name.end() || tensors[*it].name != name) return nullptr;
    return &tensors[*it];
  }
};

namespace detail {

// Streaming SAX handler for the header: builds TensorInfo/Metadata directly,
// rejects what serde would reject (types, missing/duplicate fields, arity),
// and records the byte offset of each rejection.
struct HeaderSax : edgequant::detail::SaxBase {
  enum class St : std::uint8_t {
    kTop,
    kTopObject,
    kMetaValue,
    kMetaObject,
    kMetaString,
    kEntry,
    kEntryObject,
    kDtype,
    kShapeStart,
    kShape,
    kOffsetsStart,
    kOffsets,
    kSkip,
    kDone,
  };
  static constexpr unsigned kHasDtype = 1, kHasShape = 2, kHasOffsets = 4;

  const Limits* limits = nullptr;
  std::vector<TensorInfo>* tensors = nullptr;
  Metadata* meta = nullptr;
  St st = St::kTop;
  std::size_t depth = 0;
  std::size_t skip_depth = 0;
  unsigned fields = 0;
  unsigned n_offsets = 0;
  bool seen_meta = false;
  std::unordered_set<std::string> meta_keys;

  std::string cur_name() const {
    return tensors->empty() ? std::string() : "\"" + tensors->back().name + "\"";
  }
  // File offset of the opening quote of the key just read: the lexer has
  // consumed up to the closing quote; walk back over the (valid) string.
  std::uint64_t key_start() const {
    const char* q = cursor - 1;
    if (q < begin || *q != '"') return here();
    const char* p = q;
    while (p > begin) {
      --p;
      if (*p != '"') continue;
      std::size_t bs = 0;
      for (const char* b = p; b > begin && b[-1] == '\\'; --b) ++bs;
      if (bs % 2 == 0) break;
    }
    return base_offset + static_cast<std::uint64_t>(p - begin);
  }

  bool type_error() {
    switch (st) {
      case St::kTop:
        return fail(Errc::kTypeMismatch, "header is not a JSON object");
      case St::kMetaValue:
        return fail(Errc::kTypeMismatch, "__metadata__ must be an object of strings (or null)");
      case St::kMetaString:
        return fail(Errc::kTypeMismatch,
                    "__metadata__ value of \"" + meta->entries.back().first + "\" is not a string");
      case St::kEntry:
        return fail(Errc::kTypeMismatch, "entry of tensor " + cur_name() + " is not an object");
      case St::kDtype:
        return fail(Errc::kTypeMismatch, "dtype of tensor " + cur_name() + " is not a string");
      case St::kShapeStart:
        return fail(Errc::kTypeMismatch, "shape of tensor " + cur_name() + " is not an array");
      case St::kShape:
        return fail(Errc::kTypeMismatch, "shape of tensor " + cur_name() +
                                             " holds a value that is not an unsigned integer");
      case St::kOffsetsStart:
        return fail(Errc::kTypeMismatch,
                    "data_offsets of tensor " + cur_name() + " is not an array");
      case St::kOffsets:
        return fail(Errc::kTypeMismatch, "data_offsets of tensor " + cur_name() +
                                             " holds a value that is not an unsigned integer");
      default:
        return fail(Errc::kInvalid, "unexpected JSON value in header");
    }
  }
  bool scalar_in_skip() {
    if (skip_depth == 0) st = St::kEntryObject;
    return true;
  }
  bool enter() {
    if (++depth > limits->max_depth) return fail(Errc::kLimit, "header JSON nested too deeply");
    return true;
  }

  bool null() {
    if (st == St::kSkip) return scalar_in_skip();
    if (st == St::kMetaValue) {
      meta->form = Metadata::Form::kNull;
      st = St::kTopObject;
      return true;
    }
    return type_error();
  }
  bool boolean(bool) { return st == St::kSkip ? scalar_in_skip() : type_error(); }
  bool number_integer(std::int64_t) {
    if (st == St::kSkip) return scalar_in_skip();
    cursor_fix();
    return type_error();
  }
  bool number_float(double, const std::string&) {
    if (st == St::kSkip) return scalar_in_skip();
    cursor_fix();
    return type_error();
  }
  // Points errors about a number just past it (see after_number()).
  void cursor_fix() { cursor = begin + (after_number() - base_offset); }
  bool number_unsigned(std::uint64_t v) {
    if (st == St::kSkip) return scalar_in_skip();
    if (st == St::kShape) {
      auto& shape = tensors->back().shape;
      if (shape.size() >= limits->max_rank) {
        cursor_fix();
        return fail(Errc::kLimit, "tensor " + cur_name() + " has more than " +
                                      std::to_string(limits->max_rank) + " dimensions");
      }
      shape.push_back(v);
      return true;
    }
    if (st == St::kOffsets) {
      if (n_offsets >= 2) {
        cursor_fix();
        return fail(Errc::kInvalid,
                    "data_offsets of tensor " + cur_name() + " has more than 2 entries");
      }
      (n_offsets == 0 ? tensors->back().begin : tensors->back().end) = v;
      ++n_offsets;
      return true;
    }
    cursor_fix();
    return type_error();
  }
  bool string(std::string& s) {
    if (st == St::kSkip) return scalar_in_skip();
    if (st == St::kDtype) {
      const auto d = parse_dtype(s);
      if (!d) {
        return fail(Errc::kUnsupported,
                    "tensor " + cur_name() + " has unknown dtype \"" + s + "\"");
      }
      tensors->back().dtype = *d;
      st = St::kEntryObject;
      return true;
    }
    if (st == St::kMetaString) {
      meta->entries.back().second = std::move(s);
      st = St::kMetaObject;
      return true;
    }
    return type_error();
  }
  bool start_object(std::size_t) {
    if (!enter()) return false;
    switch (st) {
      case St::kTop:
        st = St::kTopObject;
        return true;
      case St::kMetaValue:
        meta->form = Metadata::Form::kObject;
        st = St::kMetaObject;
        return true;
      case St::kEntry:
        st = St::kEntryObject;
        fields = 0;
        return true;
      case St::kSkip:
        ++skip_depth;
        return true;
      default:
        return type_error();
    }
  }
  bool key(std::string& k) {
    switch (st) {
      case St::kTopObject:
        if (k == "__metadata__") {
          if (seen_meta) return fail(Errc::kInvalid, "duplicate key \"__metadata__\"", key_start());
          seen_meta = true;
          st = St::kMetaValue;
          return true;
        }
        if (tensors->size() >= limits->max_tensors) {
          return fail(Errc::kLimit, "more than " + std::to_string(limits->max_tensors) +
                                        " tensors in the header");
        }
        tensors->emplace_back();
        tensors->back().name = std::move(k);
        tensors->back().header_offset = key_start();
        st = St::kEntry;
        return true;
      case St::kMetaObject:
        if (meta->entries.size() >= limits->max_metadata_entries) {
          return fail(Errc::kLimit, "too many __metadata__ entries");
        }
        if (!meta_keys.insert(k).second) {
          return fail(Errc::kInvalid, "duplicate __metadata__ key \"" + k + "\"", key_start());
        }
        meta->entries.emplace_back(std::move(k), std::string());
        st = St::kMetaString;
        return true;
      case St::kEntryObject: {
        unsigned bit = 0;
        St next = St::kSkip;
        if (k == "dtype") {
          bit = kHasDtype;
          next = St::kDtype;
        } else if (k == "shape") {
          bit = kHasShape;
          next = St::kShapeStart;
        } else if (k == "data_offsets") {
          bit = kHasOffsets;
          next = St::kOffsetsStart;
        }
        if (bit != 0) {
          if (fields & bit) {
            return fail(Errc::kInvalid,
                        "tensor " + cur_name() + " has a duplicate field \"" + k + "\"",
                        key_start());
          }
          fields |= bit;
        } else {
          skip_depth = 0;  // unknown fields are ignored, as serde does
        }
        st = next;
        return true;
      }
      case St::kSkip:
        return true;
      default:
        return fail(Errc::kInvalid, "unexpected key in header");
    }
  }
  bool end_object() {
    --depth;
    switch (st) {
      case St::kTopObject:
        st = St::kDone;
        return true;
      case St::kMetaObject:
        st = St::kTopObject;
        return true;
      case St::kEntryObject:
        if (fields != (kHasDtype | kHasShape | kHasOffsets)) {
          const char* missing = !(fields & kHasDtype)   ? "dtype"
                                : !(fields & kHasShape) ? "shape"
                                                        : "data_offsets";
          return fail(Errc::kInvalid,
                      "tensor " + cur_name() + " has no \"" + std::string(missing) + "\" field",
                      tensors->back().header_offset);
        }
        st = St::kTopObject;
        return true;
      case St::kSkip:
        if (--skip_depth == 0) st = St::kEntryObject;
        return true;
      default:
        return fail(Errc::kInvalid, "unexpected end of object in header");
    }
  }
  bool start_array(std::size_t) {
    if (!enter()) return false;
    switch (st) {
      case St::kShapeStart:
        st = St::kShape;
        return true;
      case St::kOffsetsStart:
        st = St::kOffsets;
        n_offsets = 0;
        return true;
      case St::kSkip:
        ++skip_depth;
        return true;
      default:
        return type_error();
    }
  }
  bool end_array() {
    --depth;
    switch (st) {
      case St::kShape:
        st = St::kEntryObject;
        return true;
      case St::kOffsets:
        if (n_offsets != 2) {
          return fail(Errc::kInvalid,
                      "data_offsets of tensor " + cur_name() + " has fewer than 2 entries");
        }
        st = St::kEntryObject;
        return true;
      case St::kSkip:
        if (--skip_depth == 0) st = St::kEntryObject;
        return true;
      default:
        return fail(Errc::kInvalid, "unexpected end of array in header");
    }
  }
};

}  // namespace detail

// Parses and validates a whole safetensors file held in `bytes` (a mapping of
// the file). Enforces, in the reference reader's order (§3), then §3.1:
//  1 file ≥ 8 bytes                       kTruncated  @0
//  2 N ≤ limits.max_header_bytes (1e8)    kLimit      @0
//  3 8 + N ≤ file size                    kTruncated  @0
//  4 header is UTF-8 (no BOM)             kInvalid    @bad byte
//  5 JSON object of tensor entries + optional __metadata__ string map:
//    syntax kInvalid; wrong types kTypeMismatch; unknown dtype kUnsupported;
//    missing/duplicate field, data_offsets arity, duplicate names kInvalid;
//    counts/rank/depth kLimit                                 @the JSON byte
//  6 walking tensors sorted by offsets: BEGIN == previous END (no hole, no
//    overlap, first at 0) and END ≥ BEGIN kInvalid; element/bit count overflow
//    kOverflow; bits % 8 kInvalid; END-BEGIN == size kInvalid   @entry name
//  7 data ends exactly at EOF: short kTruncated @EOF, trailing kInvalid @junk
inline Expected<Header> parse_header(std::span<const std::byte> bytes, const Limits& limits = {},
                                     const std::string& file = {}) {
  const std::uint64_t size = bytes.size();
  if (size < 8) {
    return make_error(
        Errc::kTruncated,
        "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length", 0,
        file);
  }
  Header h;
  h.header_len = load_le<std::uint64_t>(bytes.data());
  if (h.header_len > limits.max_header_bytes) {
    return make_error(Errc::kLimit,
                      "header length " + std::to_string(h.header_len) + " exceeds the limit of " +
                          std::to_string(limits.max_header_bytes) + " bytes",
                      0, file);
  }
  if (!range_within(8, h.header_len, size)) {
    return make_error(Errc::kTruncated,
                      "header length " + std::to_string(h.header_len) +
                          " runs past the end of the " + std::to_string(size) + "-byte file",
                      0, file);
  }
  h.data_offset = 8 + h.header_len;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8,
                              static_cast<std::size_t>(h.header_len));
  if (const auto bad = edgequant::detail::first_invalid_utf8(text); bad != std::string_view::npos) {
    return make_error(Errc::kInvalid, "header is not valid UTF-8", 8 + bad, file);
  }
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    return make_error(Errc::kInvalid, "header starts with a UTF-8 byte-order mark", 8, file);
  }

  detail::HeaderSax sax;
  sax.begin = text.data();
  sax.base_offset = 8;
  sax.limits = &limits;
  sax.tensors = &h.tensors;
  sax.meta = &h.metadata;
  EDGEQUANT_TRY(edgequant::detail::run_sax(text, sax, 8, file));
  if (sax.st != detail::HeaderSax::St::kDone) {
    return make_error(Errc::kTypeMismatch, "header is not a JSON object", 8, file);
  }

  auto& ts = h.tensors;
  // Duplicate names (§3.1): serde would keep the last one silently.
  h.by_name.resize(ts.size());
  for (std::uint32_t i = 0; i < ts.size(); ++i) h.by_name[i] = i;
  std::sort(h.by_name.begin(), h.by_name.end(),
            [&](std::uint32_t a, std::uint32_t b) { return ts[a].name < ts[b].name; });
  for (std::size_t i = 1; i < h.by_name.size(); ++i) {
    const auto& a = ts[h.by_name[i - 1]];
    const auto& b = ts[h.by_name[i]];
    if (a.name == b.name) {
      return make_error(Errc::kInvalid, "duplicate tensor name \"" + b.name + "\"",
                        std::max(a.header_offset, b.header_offset), file);
    }
  }

  // Rule 6: the reader sorts by (begin, end); names break ties deterministically.
  std::sort(ts.begin(), ts.end(), [](const TensorInfo& a, const TensorInfo& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  std::uint64_t start = 0;
  for (const auto& t : ts) {
    if (t.begin != start || t.end < t.begin) {
      std::string why = t.end < t.begin ? "ends before it begins"
                        : t.begin > start
                            ? "leaves a hole: it begins at " + std::to_string(t.begin) +
                                  " where the previous tensor ended at " + std::to_string(start)
                            : "overlaps the previous tensor: it begins at " +
                                  std::to_string(t.begin) + ", before " + std::to_string(start);
      return make_error(Errc::kInvalid,
                        "tensor \"" + t.name + "\" has invalid data_offsets [" +
                            std::to_string(t.begin) + ", " + std::to_string(t.end) + "]: " + why,
                        t.header_offset, file);
    }
    start = t.end;
    const auto n = checked_product<std::uint64_t>(t.shape);
    const auto bits = n ? checked_mul<std::uint64_t>(*n, dtype_bits(t.dtype)) : std::nullopt;
    if (!bits) {
      return make_error(Errc::kOverflow, "tensor \"" + t.name + "\": element count overflows",
                        t.header_offset, file);
    }
    if (*bits % 8 != 0) {
      return make_error(Errc::kInvalid,
                        "tensor \"" + t.name + "\": " + std::to_string(*n) + " elements of " +
                            std::string(dtype_name(t.dtype)) + " are not a whole number of bytes",
                        t.header_offset, file);
    }
    if (t.end - t.begin != *bits / 8) {
      return make_error(Errc::kInvalid,
                        "tensor \"" + t.name + "\": data_offsets span " +
                            std::to_string(t.end - t.begin) + " bytes, but " +
                            std::string(dtype_name(t.dtype)) + " with this shape needs " +
                            std::to_string(*bits / 8),
                        t.header_offset, file);
    }
  }
  // Rule 7: the data buffer is covered exactly (no truncation, no polyglot tail).
  const std::uint64_t avail = size - h.data_offset;
  if (start > avail) {
    return make_error(Errc::kTruncated,
                      "tensor data needs " + std::to_string(start) +
                          " bytes after the header, file has " + std::to_string(avail),
                      size, file);
  }
  if (start < avail) {
    return make_error(Errc::kInvalid,
                      std::to_string(avail - start) + " trailing bytes after the last tensor",
                      h.data_offset + start, file);
  }
  h.data_size = start;
  // by_name held indices into the unsorted vector: rebuild it.
  for (std::uint32_t i = 0; i < ts.size(); ++i) h.by_name[i] = i;
  std::sort(h.by_name.begin(), h.by_name.end(),
            [&](std::uint32_t a, std::uint32_t b) { return ts[a].name < ts[b].name; });
  return h;
}

namespace detail {
template <class T>
constexpr bool view_compatible(Dtype d) noexcept {
  if (dtype_bits(d) != sizeof(T) * 8) return false;
  if constexpr (std::is_same_v<T, float>) {
    return d == Dtype::kF32;
  } else if constexpr (std::is_same_v<T, double>) {
    return d == Dtype::kF64;
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return d == Dtype::kI8 || d == Dtype::kI16 || d == Dtype::kI32 || d == Dtype::kI64;
  } else if constexpr (std::is_integral_v<T>) {
    // Unsigned words view the raw bits of any non-signed, non-IEEE-32/64 type
    // of that width (U*, BOOL, F16/BF16 bits, FP8 codes).
    return d != Dtype::kI8 && d != Dtype::kI16 && d != Dtype::kI32 && d != Dtype::kI64 &&
           d != Dtype::kF32 && d != Dtype::kF64 && d != Dtype::kC64;
  } else {
    return false;
  }
}
}  // namespace detail

// A validated safetensors file, memory-mapped. Tensor bytes are zero-copy
// spans into the mapping; they live as long as the File.
// Note: a file truncated by another process after open() makes later reads
// fault (SIGBUS); that cannot be checked in advance (§3.1).
class File {
 public:
  static Expected<File> open(const std::string& path, const Limits& limits = {},
                             MappedFile::Mode mode = MappedFile::Mode::kAuto) {
    auto m = MappedFile::open(path, mode);
    if (!m) return std::move(m).error();
    return from_mapped(std::move(*m), limits);
  }
  static Expected<File> from_mapped(MappedFile m, const Limits& limits = {}) {
    auto h = parse_header(m.bytes(), limits, m.path());
    if (!h) return std::move(h).error();
    File f;
    f.map_ = std::move(m);
    f.header_ = std::move(*h);
    return f;
  }

  const Header& header() const noexcept { return header_; }
  std::span<const TensorInfo> tensors() const noexcept { return header_.tensors; }
  const Metadata& metadata() const noexcept { return header_.metadata; }
  const TensorInfo* find(std::string_view name) const noexcept { return header_.find(name); }
  const std::string& path() const noexcept { return map_.path(); }
  const MappedFile& mapped() const noexcept { return map_; }
  std::uint64_t file_size() const noexcept { return map_.size(); }

  // The tensor's bytes (little-endian, C order). Precondition: `t` is one of
  // this file's tensors.
  std::span<const std::byte> data(const TensorInfo& t) const noexcept {
    return map_.bytes().subspan(static_cast<std::size_t>(header_.data_offset + t.begin),
                                static_cast<std::size_t>(t.nbytes()));
  }
  Expected<std::span<const std::byte>> data(std::string_view name) const {
    const TensorInfo* t = find(name);
    if (!t)
      return make_error(Errc::kNotFound, "no tensor \"" + std::string(name) + "\"", kNoOffset,
                        path());
    return data(*t);
  }

  // Done with `t`: its whole pages leave the resident set (see
  // MappedFile::release_range). Spans into `t` stay valid; touching them
  // reads the file again.
  void release(const TensorInfo& t) const noexcept {
    map_.release_range(header_.data_offset + t.begin, t.nbytes());
  }

  // Typed zero-copy view. Fails (kTypeMismatch) when T does not match the
  // dtype or Rank the shape (a 0-d tensor views as Rank 1, shape [1]), and
  // (kInvalid) when the data is not aligned for T, as in MLX-written files
  // (§6): use data() and memcpy, or decode_to_f32(), for those.
  template <class T, std::size_t Rank>
  Expected<TensorView<const T, Rank>> view(const TensorInfo& t) const {
    if (!detail::view_compatible<T>(t.dtype)) {
      return make_error(Errc::kTypeMismatch,
                        "tensor \"" + t.name + "\" is " + std::string(dtype_name(t.dtype)) +
                            ", not viewable as a " + std::to_string(sizeof(T) * 8) + "-bit element",
                        header_.data_offset + t.begin, path());
    }
    std::array<std::size_t, Rank> sh{};
    if (t.shape.empty() && Rank == 1) {
      sh[0] = 1;
    } else if (t.shape.size() != Rank) {
      return make_error(Errc::kTypeMismatch,
                        "tensor \"" + t.name + "\" has rank " + std::to_string(t.shape.size()) +
                            ", not " + std::to_string(Rank),
                        header_.data_offset + t.begin, path());
    } else {
      for (std::size_t d = 0; d < Rank; ++d) sh[d] = static_cast<std::size_t>(t.shape[d]);
    }
    auto v = TensorView<const T, Rank>::over_bytes(data(t), sh);
    if (!v) {
      Error e = std::move(v).error();
      e.offset = header_.data_offset + t.begin;
      e.what = "tensor \"" + t.name + "\": " + e.what;
      return std::move(e).in_file(path());
    }
    return *v;
  }

 private:
  MappedFile map_;
  Header header_;
};

// Decodes `out.size()` elements of dtype `d` from `src` (C order, little-
// endian, any alignment) to float32. Exact for every float type narrower than
// f32; F64 and 64-bit integers round to nearest. F4 packs element 2k in the
// low nibble (§2). F6_* and C64 are kUnsupported.
inline Status decode_to_f32(Dtype d, std::span<const std::byte> src, std::span<float> out) {
  const std::size_t n = out.size();
  const auto need = checked_mul<std::uint64_t>(n, dtype_bits(d));
  if (!need || (*need + 7) / 8 > src.size()) {
    return make_error(Errc::kBadArgument,
                      "decode_to_f32: source holds fewer than " + std::to_string(n) + " elements");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(src.data());
  auto each = [&](auto load) {
    for (std::size_t i = 0; i < n; ++i) out[i] = load(i);
  };
  switch (d) {
    case Dtype::kF32:
      std::memcpy(out.data(), p, n * 4);
      return {};
    case Dtype::kF16:
      each([&](std::size_t i) { return f16_to_f32(load_le<std::uint16_t>(p + 2 * i)); });
      return {};
    case Dtype::kBF16:
      each([&](std::size_t i) { return bf16_to_f32(load_le<std::uint16_t>(p + 2 * i)); });
      return {};
    case Dtype::kF64:
      each([&](std::size_t i) { return static_cast<float>(load_le<double>(p + 8 * i)); });
      return {};
    case Dtype::kF8E4M3:
      each([&](std::size_t i) { return e4m3fn_to_f32(p[i]); });
      return {};
    case Dtype::kF8E5M2:
      each([&](std::size_t i) { return e5m2_to_f32(p[i]); });
      return {};
    case Dtype::kF8E4M3Fnuz:
      each([&](std::size_t i) { return mini_to_f32(p[i], kE4M3FNUZ); });
      return {};
    case Dtype::kF8E5M2Fnuz:
      each([&](std::size_t i) { return mini_to_f32(p[i], kE5M2FNUZ); });
      return {};
    case Dtype::kF8E8M0:
      each([&](std::size_t i) { return e8m0_to_f32(p[i]); });
      return {};
    case Dtype::kF4:
      each([&](std::size_t i) {
        return e2m1_to_f32(static_cast<std::uint8_t>((p[i / 2] >> (4 * (i % 2))) & 0xF));
      });
      return {};
    case Dtype::kBool:
    case Dtype::kU8:
      each([&](std::size_t i) { return static_cast<float>(p[i]); });
      return {};
    case Dtype::kI8:
      each([&](std::size_t i) { return static_cast<float>(static_cast<std::int8_t>(p[i])); });
      return {};
    case Dtype::kU16:
      each([&](std::size_t i) { return static_cast<float>(load_le<std::uint16_t>(p + 2 * i)); });
      return {};
    case Dtype::kI16:
      each([&](std::size_t i) { return static_cast<float>(load_le<std::int16_t>(p + 2 * i)); });
      return {};
    case Dtype::kU32:
      each([&](std::size_t i) { return static_cast<float>(load_le<std::uint32_t>(p + 4 * i)); });
      return {};
    case Dtype::kI32:
      each([&](std::size_t i) { return static_cast<float>(load_le<std::int32_t>(p + 4 * i)); });
      return {};
    case Dtype::kU64:
      each([&](std::size_t i) { return static_cast<float>(load_le<std::uint64_t>(p + 8 * i)); });
      return {};
    case Dtype::kI64:
      each([&](std::size_t i) { return static_cast<float>(load_le<std::int64_t>(p + 8 * i)); });
      return {};
    case Dtype::kF6E2M3:
    case Dtype::kF6E3M2:
    case Dtype::kC64:
      break;
  }
  return make_error(Errc::kUnsupported,
                    "decode_to_f32: " + std::string(dtype_name(d)) + " has no float32 decoding");
}

// ------------------------------------------------------------------ writer --
struct TensorSpec {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<std::uint64_t> shape;
};

enum class HeaderStyle : std::uint8_t {
  // serde_json compact, __metadata__ first, entries dtype/shape/data_offsets,
  // space-padded to a multiple of 8 (§1.2, §1.3): what safetensors writes.
  kReference,
  // nlohmann dump as mx.save_safetensors writes it: keys sorted byte-wise at
  // every level, entries data_offsets/dtype/shape, "__metadata__":null when
  // absent, no padding (§6).
  kMlx,
};
enum class TensorOrder : std::uint8_t {
  kReference,  // dtype descending in enum order, then name (§1.3)
  kAsGiven,    // the caller's order (to reproduce another writer's layout)
};
struct WriteOptions {
  HeaderStyle style = HeaderStyle::kReference;
  TensorOrder order = TensorOrder::kReference;
  std::uint64_t max_header_bytes = 100'000'000;  // §8 item 6
};

// What a writer will produce: tensors in data order with offsets, and the
// header bytes (without the 8-byte length).
struct Layout {
  std::vector<TensorInfo> tensors;
  std::string header;
  std::uint64_t data_size = 0;
  std::uint64_t file_size() const noexcept { return 8 + header.size() + data_size; }
};

namespace detail {
inline void append_u64(std::string& s, std::uint64_t v) { s += std::to_string(v); }
inline void append_shape(std::string& s, const std::vector<std::uint64_t>& shape) {
  s += '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    append_u64(s, shape[i]);
  }
  s += ']';
}
inline void append_metadata(std::string& s, const Metadata& md, bool sorted) {
  if (md.form != Metadata::Form::kObject) {
    s += "null";
    return;
  }
  std::vector<const std::pair<std::string, std::string>*> e;
  for (const auto& kv : md.entries) e.push_back(&kv);
  if (sorted) std::sort(e.begin(), e.end(), [](auto* a, auto* b) { return a->first < b->first; });
  s += '{';
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (i) s += ',';
    edgequant::detail::append_json_string(s, e[i]->first);
    s += ':';
    edgequant::detail::append_json_string(s, e[i]->second);
  }
  s += '}';
}
}  // namespace detail

// Checks the specs and metadata, orders the tensors, assigns offsets and
// renders the header. Errors are kBadArgument (caller's data) or kLimit.
inline Expected<Layout> plan(std::vector<TensorSpec> specs, const Metadata& md = {},
                             const WriteOptions& opt = {}) {
  using edgequant::detail::first_invalid_utf8;
  for (const auto& [k, v] : md.entries) {
    if (first_invalid_utf8(k) != std::string_view::npos ||
        first_invalid_utf8(v) != std::string_view::npos) {
      return make_error(Errc::kBadArgument, "metadata entry \"" + k + "\" is not valid UTF-8");
    }
  }
  {
    std::vector<std::string_view> keys;
    for (const auto& kv : md.entries) keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
      return make_error(Errc::kBadArgument, "duplicate metadata key");
    }
  }
  if (opt.order == TensorOrder::kReference) {
    std::stable_sort(specs.begin(), specs.end(), [](const TensorSpec& a, const TensorSpec& b) {
      if (a.dtype != b.dtype) return a.dtype > b.dtype;
      return a.name < b.name;
    });
  }
  Layout out;
  out.tensors.reserve(specs.size());
  std::uint64_t offset = 0;
  for (auto& s : specs) {
    if (s.name == "__metadata__") {
      return make_error(Errc::kBadArgument, "a tensor cannot be named __metadata__");
    }
    if (first_invalid_utf8(s.name) != std::string_view::npos) {
      return make_error(Errc::kBadArgument, "tensor name is not valid UTF-8");
    }
    const auto nb = tensor_nbytes(s.dtype, s.shape);
    if (!nb) {
      return make_error(Errc::kBadArgument,
                        "tensor \"" + s.name +
                            "\": shape overflows or is not a whole number of bytes of " +
                            std::string(dtype_name(s.dtype)));
    }
    const auto end = checked_add<std::uint64_t>(offset, *nb);
    if (!end) return make_error(Errc::kOverflow, "total tensor size overflows");
    TensorInfo t;
    t.name = std::move(s.name);
    t.dtype = s.dtype;
    t.shape = std::move(s.shape);
    t.begin = offset;
    t.end = *end;
    offset = *end;
    out.tensors.push_back(std::move(t));
  }
  out.data_size = offset;
  {
    std::vector<std::string_view> names;
    for (const auto& t : out.tensors) names.push_back(t.name);
    std::sort(names.begin(), names.end());
    if (auto it = std::adjacent_find(names.begin(), names.end()); it != names.end()) {
      return make_error(Errc::kBadArgument, "duplicate tensor name \"" + std::string(*it) + "\"");
    }
  }

  std::string& h = out.header;
  h += '{';
  bool first = true;
  auto sep = [&] {
    if (!first) h += ',';
    first = false;
  };
  if (opt.style == HeaderStyle::kReference) {
    if (md.form == Metadata::Form::kObject) {
      sep();
      h += "\"__metadata__\":";
      detail::append_metadata(h, md, false);
    }
    for (const auto& t : out.tensors) {
      sep();
      edgequant::detail::append_json_string(h, t.name);
      h += ":{\"dtype\":\"";
      h += dtype_name(t.dtype);
      h += "\",\"shape\":";
      detail::append_shape(h, t.shape);
      h += ",\"data_offsets\":[";
      detail::append_u64(h, t.begin);
      h += ',';
      detail::append_u64(h, t.end);
      h += "]}";
    }
    h += '}';
    h.append((8 - h.size() % 8) % 8, ' ');
  } else {
    std::vector<const TensorInfo*> keyed;
    for (const auto& t : out.tensors) keyed.push_back(&t);
    std::sort(keyed.begin(), keyed.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->name < b->name; });
    const std::string_view meta_key = "__metadata__";
    bool meta_done = false;
    auto put_meta = [&] {
      sep();
      h += "\"__metadata__\":";
      detail::append_metadata(h, md, true);
      meta_done = true;
    };
    for (const TensorInfo* t : keyed) {
      if (!meta_done && meta_key < std::string_view(t->name)) put_meta();
      sep();
      edgequant::detail::append_json_string(h, t->name);
      h += ":{\"data_offsets\":[";
      detail::append_u64(h, t->begin);
      h += ',';
      detail::append_u64(h, t->end);
      h += "],\"dtype\":\"";
      h += dtype_name(t->dtype);
      h += "\",\"shape\":";
      detail::append_shape(h, t->shape);
      h += '}';
    }
    if (!meta_done) put_meta();
    h += '}';
  }
  if (h.size() > opt.max_header_bytes) {
    return make_error(Errc::kLimit, "header would be " + std::to_string(h.size()) +
                                        " bytes, over the limit of " +
                                        std::to_string(opt.max_header_bytes));
  }
  return out;
}

// Streams one safetensors file into a sink: the header first (computed from
// the tensor specs), then each tensor's bytes, in layout() order, in as many
// write() calls as the caller likes. Nothing is buffered beyond the sink's
// own buffer. The caller commits the sink (AtomicFile) after finish().
template <ByteSink Sink>
class Writer {
 public:
  static Expected<Writer> start(Sink& sink, std::vector<TensorSpec> specs, const Metadata& md = {},
                                const WriteOptions& opt = {}) {
    auto lay = plan(std::move(specs), md, opt);
    if (!lay) return std::move(lay).error();
    return start(sink, std::move(*lay));
  }
  static Expected<Writer> start(Sink& sink, Layout layout) {
    Writer w;
    w.sink_ = &sink;
    w.layout_ = std::move(layout);
    unsigned char n[8];
    store_le<std::uint64_t>(n, w.layout_.header.size());
    EDGEQUANT_TRY(sink.write(std::as_bytes(std::span(n))));
    EDGEQUANT_TRY(sink.write(std::as_bytes(std::span(w.layout_.header))));
    w.skip_empty();
    return w;
  }

  const Layout& layout() const noexcept { return layout_; }
  // The tensor whose bytes come next, or nullptr when all are written.
  const TensorInfo* next() const noexcept {
    return index_ < layout_.tensors.size() ? &layout_.tensors[index_] : nullptr;
  }
  // Appends bytes of the current tensor (a chunk may not cross into the next).
  Status write(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      const TensorInfo* t = next();
      if (!t) return make_error(Errc::kBadArgument, "more data than the tensors declare");
      const std::uint64_t left = t->nbytes() - done_;
      if (bytes.size() > left) {
        return make_error(Errc::kBadArgument, "chunk of " + std::to_string(bytes.size()) +
                                                  " bytes overruns tensor \"" + t->name + "\" (" +
                                                  std::to_string(left) + " bytes left)");
      }
      EDGEQUANT_TRY(sink_->write(bytes));
      done_ += bytes.size();
      bytes = {};
      if (done_ == t->nbytes()) {
        ++index_;
        done_ = 0;
        skip_empty();
      }
    }
    return {};
  }
  // Writes a whole tensor; it must be the next one and the size must match.
  Status write_tensor(std::string_view name, std::span<const std::byte> bytes) {
    if (bytes.empty()) {  // empty tensors take no bytes and are skipped by next()
      for (const auto& e : layout_.tensors) {
        if (e.name == name && e.nbytes() == 0) return {};
      }
    }
    const TensorInfo* t = next();
    if (!t || t->name != name || done_ != 0) {
      return make_error(Errc::kBadArgument, "tensor \"" + std::string(name) +
                                                "\" is not the next one to write" +
                                                (t ? " (expected \"" + t->name + "\")" : ""));
    }
    if (bytes.size() != t->nbytes()) {
      return make_error(Errc::kBadArgument, "tensor \"" + t->name + "\" needs " +
                                                std::to_string(t->nbytes()) + " bytes, got " +
                                                std::to_string(bytes.size()));
    }
    return write(bytes);
  }
  Status finish() {
    if (const TensorInfo* t = next()) {
      return make_error(Errc::kBadArgument,
                        "tensor \"" + t->name + "\" was not written completely");
    }
    return {};
  }

 private:
  void skip_empty() {
    while (index_ < layout_.tensors.size() && layout_.tensors[index_].nbytes() == 0) ++index_;
  }
  Sink* sink_ = nullptr;
  Layout layout_;
  std::size_t index_ = 0;
  std::uint64_t done_ = 0;
};

// A tensor held in memory, for the one-call helpers below.
struct TensorData {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<std::uint64_t> shape;
  std::span<const std::byte> data;
};

template <ByteSink Sink>
Status write_all(Sink& sink, std::span<const TensorData> tensors, const Metadata& md,
                 const WriteOptions& opt) {
  std::vector<TensorSpec> specs;
  specs.reserve(tensors.size());
  for (const auto& t : tensors) specs.push_back({t.name, t.dtype, t.shape});
  auto w = Writer<Sink>::start(sink, std::move(specs), md, opt);
  if (!w) return std::move(w).error();
  std::vector<std::size_t> by_name(tensors.size());
  for (std::size_t i = 0; i < by_name.size(); ++i) by_name[i] = i;
  std::sort(by_name.begin(), by_name.end(),
            [&](std::size_t a, std::size_t b) { return tensors[a].name < tensors[b].name; });
  for (const TensorInfo& t : w->layout().tensors) {
    auto it =
        std::lower_bound(by_name.begin(), by_name.end(), t.name,
                         [&](std::size_t i, const std::string& n) { return tensors[i].name < n; });
    EDGEQUANT_TRY(w->write_tensor(t.name, tensors[*it].data));
  }
  return w->finish();
}

// The whole file as bytes (tests, small files).
inline Expected<std::vector<std::byte>> serialize(std::span<const TensorData> tensors,
                                                  const Metadata& md = {},
                                                  const WriteOptions& opt = {}) {
  MemorySink sink;
  EDGEQUANT_TRY(write_all(sink, tensors, md, opt));
  return sink.take();
}

// Writes `path` atomically (temp file + rename; nothing left on failure).
inline Status save_file(const std::string& path, std::span<const TensorData> tensors,
                        const Metadata& md = {}, const WriteOptions& opt = {}) {
  auto f = AtomicFile::create(path);
  if (!f) return std::move(f).error();
  EDGEQUANT_TRY(write_all(*f, tensors, md, opt));
  return f->commit();
}

}  // namespace edgequant::safetensors
