// Overflow-checked size arithmetic and little-endian loads for parsers of untrusted input.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>

namespace edgequant {

// a + b, or nullopt when it does not fit in T.
template <class T>
constexpr std::optional<T> checked_add(T a, T b) noexcept {
  static_assert(std::is_integral_v<T>);
  T r{};
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

template <class T>
constexpr std::optional<T> checked_mul(T a, T b) noexcept {
  static_assert(std::is_integral_v<T>);
  T r{};
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Product of all values, or nullopt on overflow.
template <class T, class Range>
constexpr std::optional<T> checked_product(const Range& values) noexcept {
  T p = 1;
  for (auto v : values) {
    auto n = checked_mul<T>(p, static_cast<T>(v));
    if (!n) return std::nullopt;
    p = *n;
  }
  return p;
}

// True when [offset, offset + len) lies inside [0, size), without overflow.
constexpr bool range_within(std::uint64_t offset, std::uint64_t len,
                            std::uint64_t size) noexcept {
  return offset <= size && len <= size - offset;
}

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) noexcept {
  return (v + a - 1) / a * a;  // callers check v + a - 1 does not overflow
}

constexpr bool is_power_of_two(std::uint64_t v) noexcept {
  return v != 0 && (v & (v - 1)) == 0;
}

// Every format edgequant reads is little-endian, and so is every host it
// supports (x86-64, AArch64, RISC-V, wasm).
static_assert(std::endian::native == std::endian::little,
              "edgequant supports little-endian hosts only");

// Loads/stores from unaligned bytes; memcpy keeps them legal.
template <class T>
inline T load_le(const void* p) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
inline void store_le(void* p, T v) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace edgequant
