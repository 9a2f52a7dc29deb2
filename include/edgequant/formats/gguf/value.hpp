// Owned GGUF metadata: Value (any metadata value) and Metadata (ordered keys
// with ggml's set-moves-to-end semantics, specs/gguf.md §6), plus encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf/format.hpp"
#include "edgequant/formats/gguf/reader.hpp"

namespace edgequant::gguf {

// A metadata value that owns its data. Fixed-size arrays keep their
// little-endian bytes; string arrays their strings; nested arrays their values.
class Value {
 public:
  Value() : bytes_(1) {}  // u8 0

  template <Scalar T>
  static Value of(T v) {
    Value x = blank();
    x.type_ = TypeOf<T>::value;
    if constexpr (std::is_same_v<T, bool>) {
      x.bytes_.push_back(std::byte{static_cast<unsigned char>(v ? 1 : 0)});
    } else {
      x.bytes_.resize(sizeof(T));
      store_le(x.bytes_.data(), v);
    }
    return x;
  }
  static Value string(std::string_view s) {
    Value x = blank();
    x.type_ = Type::kString;
    x.str_.assign(s);
    return x;
  }
  template <Scalar T>
  static Value array(std::span<const T> v) {
    Value x = blank();
    x.type_ = Type::kArray;
    x.elem_ = TypeOf<T>::value;
    x.count_ = v.size();
    if constexpr (std::is_same_v<T, bool>) {
      for (bool b : v) x.bytes_.push_back(std::byte{static_cast<unsigned char>(b ? 1 : 0)});
    } else {
      x.bytes_.resize(v.size() * sizeof(T));
      if (!v.empty()) std::memcpy(x.bytes_.data(), v.data(), x.bytes_.size());
    }
    return x;
  }
  template <Scalar T>
  static Value array(std::initializer_list<T> v) {
    return array<T>(std::span<const T>(v.begin(), v.size()));
  }
  template <Scalar T>
  static Value array(const std::vector<T>& v) requires(!std::is_same_v<T, bool>) {
    return array<T>(std::span<const T>(v));
  }
  static Value strings(std::vector<std::string> v) {
    Value x = blank();
    x.type_ = Type::kArray;
    x.elem_ = Type::kString;
    x.count_ = v.size();
    x.strs_ = std::move(v);
    return x;
  }
  // An array whose elements are arrays (docs/gguf.md; ggml cannot read these).
  static Value arrays(std::vector<Value> v) {
    Value x = blank();
    x.type_ = Type::kArray;
    x.elem_ = Type::kArray;
    x.count_ = v.size();
    x.arrs_ = std::move(v);
    return x;
  }
  // An empty array of any element type.
  static Value empty_array(Type elem) {
    Value x = blank();
    x.type_ = Type::kArray;
    x.elem_ = elem;
    return x;
  }

  // Copy of a value from a reader. Bools become 0/1 as ggml's writer does.
  static Value from(const ValueView& v) {
    Value x = blank();
    x.type_ = v.type();
    if (v.type() == Type::kString) {
      x.str_.assign(v.string());
    } else if (v.type() == Type::kArray) {
      const ArrayView a = v.array();
      x.elem_ = a.element_type();
      x.count_ = a.size();
      if (x.elem_ == Type::kString) {
        x.strs_.reserve(static_cast<std::size_t>(a.size()));
        for (ValueView e : a) x.strs_.emplace_back(e.string());
      } else if (x.elem_ == Type::kArray) {
        x.arrs_.reserve(static_cast<std::size_t>(a.size()));
        for (ValueView e : a) x.arrs_.push_back(from(e));
      } else {
        const auto raw = a.raw();
        x.bytes_.assign(raw.begin(), raw.end());
        if (x.elem_ == Type::kBool) {
          for (auto& b : x.bytes_) b = std::byte{static_cast<unsigned char>(b != std::byte{0})};
        }
      }
    } else {
      const auto enc = v.encoded();
      x.bytes_.assign(enc.begin(), enc.end());
      if (x.type_ == Type::kBool)
        x.bytes_[0] = std::byte{static_cast<unsigned char>(x.bytes_[0] != std::byte{0})};
    }
    return x;
  }

  Type type() const noexcept { return type_; }
  Type element_type() const noexcept { return elem_; }                     // arrays
  std::uint64_t size() const noexcept { return count_; }                   // array element count
  const std::string& str() const noexcept { return str_; }                 // strings
  const std::vector<std::string>& strs() const noexcept { return strs_; }  // string arrays
  const std::vector<Value>& arrs() const noexcept { return arrs_; }        // nested arrays
  std::span<const std::byte> raw() const noexcept { return bytes_; }       // scalars, fixed arrays

