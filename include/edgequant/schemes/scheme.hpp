// The Scheme concept: a quantization scheme is a type with static traits, an
// exact block layout and a scalar reference (the oracle every SIMD path matches).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "edgequant/schemes/ggml_type.hpp"

namespace edgequant {

// Requirements:
//   S::name              ecosystem spelling ("q4_0", "q4_K")
//   S::block_elems       elements per block
//   S::block_bytes       == sizeof(S::Block); Block trivially copyable, standard layout
//   S::quantize_row_ref(const float* x, Block* y, size_t n, const float* importance)
//       n % block_elems == 0, x finite, importance = n weights or nullptr.
//       Row-level because ggml's quantizers use row statistics (sigma2 of the row).
//   S::dequantize_row_ref(const Block* x, float* y, size_t n)
template <class S>
concept Scheme = requires {
  { S::name } -> std::convertible_to<std::string_view>;
  { S::block_elems } -> std::convertible_to<std::size_t>;
  { S::block_bytes } -> std::convertible_to<std::size_t>;
  typename S::Block;
}
&&sizeof(typename S::Block) ==
    S::block_bytes&& std::is_trivially_copyable_v<typename S::Block>&& std::is_standard_layout_v<
        typename S::Block>&& requires(const float* x, typename S::Block* qb,
                                      const typename S::Block* cqb, float* y, std::size_t n,
                                      const float* w) {
  S::quantize_row_ref(x, qb, n, w);
  S::dequantize_row_ref(cqb, y, n);
};

// A ggml scheme also names its ggml type id; the rest of its traits (name,
// bits, imatrix rules) come from the ggml type table.
template <class S>
concept GgmlScheme = Scheme<S> && requires {
  { S::ggml_type } -> std::convertible_to<GgmlType>;
} && ggml_type_info(S::ggml_type)
.block_elems == S::block_elems&& ggml_type_info(S::ggml_type).block_bytes == S::block_bytes;

// Optional: `S::first_invalid_block(const Block*, size_t nblocks)` returns the
// first block whose stored scale is Inf/NaN (ggml_validate_row_data's rule), so
// that inputs too large for the format fail with an error instead of writing
// blocks llama.cpp rejects.
// Optional: `static constexpr float S::max_abs_input`: inputs with a larger
// magnitude are refused (Errc::kOverflow) before quantizing, for schemes whose
// reference arithmetic would otherwise lose them silently.

template <class S>
concept HasValidate = requires(const typename S::Block* b, std::size_t n) {
  { S::first_invalid_block(b, n) } -> std::convertible_to<std::size_t>;
};

// Optional: `S::quantize_activation_ref(const float* x, Block* y, size_t n)`,
// the activation quantizer of the CPU dot products (ggml's x86
// type_traits_cpu::from_float), for the types it differs from or has no weight
// quantizer (Q8_0, Q8_1, Q8_K; specs/ggml-quants.md §5). n % block_elems == 0,
// x finite.
template <class S>
concept HasActivation = requires(const float* x, typename S::Block* y, std::size_t n) {
  S::quantize_activation_ref(x, y, n);
};

// True when an fp16 bit pattern is Inf or NaN (exponent all ones).
constexpr bool f16_bits_not_finite(std::uint16_t h) noexcept { return (h & 0x7c00u) == 0x7c00u; }

template <class S>
inline constexpr double bits_per_weight = 8.0 * S::block_bytes / S::block_elems;

// Compile-time list of schemes (registries iterate over it).
template <class... S>
struct SchemeList {
  static constexpr std::size_t size = sizeof...(S);
  using tuple = std::tuple<S...>;  // for doctest's TEST_CASE_TEMPLATE_APPLY
  template <class F>
  static constexpr void for_each(F&& f) {
    (f.template operator()<S>(), ...);
  }
  // Position of the first T in the list; size when absent.
  template <class T>
  static constexpr std::size_t index_of = [] {
    constexpr bool same[] = {std::is_same_v<T, S>..., false};
    for (std::size_t i = 0; i < sizeof...(S); ++i) {
      if (same[i]) return i;
    }
    return sizeof...(S);
  }();
};

}  // namespace edgequant
