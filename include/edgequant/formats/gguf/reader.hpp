// Zero-copy GGUF reader: validates a whole file as hostile input, then gives
// views (metadata values, tensor infos, typed tensor data) into the mapping.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/tensor_view.hpp"
#include "edgequant/formats/gguf/format.hpp"
#include "edgequant/io/mapped_file.hpp"
#include "edgequant/schemes/ggml_type.hpp"
#include "edgequant/schemes/scheme.hpp"

namespace edgequant::gguf {

// Bytes owned elsewhere (fuzzers, tests, a buffer the caller keeps alive).
class SpanSource {
 public:
  explicit SpanSource(std::span<const std::byte> bytes, std::string name = "<memory>")
      : bytes_(bytes), name_(std::move(name)) {}
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  const std::string& path() const noexcept { return name_; }

 private:
  std::span<const std::byte> bytes_;
  std::string name_;
};

// A source owns (or borrows) the file's bytes, which must stay at the same
// address when the source is moved (MappedFile and SpanSource both do).
template <class S>
concept Source = std::movable<S> && requires(const S& s) {
  { s.bytes() } -> std::convertible_to<std::span<const std::byte>>;
  { s.path() } -> std::convertible_to<std::string>;
};
static_assert(Source<MappedFile>);
static_assert(Source<SpanSource>);

class ArrayView;

namespace detail {

// Size of an already validated encoded value starting at p (its payload, after
// the type id for KVs; the element itself inside arrays).
inline std::uint64_t encoded_size(Type t, const std::byte* p) noexcept {
  if (t == Type::kString) return 8 + load_le<std::uint64_t>(p);
  if (t != Type::kArray) return type_size(t);
  const auto elem = static_cast<Type>(load_le<std::uint32_t>(p));
  const auto n = load_le<std::uint64_t>(p + 4);
  std::uint64_t size = 12;
  if (type_size(elem) != 0) return size + n * type_size(elem);
  for (std::uint64_t i = 0; i < n; ++i) size += encoded_size(elem, p + size);
  return size;
}

inline Error type_mismatch(std::string_view what, Type have, std::string_view want,
                           std::uint64_t offset) {
  return make_error(Errc::kTypeMismatch,
                    std::string(what) + " has type " + std::string(type_name(have)) +
                        ", requested " + std::string(want),
                    offset);
}

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {
  using element = T;
};

}  // namespace detail

// One metadata value inside a validated file (scalar, string or array).
class ValueView {
 public:
  ValueView() = default;
  ValueView(Type type, const std::byte* payload, std::uint64_t offset) noexcept
      : type_(type), p_(payload), offset_(offset) {}

  Type type() const noexcept { return type_; }
  std::uint64_t offset() const noexcept { return offset_; }  // file offset of the payload
  // The value's encoded bytes (what a writer copies verbatim).
  std::span<const std::byte> encoded() const noexcept {
    return {p_, static_cast<std::size_t>(detail::encoded_size(type_, p_))};
  }

  // Typed access. T: a Scalar (exact type, no conversion), std::string_view,
  // std::string, ArrayView, or std::vector<U> of a scalar or string type.
  template <class T>
  Expected<T> as() const;

  // Unchecked accessors. Precondition: type() matches.
  template <Scalar T>
  T scalar() const noexcept {
    EDGEQUANT_ASSERT(type_ == TypeOf<T>::value);
    if constexpr (std::is_same_v<T, bool>) {
      return std::to_integer<std::uint8_t>(*p_) != 0;  // any non-zero byte is true (§2)
    } else {
      return load_le<T>(p_);
    }
  }
  std::string_view string() const noexcept {
    EDGEQUANT_ASSERT(type_ == Type::kString);
    return {reinterpret_cast<const char*>(p_ + 8),
            static_cast<std::size_t>(load_le<std::uint64_t>(p_))};
  }
  ArrayView array() const noexcept;

 private:
  Type type_ = Type::kUint8;
  const std::byte* p_ = nullptr;
  std::uint64_t offset_ = 0;
};

// The elements of an array value, in order. Fixed-size elements have O(1)
// access; strings and nested arrays are walked with the iterator.
class ArrayView {
 public:
  ArrayView() = default;
  ArrayView(Type elem, std::uint64_t count, const std::byte* elems, std::uint64_t offset) noexcept
      : elem_(elem), count_(count), p_(elems), offset_(offset) {}

  Type element_type() const noexcept { return elem_; }
  std::uint64_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::uint64_t offset() const noexcept { return offset_; }  // file offset of element 0