  // The scalar, if this is one of type T.
  template <Scalar T>
  std::optional<T> get() const noexcept {
    if (type_ != TypeOf<T>::value) return std::nullopt;
    if constexpr (std::is_same_v<T, bool>) {
      return bytes_[0] != std::byte{0};
    } else {
      return load_le<T>(bytes_.data());
    }
  }
  // Element i of a fixed-size array of T.
  template <Scalar T>
  std::optional<T> at(std::uint64_t i) const noexcept {
    if (type_ != Type::kArray || elem_ != TypeOf<T>::value || i >= count_) return std::nullopt;
    if constexpr (std::is_same_v<T, bool>) {
      return bytes_[static_cast<std::size_t>(i)] != std::byte{0};
    } else {
      return load_le<T>(bytes_.data() + i * sizeof(T));
    }
  }

  // Encoded payload size (without a KV's key and type id).
  std::uint64_t encoded_size() const noexcept {
    if (type_ == Type::kString) return 8 + str_.size();
    if (type_ != Type::kArray) return type_size(type_);
    std::uint64_t n = 12;
    if (elem_ == Type::kString) {
      for (const auto& s : strs_) n += 8 + s.size();
    } else if (elem_ == Type::kArray) {
      for (const auto& a : arrs_) n += a.encoded_size();
    } else {
      n += bytes_.size();
    }
    return n;
  }
  void encode(std::vector<std::byte>& out) const {
    if (type_ == Type::kString) {
      put_string(out, str_);
    } else if (type_ == Type::kArray) {
      put<std::uint32_t>(out, static_cast<std::uint32_t>(elem_));
      put<std::uint64_t>(out, count_);
      if (elem_ == Type::kString) {
        for (const auto& s : strs_) put_string(out, s);
      } else if (elem_ == Type::kArray) {
        for (const auto& a : arrs_) a.encode(out);
      } else {
        out.insert(out.end(), bytes_.begin(), bytes_.end());
      }
    } else {
      out.insert(out.end(), bytes_.begin(), bytes_.end());
    }
  }

  // Depth of array nesting: 0 for scalars/strings, 1 for flat arrays.
  std::uint32_t depth() const noexcept {
    if (type_ != Type::kArray) return 0;
    std::uint32_t d = 0;
    for (const auto& a : arrs_) d = std::max(d, a.depth());
    return 1 + d;
  }

  template <class T>
  static void put(std::vector<std::byte>& out, T v) {
    const std::size_t n = out.size();
    out.resize(n + sizeof(T));
    store_le(out.data() + n, v);
  }
  static void put_string(std::vector<std::byte>& out, std::string_view s) {
    put<std::uint64_t>(out, s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out.insert(out.end(), p, p + s.size());
  }

 private:
  Type type_ = Type::kUint8;
  Type elem_ = Type::kUint8;
  std::uint64_t count_ = 0;
  static Value blank() {
    Value x;
    x.bytes_.clear();
    return x;
  }

  std::vector<std::byte> bytes_;
  std::string str_;
  std::vector<std::string> strs_;
  std::vector<Value> arrs_;
};

// Ordered metadata. set() on an existing key removes it and appends the new
// value at the end, as ggml's gguf_set_* do (§6): files written through this
// list reproduce ggml's key order.
class Metadata {
 public:
  struct Entry {
    std::string key;
    Value value;
  };

  void set(std::string_view key, Value v) {
    remove(key);
    entries_.push_back(Entry{std::string(key), std::move(v)});
  }
  template <Scalar T>
  void set(std::string_view key, T v) {
    set(key, Value::of<T>(v));
  }
  void set(std::string_view key, const char* s) { set(key, Value::string(s)); }
  void set(std::string_view key, std::string_view s) { set(key, Value::string(s)); }
  void set(std::string_view key, const std::string& s) { set(key, Value::string(s)); }

  bool remove(std::string_view key) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->key == key) {
        entries_.erase(it);
        return true;
      }
    }
    return false;
  }
  const Value* find(std::string_view key) const noexcept {
    for (const auto& e : entries_) {
      if (e.key == key) return &e.value;
    }
    return nullptr;
  }
  template <Scalar T>
  std::optional<T> get(std::string_view key) const noexcept {
    const Value* v = find(key);
    return v ? v->get<T>() : std::nullopt;
  }

  // Every KV of a reader, in file order (ggml's gguf_set_kv).
  template <class R>
  void copy_from(const R& reader) {
    for (const KeyValue& kv : reader.metadata()) set(kv.key, Value::from(kv.value));
  }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  auto begin() const noexcept { return entries_.begin(); }
  auto end() const noexcept { return entries_.end(); }
  const Entry& operator[](std::size_t i) const noexcept { return entries_[i]; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace edgequant::gguf
