// Unquantized ggml element types as one-element "schemes": F32, F16, BF16
// (specs/ggml-quants.md §4.1), so converters treat every tensor type alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/schemes/scheme.hpp"

namespace edgequant {

namespace detail {
// Index of the first element whose bits have all of `mask` set (an Inf/NaN
// exponent), or n. Branch-free chunks let the compiler vectorise the common
// case where every element is valid.
template <class Block>
std::size_t first_with_bits(const Block* b, std::size_t n, std::uint16_t mask) noexcept {
  constexpr std::size_t kStep = 256;
  std::size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    unsigned bad = 0;
    for (std::size_t j = 0; j < kStep; ++j) bad |= (b[i + j].v & mask) == mask;
    if (bad) break;
  }
  for (; i < n; ++i) {
    if ((b[i].v & mask) == mask) return i;
  }
  return n;
}
}  // namespace detail

struct F32 {
  static constexpr std::string_view name = "f32";
  static constexpr GgmlType ggml_type = GgmlType::kF32;
  static constexpr std::size_t block_elems = 1, block_bytes = 4;
  struct Block {
    float v;
  };
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    if (n) std::memcpy(y, x, n * sizeof(float));
  }
  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) y[i] = x[i].v;
  }
};

struct F16 {
  static constexpr std::string_view name = "f16";
  static constexpr GgmlType ggml_type = GgmlType::kF16;
  static constexpr std::size_t block_elems = 1, block_bytes = 2;
  struct Block {
    f16_bits v;  // IEEE binary16, round to nearest even
  };
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n; ++i) y[i].v = f32_to_f16(x[i]);
  }
  // Finite inputs of magnitude >= 65520 round to Inf.
  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    return detail::first_with_bits(b, nb, 0x7c00u);  // f16_bits_not_finite
  }
  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i].v);
  }
};

struct BF16 {
  static constexpr std::string_view name = "bf16";
  static constexpr GgmlType ggml_type = GgmlType::kBF16;
  static constexpr std::size_t block_elems = 1, block_bytes = 2;
  struct Block {
    bf16_bits v;  // ggml's rounding: nearest even, NaN made quiet
  };
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n; ++i) y[i].v = f32_to_bf16(x[i]);
  }
  // Finite inputs within half an ulp of FLT_MAX round to Inf.
  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    return detail::first_with_bits(b, nb, 0x7f80u);
  }
  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i].v);
  }
};

static_assert(GgmlScheme<F32> && GgmlScheme<F16> && GgmlScheme<BF16>);

}  // namespace edgequant