  // Element i of a fixed-size type. Preconditions: i < size(), T matches.
  template <Scalar T>
  T at(std::uint64_t i) const noexcept {
    EDGEQUANT_ASSERT(elem_ == TypeOf<T>::value && i < count_);
    if constexpr (std::is_same_v<T, bool>) {
      return std::to_integer<std::uint8_t>(p_[i]) != 0;
    } else {
      return load_le<T>(p_ + i * sizeof(T));
    }
  }
  // Raw little-endian bytes of a fixed-size array (empty for strings/arrays).
  std::span<const std::byte> raw() const noexcept {
    const std::size_t es = type_size(elem_);
    return {p_, es ? static_cast<std::size_t>(count_ * es) : 0};
  }

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = ValueView;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(Type t, const std::byte* p, std::uint64_t i, std::uint64_t off) noexcept
        : t_(t), p_(p), i_(i), off_(off) {}
    ValueView operator*() const noexcept { return ValueView(t_, p_, off_); }
    iterator& operator++() noexcept {
      const auto n = detail::encoded_size(t_, p_);
      p_ += n;
      off_ += n;
      ++i_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator c = *this;
      ++*this;
      return c;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    Type t_ = Type::kUint8;
    const std::byte* p_ = nullptr;
    std::uint64_t i_ = 0;
    std::uint64_t off_ = 0;
  };
  iterator begin() const noexcept { return iterator(elem_, p_, 0, offset_); }
  iterator end() const noexcept { return iterator(elem_, nullptr, count_, 0); }

  // Copies the elements. T: a Scalar matching element_type(), or
  // std::string_view / std::string for string arrays.
  template <class T>
  Expected<std::vector<T>> to_vector() const {
    std::vector<T> out;
    if constexpr (Scalar<T>) {
      if (elem_ != TypeOf<T>::value) {
        return detail::type_mismatch(
            "array", elem_, "arr[" + std::string(type_name(TypeOf<T>::value)) + "]", offset_);
      }
      out.reserve(static_cast<std::size_t>(count_));
      for (std::uint64_t i = 0; i < count_; ++i) out.push_back(at<T>(i));
    } else {
      static_assert(std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>,
                    "to_vector<T>: T is a GGUF scalar type or a string type");
      if (elem_ != Type::kString) return detail::type_mismatch("array", elem_, "arr[str]", offset_);
      out.reserve(static_cast<std::size_t>(count_));
      for (ValueView v : *this) out.emplace_back(v.string());
    }
    return out;
  }

 private:
  Type elem_ = Type::kUint8;
  std::uint64_t count_ = 0;
  const std::byte* p_ = nullptr;
  std::uint64_t offset_ = 0;
};

inline ArrayView ValueView::array() const noexcept {
  EDGEQUANT_ASSERT(type_ == Type::kArray);
  return ArrayView(static_cast<Type>(load_le<std::uint32_t>(p_)), load_le<std::uint64_t>(p_ + 4),
                   p_ + 12, offset_ + 12);
}

template <class T>
Expected<T> ValueView::as() const {
  if constexpr (Scalar<T>) {
    if (type_ != TypeOf<T>::value) {
      return detail::type_mismatch("value", type_, type_name(TypeOf<T>::value), offset_);
    }
    return scalar<T>();
  } else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
    if (type_ != Type::kString) return detail::type_mismatch("value", type_, "str", offset_);
    return T(string());
  } else if constexpr (std::is_same_v<T, ArrayView>) {
    if (type_ != Type::kArray) return detail::type_mismatch("value", type_, "arr", offset_);
    return array();
  } else {
    static_assert(detail::IsVector<T>::value, "as<T>: unsupported T");
    if (type_ != Type::kArray) return detail::type_mismatch("value", type_, "arr", offset_);
    return array().template to_vector<typename detail::IsVector<T>::element>();
  }
}

// One key/value record, in file order.
struct KeyValue {
  std::string_view key;
  ValueView value;
  std::uint64_t offset = 0;  // file offset of the record (its key length)
};

// One tensor-info record (§3). Dimensions in ggml order: ne[0] is the row
// length (contiguous), unused dimensions are 1.
struct TensorInfo {
  std::string_view name;
  GgmlType type = GgmlType::kF32;
  std::uint32_t n_dims = 0;  // as stored: 0..4
  std::array<std::uint64_t, kMaxDims> ne{1, 1, 1, 1};
  std::uint64_t offset = 0;  // relative to the data section
  std::uint64_t nbytes = 0;
  std::uint64_t info_offset = 0;  // file offset of this record

