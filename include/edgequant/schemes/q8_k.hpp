// ggml Q8_K: 256 int8 values, a float32 scale and 16 int16 sums of 16 values;
// the activation type of the K-quant and IQ dot products
// (specs/ggml-quants.md §4.13, §5).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

struct Q8_K {
  static constexpr std::string_view name = "q8_K";
  static constexpr GgmlType ggml_type = GgmlType::kQ8_K;
  static constexpr std::size_t block_elems = 256, block_bytes = 292;
  struct Block {
    float d;                 // scale = max / -127 (sign of the first largest |x|)
    std::int8_t qs[256];     // x[j] ≈ qs[j] * d
    std::int16_t bsums[16];  // Σ qs[16k .. 16k+15]
  };

  // quantize_row_q8_K_ref; the importance weights are ignored. On x86 the CPU
  // backend's activation quantizer is this same routine.
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* /*importance*/ = nullptr) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      float max = 0;
      float amax = 0;
      for (std::size_t j = 0; j < block_elems; ++j) {
        const float ax = std::fabs(xb[j]);
        if (ax > amax) {
          amax = ax;
          max = xb[j];
        }
      }
      if (amax == 0.0f) {
        // ggml leaves bsums unwritten here; the golden data (and we) have zeros.
        y[i] = Block{};
        continue;
      }
      // -127 rather than -128 (ggml: keeps its AVX IQ2_XXS dot simple).
      const float iscale = -127.f / max;
      for (std::size_t j = 0; j < block_elems; ++j) {
        // MIN(127, v) stored to int8: an Inf iscale (max below ~2^-126) gives
        // v = -4194304 from nearest_int, whose low byte is 0.
        y[i].qs[j] = static_cast<std::int8_t>(ggml::min_of(127, ggml::nearest_int(iscale * xb[j])));
      }
      for (std::size_t k = 0; k < 16; ++k) {
        int sum = 0;
        for (std::size_t j = 0; j < 16; ++j) sum += y[i].qs[16 * k + j];
        y[i].bsums[k] = static_cast<std::int16_t>(sum);
      }
      y[i].d = 1 / iscale;
    }
  }

  static void quantize_activation_ref(const float* x, Block* y, std::size_t n) noexcept {
    quantize_row_ref(x, y, n);
  }

  // ggml_validate_row_data: a non-finite d.
  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (!std::isfinite(b[i].d)) return i;
    }
    return nb;
  }

  // dequantize_row_q8_K (ggml has it, though not as the type's to_float).
  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      for (std::size_t j = 0; j < block_elems; ++j) {
        y[i * block_elems + j] = x[i].d * static_cast<float>(x[i].qs[j]);
      }
    }
  }
};
static_assert(GgmlScheme<Q8_K> && HasActivation<Q8_K>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
