// GGUF v3 constants, metadata value types and reader limits (specs/gguf.md §1–§5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace edgequant::gguf {

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};  // §1, bytes 0..3
inline constexpr std::uint32_t kVersion = 3;             // what writers emit (§1)
inline constexpr std::uint64_t kDefaultAlignment = 32;   // GGUF_DEFAULT_ALIGNMENT (§4)
inline constexpr std::size_t kHeaderBytes = 24;          // magic, version, n_tensors, n_kv
inline constexpr std::uint32_t kMaxDims = 4;             // GGML_MAX_DIMS (§3)
inline constexpr std::size_t kMaxNameBytes = 63;         // GGML_MAX_NAME 64 incl. NUL (§3)
inline constexpr std::string_view kAlignmentKey = "general.alignment";

// Metadata value type ids (`enum gguf_type`, §2), stored as int32.
enum class Type : std::uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
inline constexpr std::uint32_t kTypeCount = 13;

constexpr bool type_valid(std::uint32_t id) noexcept { return id < kTypeCount; }

// `gguf_type_name` spelling: u8 i8 u16 i16 u32 i32 f32 bool str arr u64 i64 f64.
constexpr std::string_view type_name(Type t) noexcept {
  constexpr std::string_view kNames[kTypeCount] = {"u8",   "i8",  "u16", "i16", "u32", "i32", "f32",
                                                   "bool", "str", "arr", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < kTypeCount ? kNames[i] : std::string_view("?");
}

inline std::optional<Type> parse_type_name(std::string_view s) noexcept {
  for (std::uint32_t i = 0; i < kTypeCount; ++i) {
    if (type_name(static_cast<Type>(i)) == s) return static_cast<Type>(i);
  }
  return std::nullopt;
}

// Encoded size of one value of a fixed-size type; 0 for strings and arrays.
constexpr std::size_t type_size(Type t) noexcept {
  switch (t) {
    case Type::kUint8:
    case Type::kInt8:
    case Type::kBool:
      return 1;
    case Type::kUint16:
    case Type::kInt16:
      return 2;
    case Type::kUint32:
    case Type::kInt32:
    case Type::kFloat32:
      return 4;
    case Type::kUint64:
    case Type::kInt64:
    case Type::kFloat64:
      return 8;
    case Type::kString:
    case Type::kArray:
      return 0;
  }
  return 0;
}

// Smallest encoding of one array element: strings need their 8-byte length,
// nested arrays their 4-byte type and 8-byte count (used to bound counts by
// the bytes that are actually there before anything is walked).
constexpr std::size_t min_element_bytes(Type t) noexcept {
  if (t == Type::kString) return 8;
  if (t == Type::kArray) return 12;
  return type_size(t);
}

// The C++ type that holds a scalar GGUF value (get<T> and the writer's setters).
template <class T>
struct TypeOf;
template <>
struct TypeOf<std::uint8_t> {
  static constexpr Type value = Type::kUint8;
};
template <>
struct TypeOf<std::int8_t> {
  static constexpr Type value = Type::kInt8;
};
template <>
struct TypeOf<std::uint16_t> {
  static constexpr Type value = Type::kUint16;
};
template <>
struct TypeOf<std::int16_t> {
  static constexpr Type value = Type::kInt16;
};
template <>
struct TypeOf<std::uint32_t> {
  static constexpr Type value = Type::kUint32;
};
template <>
struct TypeOf<std::int32_t> {
  static constexpr Type value = Type::kInt32;
};
template <>
struct TypeOf<float> {
  static constexpr Type value = Type::kFloat32;
};
template <>
struct TypeOf<bool> {
  static constexpr Type value = Type::kBool;
};
template <>
struct TypeOf<std::uint64_t> {
  static constexpr Type value = Type::kUint64;
};
template <>
struct TypeOf<std::int64_t> {
  static constexpr Type value = Type::kInt64;
};
template <>
struct TypeOf<double> {
  static constexpr Type value = Type::kFloat64;
};

template <class T>
concept Scalar = requires {
  TypeOf<T>::value;
};

// Bounds applied while reading a file; every one is checked before any work or
// allocation depends on the value. Defaults accept every real model (the
// largest vocabularies are ~260k tokens, the largest MoE models a few thousand
// tensors) and match ggml's own caps where it has them.
struct Limits {
  std::uint64_t max_metadata_bytes = std::uint64_t{1} << 30;  // header + KVs + tensor infos
  std::uint64_t max_kv = std::uint64_t{1} << 16;
  std::uint64_t max_tensors = std::uint64_t{1} << 20;
  std::uint64_t max_string_bytes = std::uint64_t{1} << 30;    // GGUF_MAX_STRING_LENGTH (§5.4)
  std::uint64_t max_array_elements = std::uint64_t{1} << 30;  // GGUF_MAX_ARRAY_ELEMENTS (§5.4)
  std::uint64_t max_key_bytes = 65535;                        // docs/gguf.md key rule (§2)
  std::uint64_t max_tensor_name_bytes = kMaxNameBytes;        // GGML_MAX_NAME - 1 (§3)
  // Array nesting: 1 = flat arrays only (what ggml reads and writes, §2);
  // 2 = arrays of flat arrays (allowed by docs/gguf.md), and so on.
  std::uint32_t max_array_depth = 4;
  std::uint64_t max_alignment = std::uint64_t{1} << 20;
  // GGUFv2 has the v3 layout and ggml still loads it (§1); false rejects it.
  bool accept_v2 = true;
  // ggml rejects every tensor layout other than back-to-back in info order
  // (§4); false accepts any aligned, non-overlapping layout.
  bool require_contiguous = true;
};

// What a Limits policy must provide (members or static constants).
template <class L>
concept LimitsPolicy = requires(const L& l) {
  { l.max_metadata_bytes } -> std::convertible_to<std::uint64_t>;
  { l.max_kv } -> std::convertible_to<std::uint64_t>;
  { l.max_tensors } -> std::convertible_to<std::uint64_t>;
  { l.max_string_bytes } -> std::convertible_to<std::uint64_t>;
  { l.max_array_elements } -> std::convertible_to<std::uint64_t>;
  { l.max_key_bytes } -> std::convertible_to<std::uint64_t>;
  { l.max_tensor_name_bytes } -> std::convertible_to<std::uint64_t>;
  { l.max_array_depth } -> std::convertible_to<std::uint32_t>;
  { l.max_alignment } -> std::convertible_to<std::uint64_t>;
  { l.accept_v2 } -> std::convertible_to<bool>;
  { l.require_contiguous } -> std::convertible_to<bool>;
};
static_assert(LimitsPolicy<Limits>);

// ggml_n_dims: 1 + index of the last dimension > 1 (at least 1). ggml's writer
// stores this, dropping trailing 1-sized dimensions (§3).
template <class Range>
constexpr std::uint32_t ggml_n_dims(const Range& ne) noexcept {
  std::uint32_t n = 1, i = 0;
  for (auto v : ne) {
    ++i;
    if (v > 1) n = i;
  }
  return n;
}

}  // namespace edgequant::gguf