  std::span<const std::uint64_t> shape() const noexcept { return {ne.data(), n_dims}; }
  std::uint64_t n_elements() const noexcept { return ne[0] * ne[1] * ne[2] * ne[3]; }
  std::uint64_t rows() const noexcept { return ne[1] * ne[2] * ne[3]; }  // (rows, ne[0])
  std::uint64_t row_bytes() const noexcept {
    const auto& t = ggml_type_info(type);
    return ne[0] / t.block_elems * t.block_bytes;
  }
};

// C++ element type of an unquantized ggml type (F16/BF16 as their bit patterns).
template <class T>
constexpr bool plain_type_matches(GgmlType t) noexcept {
  using U = std::remove_cv_t<T>;
  switch (t) {
    case GgmlType::kF32:
      return std::is_same_v<U, float>;
    case GgmlType::kF64:
      return std::is_same_v<U, double>;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return std::is_same_v<U, std::uint16_t>;
    case GgmlType::kI8:
      return std::is_same_v<U, std::int8_t>;
    case GgmlType::kI16:
      return std::is_same_v<U, std::int16_t>;
    case GgmlType::kI32:
      return std::is_same_v<U, std::int32_t>;
    case GgmlType::kI64:
      return std::is_same_v<U, std::int64_t>;
    default:
      return false;
  }
}

// A tensor's info and its bytes in the mapping: the type-erased view (any
// ggml type), convertible to TensorView (plain types) or BlockView<S>.
class Tensor {
 public:
  Tensor() = default;
  Tensor(const TensorInfo* info, std::span<const std::byte> bytes,
         std::uint64_t file_offset) noexcept
      : info_(info), bytes_(bytes), file_offset_(file_offset) {}

  const TensorInfo& info() const noexcept { return *info_; }
  std::string_view name() const noexcept { return info_->name; }
  GgmlType type() const noexcept { return info_->type; }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  std::uint64_t file_offset() const noexcept { return file_offset_; }
  std::uint64_t rows() const noexcept { return info_->rows(); }
  std::uint64_t cols() const noexcept { return info_->ne[0]; }

  // Plain elements, numpy order: shape[Rank-1] = ne[0], shape[Rank-2] = ne[1]…
  // Rank may exceed the tensor's dimensions (leading 1s); never drop a dim > 1.
  template <class T, std::size_t Rank>
  Expected<TensorView<const T, Rank>> view() const {
    if (!plain_type_matches<T>(type())) {
      return make_error(Errc::kTypeMismatch, "tensor '" + std::string(name()) + "' has type " +
                                                 std::string(ggml_type_name(type())) +
                                                 ", which is not the requested element type");
    }
    typename TensorView<const T, Rank>::Shape shape{};
    for (std::size_t d = 0; d < Rank; ++d) shape[d] = 1;
    for (std::size_t i = 0; i < kMaxDims; ++i) {
      if (i < Rank) {
        shape[Rank - 1 - i] = static_cast<std::size_t>(info_->ne[i]);
      } else if (info_->ne[i] != 1) {
        return make_error(Errc::kBadArgument, "tensor '" + std::string(name()) +
                                                  "' has more than " + std::to_string(Rank) +
                                                  " dimensions");
      }
    }
    return TensorView<const T, Rank>::over_bytes(bytes_, shape);
  }

  // Quantized (or one-element "scheme") blocks: rows() rows of ne[0] elements.
  template <GgmlScheme S>
  Expected<BlockView<S>> blocks() const {
    if (S::ggml_type != type()) {
      return make_error(Errc::kTypeMismatch, "tensor '" + std::string(name()) + "' has type " +
                                                 std::string(ggml_type_name(type())) +
                                                 ", requested " + std::string(S::name));
    }
    return BlockView<S>::over_bytes(bytes_, static_cast<std::size_t>(rows()),
                                    static_cast<std::size_t>(cols()));
  }

 private:
  const TensorInfo* info_ = nullptr;
  std::span<const std::byte> bytes_;
  std::uint64_t file_offset_ = 0;
};

namespace detail {

// Bounds-checked little-endian reads over the file; every failure names the
// field and its offset.
class Cursor {
 public:
  Cursor(std::span<const std::byte> b, const std::string& file) : b_(b), file_(file) {}

  std::uint64_t pos() const noexcept { return pos_; }
  std::uint64_t remaining() const noexcept { return b_.size() - pos_; }
  const std::byte* at(std::uint64_t off) const noexcept { return b_.data() + off; }

  Error error(Errc c, std::string what, std::uint64_t off) const {
    return make_error(c, std::move(what), off, file_);
  }
  Error truncated(const std::string& field, std::uint64_t need) const {
    return error(Errc::kTruncated,
                 field + ": needs " + std::to_string(need) + " bytes, the file has " +
                     std::to_string(remaining()) + " left",
                 pos_);
  }

  template <class T>
  Expected<T> read(const std::string& field) {
    if (remaining() < sizeof(T)) return truncated(field, sizeof(T));
    T v = load_le<T>(b_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  Status skip(std::uint64_t n, const std::string& field) {
    if (remaining() < n) return truncated(field, n);
    pos_ += n;
    return {};
  }
  // uint64 length + bytes, length checked against max_len and the file.
  Expected<std::string_view> string(const std::string& field, std::uint64_t max_len) {
    const std::uint64_t at_len = pos_;
    auto n = read<std::uint64_t>(field + " length");
    if (!n) return std::move(n).error();
    if (*n > max_len) {
      return error(Errc::kLimit,
                   field + ": length " + std::to_string(*n) + " exceeds the limit of " +
                       std::to_string(max_len) + " bytes",
                   at_len);
    }
    if (remaining() < *n) {
      return error(Errc::kTruncated,
                   field + ": length " + std::to_string(*n) + " runs past the end of the file (" +
                       std::to_string(remaining()) + " bytes left)",
                   at_len);
    }
    std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_),
                       static_cast<std::size_t>(*n));
    pos_ += *n;
    return s;
  }

 private:
  std::span<const std::byte> b_;
  const std::string& file_;
  std::uint64_t pos_ = 0;
};

inline std::string quoted(std::string_view s) {
  // Keys and names come from the file: show at most 80 bytes, control bytes escaped.
  std::string o = "'";
  for (std::size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      o += "\\x";
      o += kHex[c >> 4];
      o += kHex[c & 15];
    } else {
      o += static_cast<char>(c);
    }
  }
  if (s.size() > 80) o += "...";
  return o + "'";
}

}  // namespace detail

// A validated GGUF file. open() checks everything (specs/gguf.md §5 plus the
// limits) before returning; afterwards every accessor is safe and cheap.
template <Source Src = MappedFile, LimitsPolicy L = Limits>
class Reader {
 public:
  static Expected<Reader> open(Src src, L limits = {}) {
    Reader r(std::move(src), std::move(limits));
    EDGEQUANT_TRY(r.parse());
    return r;
  }
  static Expected<Reader> open_file(
      const std::string& path, L limits = {},
      MappedFile::Mode mode = MappedFile::Mode::kAuto) requires std::same_as<Src, MappedFile> {
    auto f = MappedFile::open(path, mode);
    if (!f) return std::move(f).error();
    return open(std::move(*f), std::move(limits));
  }

  Reader(Reader&&) noexcept = default;
  Reader& operator=(Reader&&) noexcept = default;

  const Src& source() const noexcept { return src_; }
  const std::string& path() const noexcept { return path_; }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  std::uint64_t file_size() const noexcept { return bytes_.size(); }
  std::uint32_t version() const noexcept { return version_; }
  std::uint64_t alignment() const noexcept { return alignment_; }
  std::uint64_t metadata_end() const noexcept { return meta_end_; }  // end of the tensor infos
  std::uint64_t data_offset() const noexcept { return data_offset_; }

  // Metadata in file order.
  std::span<const KeyValue> metadata() const noexcept { return kvs_; }
  const KeyValue* find(std::string_view key) const noexcept {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second];
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

  // Typed value by key: T as for ValueView::as. Missing key → kNotFound;
  // other type → kTypeMismatch (no conversions, like llama.cpp's loader).
  template <class T>
  Expected<T> get(std::string_view key) const {
    const KeyValue* kv = find(key);
    if (!kv)
      return make_error(Errc::kNotFound, "key " + detail::quoted(key) + " not found", kNoOffset,
                        path_);
    auto v = kv->value.template as<T>();
    if (!v) {
      Error e = std::move(v).error();
      e.what = "key " + detail::quoted(key) + ": " + e.what;
      e.file = path_;
      return e;
    }
    return v;
  }
  // The value, or `fallback` when the key is absent (a wrong type is still an error).
  template <class T>
  Expected<T> get_or(std::string_view key, T fallback) const {
    if (!find(key)) return fallback;
    return get<T>(key);
  }

  std::span<const TensorInfo> tensors() const noexcept { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const noexcept {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }
  Expected<Tensor> tensor(std::string_view name) const {
    const TensorInfo* t = find_tensor(name);
    if (!t) {
      return make_error(Errc::kNotFound, "tensor " + detail::quoted(name) + " not found", kNoOffset,
                        path_);
    }
    return tensor(*t);
  }
  // Precondition: `info` is one of tensors().
  Tensor tensor(const TensorInfo& info) const noexcept {
    const std::uint64_t off = data_offset_ + info.offset;
    return Tensor(
        &info, bytes_.subspan(static_cast<std::size_t>(off), static_cast<std::size_t>(info.nbytes)),
        off);
  }
  std::span<const std::byte> tensor_data(const TensorInfo& info) const noexcept {
    return tensor(info).bytes();
  }

 private:
  Reader(Src src, L limits) : src_(std::move(src)), limits_(std::move(limits)) {
    bytes_ = std::span<const std::byte>(src_.bytes());
    path_ = std::string(src_.path());
  }

  Status parse();
  Status parse_value(detail::Cursor& c, Type t, const std::string& field, std::uint32_t depth);
  Status check_layout(detail::Cursor& c, std::uint64_t n_tensors_declared);

  // Recursion guard independent of the configurable limit (§ validation).
  static constexpr std::uint32_t kHardMaxDepth = 64;

  Src src_;
  L limits_;
  std::span<const std::byte> bytes_;
  std::string path_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = kDefaultAlignment;
  std::uint64_t meta_end_ = 0;
  std::uint64_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, std::size_t> kv_index_;
  std::unordered_map<std::string_view, std::size_t> tensor_index_;
};

template <Source Src, LimitsPolicy L>
Status Reader<Src, L>::parse_value(detail::Cursor& c, Type t, const std::string& field,
                                   std::uint32_t depth) {
  if (type_size(t) != 0) return c.skip(type_size(t), field);
  if (t == Type::kString) {
    auto s = c.string(field, limits_.max_string_bytes);
    if (!s) return std::move(s).error();
    return {};
  }
  // Array: int32 element type, uint64 count, elements (§2).
  const std::uint64_t at_type = c.pos();
  auto et = c.template read<std::uint32_t>(field + " element type");
  if (!et) return std::move(et).error();
  if (!type_valid(*et)) {
    return c.error(Errc::kInvalid, field + ": unknown array element type id " + std::to_string(*et),
                   at_type);
  }
  const Type elem = static_cast<Type>(*et);
  const std::uint32_t max_depth = std::min<std::uint32_t>(limits_.max_array_depth, kHardMaxDepth);
  // This array sits at nesting level depth + 1; arrays inside it at depth + 2.
  if (elem == Type::kArray && depth + 2 > max_depth) {
    return c.error(Errc::kLimit,
                   field + ": array of arrays nested deeper than the limit of " +
                       std::to_string(max_depth) +
                       (max_depth == 1 ? " (ggml reads flat arrays only)" : ""),
                   at_type);
  }
  const std::uint64_t at_count = c.pos();
  auto n = c.template read<std::uint64_t>(field + " element count");
  if (!n) return std::move(n).error();
  if (*n > limits_.max_array_elements) {
    return c.error(Errc::kLimit,
                   field + ": " + std::to_string(*n) + " elements exceed the limit of " +
                       std::to_string(limits_.max_array_elements),
                   at_count);
  }
  // Bound the count by the bytes present before walking anything.
  if (*n > c.remaining() / min_element_bytes(elem)) {
    return c.error(Errc::kTruncated,
                   field + ": " + std::to_string(*n) + " elements of type " +
                       std::string(type_name(elem)) + " cannot fit in the " +
                       std::to_string(c.remaining()) + " bytes left",
                   at_count);
  }
  if (type_size(elem) != 0) return c.skip(*n * type_size(elem), field);
  for (std::uint64_t i = 0; i < *n; ++i) {
    EDGEQUANT_TRY(parse_value(c, elem, field + "[" + std::to_string(i) + "]", depth + 1));
  }
  return {};
}

template <Source Src, LimitsPolicy L>
Status Reader<Src, L>::parse() {
  detail::Cursor c(bytes_, path_);
  // --- header (§1)
  if (bytes_.size() >= 4 && std::memcmp(bytes_.data(), kMagic, 4) != 0) {
    if (std::memcmp(bytes_.data(), "FUGG", 4) == 0) {
      return c.error(Errc::kBadMagic,
                     "magic is 'FUGG': a byte-swapped (big-endian) GGUF; only little-endian GGUF "
                     "is supported",
                     0);
    }
    return c.error(Errc::kBadMagic, "not a GGUF file: magic is not 'GGUF'", 0);
  }
  if (bytes_.size() < kHeaderBytes) {
    if (bytes_.size() < 4)
      return c.error(Errc::kBadMagic, "not a GGUF file: shorter than its magic", 0);
    return c.error(Errc::kTruncated,
                   "header: needs 24 bytes, the file has " + std::to_string(bytes_.size()), 0);
  }
  (void)c.skip(4, "magic");
  version_ = *c.template read<std::uint32_t>("version");
  if (version_ != 0 && (version_ & 0xffffu) == 0) {
    return c.error(Errc::kUnsupported,
                   "version: reads as " + std::to_string(version_) +
                       ": this is a big-endian GGUF (byte-swapped version " +
                       std::to_string(__builtin_bswap32(version_)) +
                       "); only little-endian GGUF is supported",
                   4);
  }
  if (version_ == 0) return c.error(Errc::kInvalid, "version: 0 is not a GGUF version", 4);
  if (version_ == 1) {
    return c.error(Errc::kUnsupported,
                   "version: GGUFv1 (32-bit counts) is no longer supported; re-convert the model",
                   4);
  }
  if (version_ == 2 && !limits_.accept_v2) {
    return c.error(Errc::kUnsupported,
                   "version: GGUFv2 is not accepted by these limits (accept_v2)", 4);
  }
  if (version_ > kVersion) {
    return c.error(
        Errc::kUnsupported,
        "version: " + std::to_string(version_) + " is newer than the supported version 3", 4);
  }
  const auto n_tensors = *c.template read<std::int64_t>("n_tensors");
  const auto n_kv = *c.template read<std::int64_t>("n_kv");
  if (n_tensors < 0)
    return c.error(Errc::kInvalid, "n_tensors: negative (" + std::to_string(n_tensors) + ")", 8);
  if (n_kv < 0) return c.error(Errc::kInvalid, "n_kv: negative (" + std::to_string(n_kv) + ")", 16);
  if (static_cast<std::uint64_t>(n_tensors) > limits_.max_tensors) {
    return c.error(Errc::kLimit,
                   "n_tensors: " + std::to_string(n_tensors) + " exceeds the limit of " +
                       std::to_string(limits_.max_tensors),
                   8);
  }
  if (static_cast<std::uint64_t>(n_kv) > limits_.max_kv) {
    return c.error(
        Errc::kLimit,
        "n_kv: " + std::to_string(n_kv) + " exceeds the limit of " + std::to_string(limits_.max_kv),
        16);
  }
  // A KV record is at least 13 bytes (key length, type, one-byte value), a
  // tensor info at least 24: bound the counts by the file before reserving.
  if (static_cast<std::uint64_t>(n_kv) > c.remaining() / 13) {
    return c.error(Errc::kTruncated,
                   "n_kv: " + std::to_string(n_kv) + " key/value records cannot fit in the " +
                       std::to_string(c.remaining()) + " bytes after the header",
                   16);
  }
  if (static_cast<std::uint64_t>(n_tensors) > c.remaining() / 24) {
    return c.error(Errc::kTruncated,
                   "n_tensors: " + std::to_string(n_tensors) + " tensor infos cannot fit in the " +
                       std::to_string(c.remaining()) + " bytes after the header",
                   8);
  }
  auto over_meta_limit = [&](const std::string& field, std::uint64_t at) -> std::optional<Error> {
    if (c.pos() > limits_.max_metadata_bytes) {
      return c.error(Errc::kLimit,
                     field + ": metadata exceeds the limit of " +
                         std::to_string(limits_.max_metadata_bytes) + " bytes",
                     at);
    }
    return std::nullopt;
  };

  // --- key/value records (§2)
  kvs_.reserve(static_cast<std::size_t>(n_kv));
  kv_index_.reserve(static_cast<std::size_t>(n_kv));
  for (std::int64_t i = 0; i < n_kv; ++i) {
    const std::uint64_t rec = c.pos();
    const std::string field = "kv[" + std::to_string(i) + "]";
    auto key = c.string(field + ".key",
                        std::min<std::uint64_t>(limits_.max_key_bytes, limits_.max_string_bytes));
    if (!key) return std::move(key).error();
    if (key->empty()) return c.error(Errc::kInvalid, field + ".key: empty key", rec);
    const std::string kfield = field + " " + detail::quoted(*key);
    if (auto it = kv_index_.find(*key); it != kv_index_.end()) {
      return c.error(Errc::kInvalid,
                     kfield + ": duplicate key (first at offset " +
                         std::to_string(kvs_[it->second].offset) + ")",
                     rec);
    }
    const std::uint64_t at_type = c.pos();
    auto type = c.template read<std::uint32_t>(kfield + " value type");
    if (!type) return std::move(type).error();
    if (!type_valid(*type)) {
      return c.error(Errc::kInvalid, kfield + ": unknown value type id " + std::to_string(*type),
                     at_type);
    }
    const std::uint64_t at_value = c.pos();
    EDGEQUANT_TRY(parse_value(c, static_cast<Type>(*type), kfield, 0));
    if (auto e = over_meta_limit(kfield, rec)) return std::move(*e);
    kv_index_.emplace(*key, kvs_.size());
    kvs_.push_back(
        KeyValue{*key, ValueView(static_cast<Type>(*type), c.at(at_value), at_value), rec});
  }

  // --- general.alignment (§4)
  if (const KeyValue* a = find(kAlignmentKey)) {
    if (a->value.type() != Type::kUint32) {
      return c.error(Errc::kTypeMismatch,
                     "general.alignment: has type " + std::string(type_name(a->value.type())) +
                         "; it must be u32",
                     a->value.offset());
    }
    const std::uint32_t al = a->value.template scalar<std::uint32_t>();
    if (!is_power_of_two(al)) {
      return c.error(Errc::kInvalid,
                     "general.alignment: " + std::to_string(al) + " is not a power of two",
                     a->value.offset());
    }
    if (al > limits_.max_alignment) {
      return c.error(Errc::kLimit,
                     "general.alignment: " + std::to_string(al) + " exceeds the limit of " +
                         std::to_string(limits_.max_alignment),
                     a->value.offset());
    }
    alignment_ = al;
  }

  // --- tensor infos (§3)
  if (static_cast<std::uint64_t>(n_tensors) > c.remaining() / 24) {
    return c.error(Errc::kTruncated,
                   "n_tensors: " + std::to_string(n_tensors) + " tensor infos cannot fit in the " +
                       std::to_string(c.remaining()) + " bytes after the metadata",
                   8);
  }
  tensors_.reserve(static_cast<std::size_t>(n_tensors));
  tensor_index_.reserve(static_cast<std::size_t>(n_tensors));
  for (std::int64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.info_offset = c.pos();
    const std::string field = "tensor[" + std::to_string(i) + "]";
    auto name = c.string(field + ".name", limits_.max_string_bytes);
    if (!name) return std::move(name).error();
    const std::string tfield = field + " " + detail::quoted(*name);
    if (name->size() > limits_.max_tensor_name_bytes) {
      return c.error(Errc::kInvalid,
                     tfield + ": name is " + std::to_string(name->size()) + " bytes; at most " +
                         std::to_string(limits_.max_tensor_name_bytes) + " allowed (GGML_MAX_NAME)",
                     t.info_offset);
    }
    if (auto it = tensor_index_.find(*name); it != tensor_index_.end()) {
      return c.error(Errc::kInvalid,
                     tfield + ": duplicate tensor name (first at offset " +
                         std::to_string(tensors_[it->second].info_offset) + ")",
                     t.info_offset);
    }
    t.name = *name;
    const std::uint64_t at_ndims = c.pos();
    auto nd = c.template read<std::uint32_t>(tfield + ".n_dims");
    if (!nd) return std::move(nd).error();
    if (*nd > kMaxDims) {
      return c.error(Errc::kInvalid, tfield + ".n_dims: " + std::to_string(*nd) + " exceeds 4",
                     at_ndims);
    }
    t.n_dims = *nd;
    for (std::uint32_t d = 0; d < t.n_dims; ++d) {
      const std::uint64_t at_ne = c.pos();
      auto ne = c.template read<std::int64_t>(tfield + ".ne[" + std::to_string(d) + "]");
      if (!ne) return std::move(ne).error();
      if (*ne <= 0) {
        return c.error(Errc::kInvalid,
                       tfield + ".ne[" + std::to_string(d) + "]: dimension " + std::to_string(*ne) +
                           " is not positive",
                       at_ne);
      }
      t.ne[d] = static_cast<std::uint64_t>(*ne);
    }
    const std::uint64_t at_type = c.pos();
    auto type = c.template read<std::uint32_t>(tfield + ".type");
    if (!type) return std::move(type).error();
    if (*type >= kGgmlTypeCount) {
      return c.error(Errc::kUnsupported,
                     tfield + ".type: unknown ggml type id " +
                         std::to_string(static_cast<std::int32_t>(*type)) + " (known: 0.." +
                         std::to_string(kGgmlTypeCount - 1) + ")",
                     at_type);
    }
    const auto info = ggml_type_info(*type);
    if (!info) {
      return c.error(
          Errc::kInvalid,
          tfield + ".type: ggml type id " + std::to_string(*type) + " was removed from ggml",
          at_type);
    }
    t.type = static_cast<GgmlType>(*type);
    // Element count must fit int64 (ggml's int64 ne), bytes must fit uint64.
    auto elems = checked_product<std::uint64_t>(t.ne);
    if (!elems || *elems > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return c.error(Errc::kOverflow, tfield + ": element count overflows int64", t.info_offset);
    }
    if (t.ne[0] % info->block_elems != 0) {
      return c.error(Errc::kInvalid,
                     tfield + ": row length ne[0] = " + std::to_string(t.ne[0]) +
                         " is not a multiple of the " + std::string(info->name) + " block size " +
                         std::to_string(info->block_elems),
                     t.info_offset);
    }
    auto row = checked_mul<std::uint64_t>(t.ne[0] / info->block_elems, info->block_bytes);
    auto nbytes = row ? checked_mul<std::uint64_t>(*row, t.rows()) : std::nullopt;
    if (!nbytes)
      return c.error(Errc::kOverflow, tfield + ": byte size overflows 64 bits", t.info_offset);
    t.nbytes = *nbytes;
    const std::uint64_t at_off = c.pos();
    auto off = c.template read<std::uint64_t>(tfield + ".offset");
    if (!off) return std::move(off).error();
    if (*off % alignment_ != 0) {
      return c.error(Errc::kInvalid,
                     tfield + ".offset: " + std::to_string(*off) +
                         " is not a multiple of the alignment " + std::to_string(alignment_),
                     at_off);
    }
    t.offset = *off;
    if (auto e = over_meta_limit(tfield, t.info_offset)) return std::move(*e);
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(t);
  }
  meta_end_ = c.pos();
  return check_layout(c, static_cast<std::uint64_t>(n_tensors));
}

template <Source Src, LimitsPolicy L>
Status Reader<Src, L>::check_layout(detail::Cursor& c, std::uint64_t n_tensors) {
  // --- data section (§4): starts at the aligned end of the tensor infos.
  // meta_end_ <= file size and alignment_ <= max_alignment, so no overflow.
  data_offset_ = align_up(meta_end_, alignment_);
  if (n_tensors == 0) return {};  // nothing to locate; padding may be absent
  const std::uint64_t size = bytes_.size();
  if (data_offset_ > size) {
    return c.error(Errc::kTruncated,
                   "data section: starts at " + std::to_string(data_offset_) +
                       " but the file has " + std::to_string(size) + " bytes",
                   meta_end_);
  }
  const std::uint64_t data_size = size - data_offset_;
  std::uint64_t expected = 0;
  for (const TensorInfo& t : tensors_) {
    const std::string tfield = "tensor " + detail::quoted(t.name);
    const std::uint64_t at_off = t.info_offset + 8 + t.name.size() + 4 + 8ull * t.n_dims + 4;
    if (limits_.require_contiguous && t.offset != expected) {
      return c.error(Errc::kInvalid,
                     tfield + ".offset: " + std::to_string(t.offset) + ", expected " +
                         std::to_string(expected) +
                         " (ggml requires tensors back to back in info order)",
                     at_off);
    }
    if (!range_within(t.offset, t.nbytes, data_size)) {
      return c.error(Errc::kTruncated,
                     tfield + ": data [" + std::to_string(t.offset) + ", +" +
                         std::to_string(t.nbytes) + ") runs past the end of the data section (" +
                         std::to_string(data_size) + " bytes)",
                     at_off);
    }
    // nbytes <= data_size, so padding it cannot overflow; the sum can.
    auto next = checked_add<std::uint64_t>(t.offset, align_up(t.nbytes, alignment_));
    if (!next) return c.error(Errc::kOverflow, tfield + ": offset + size overflows", at_off);
    expected = *next;
  }
  if (!limits_.require_contiguous) {
    std::vector<std::size_t> order(tensors_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return tensors_[a].offset < tensors_[b].offset;
    });
    for (std::size_t k = 1; k < order.size(); ++k) {
      const TensorInfo& a = tensors_[order[k - 1]];
      const TensorInfo& b = tensors_[order[k]];
      if (a.offset + a.nbytes > b.offset) {
        return c.error(Errc::kInvalid,
                       "tensor " + detail::quoted(b.name) + ": data at " +
                           std::to_string(b.offset) + " overlaps tensor " + detail::quoted(a.name) +
                           " [" + std::to_string(a.offset) + ", +" + std::to_string(a.nbytes) + ")",
                       b.info_offset);
      }
    }
  }
  return {};
}

}  // namespace edgequant::gguf

namespace edgequant {
// The style guide's spelling: GgufReader<Source, Limits>.
template <class Src = MappedFile, class L = gguf::Limits>
using GgufReader = gguf::Reader<Src, L>;
}  // namespace edgequant
