// ggml IQ4_NL: 32 weights as indices into a fixed non-linear 16-value table and
// one fp16 scale (specs/ggml-quants.md §4.23). Also holds the IQ4 table, its
// nearest-index rule and the per-32 scale search that IQ4_XS shares.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {
namespace ggml {

// kvalues_iq4nl (§3): the 16 levels, sorted ascending.
inline constexpr std::int8_t kValuesIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                 1,    13,   25,  38,  53,  69,  89,  113};

// best_index_int8 (§0.2) over kValuesIq4nl: clamp to the ends, else binary
// search for t[lo] <= x < t[hi] and pick the nearer; an exact tie goes to the
// upper index (the comparison is strict). NaN falls through to 15.
EDGEQUANT_HOST_DEVICE constexpr int best_index_iq4nl(float x) noexcept {
  const std::int8_t* t = kValuesIq4nl;
  if (x <= t[0]) return 0;
  if (x >= t[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < t[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return x - static_cast<float>(t[lo]) < static_cast<float>(t[hi]) - x ? lo : hi;
}

// The 15 decision boundaries of best_index_iq4nl: index(x) = number of k with
// !(x < kIq4nlBoundary[k]) (so NaN counts all 15). Boundary k is the smallest
// float whose index is > k; index(x) is monotone in x, so comparing against
// these is exact for every float. Found by stepping float by float from the
// midpoint of t[k], t[k+1] with the reference rule itself (compile time).
namespace detail {
constexpr float iq4nl_next_down(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) == 0) return -std::bit_cast<float>(1u);  // below ±0
  return std::bit_cast<float>((u >> 31) ? u + 1 : u - 1);
}
constexpr float iq4nl_next_up(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) == 0) return std::bit_cast<float>(1u);
  return std::bit_cast<float>((u >> 31) ? u - 1 : u + 1);
}
struct Iq4nlBoundaries {
  float b[15];
};
constexpr Iq4nlBoundaries make_iq4nl_boundaries() {
  Iq4nlBoundaries r{};
  for (int k = 0; k < 15; ++k) {
    // Start at the exact midpoint (a half-integer, representable) and walk.
    float f = 0.5f * static_cast<float>(kValuesIq4nl[k] + kValuesIq4nl[k + 1]);
    while (best_index_iq4nl(f) > k) f = iq4nl_next_down(f);
    while (best_index_iq4nl(f) <= k) f = iq4nl_next_up(f);
    r.b[k] = f;
  }
  return r;
}
}  // namespace detail
inline constexpr detail::Iq4nlBoundaries kIq4nlBoundaries = detail::make_iq4nl_boundaries();

// The boundaries arranged for a 4-step binary search over lanes (index bits
// 8, 4, 2, 1) and the levels as floats; tables padded to 16 lanes.
struct alignas(64) Iq4nlSearchTables {
  float quarter[16];  // boundaries 2, 6, 10, 14 (index >= 2, 6, 10, 14), by index >> 2
  float odd[16];      // boundaries 1, 3, ..., 15, by index >> 1
  float value[16];    // kValuesIq4nl as float
};
namespace detail {
constexpr Iq4nlSearchTables make_iq4nl_search_tables() {
  Iq4nlSearchTables t{};
  // index >= i  <=>  !(x < kIq4nlBoundaries.b[i - 1])
  for (int k = 0; k < 4; ++k) t.quarter[k] = kIq4nlBoundaries.b[4 * k + 1];
  for (int k = 0; k < 8; ++k) t.odd[k] = kIq4nlBoundaries.b[2 * k];
  for (int k = 0; k < 16; ++k) t.value[k] = static_cast<float>(kValuesIq4nl[k]);
  return t;
}
}  // namespace detail
inline constexpr Iq4nlSearchTables kIq4nlSearch = detail::make_iq4nl_search_tables();

// Steps 2-4 of quantize_row_iq4_nl_impl (§4.23) for one 32-element block with
// ntry = 7: the scale of the best of 16 candidate grids (0 when the block is
// below GROUP_MAX_EPS). Sums in element order, products as written.
inline float iq4_block_scale(const float* xb, const float* weight) noexcept {
  float amax = 0, max = 0;
  for (int j = 0; j < 32; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  if (amax < kGroupMaxEps) return 0.f;
  const float v0 = kValuesIq4nl[0];
  float d = -max / v0;
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < 32; ++j) {
    const float q = kValuesIq4nl[best_index_iq4nl(id * xb[j])];
    const float w = weight[j];
    sumqx += w * q * xb[j];
    sumq2 += w * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
  float best = d * sumqx;
  for (int itry = -7; itry <= 7; ++itry) {
    id = static_cast<float>(itry + kValuesIq4nl[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const float q = kValuesIq4nl[best_index_iq4nl(id * xb[j])];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

// Per-element weights of quantize_row_iq4_nl_impl: qw*sqrt(sigma2 + x²) with
// importance, x² without.
inline void iq4_weights(const float* xb, const float* qw, float sigma2, float* weight) noexcept {
  if (qw != nullptr) {
    for (int j = 0; j < 32; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
  } else {
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
  }
}

// Σ x² over n elements in order, times 2/n (the IQ4 sigma2).
inline float iq4_sigma2(const float* x, int n) noexcept {
  float s = 0;
  for (int j = 0; j < n; ++j) s += x[j] * x[j];
  return s * (2.f / static_cast<float>(n));
}

}  // namespace ggml

struct IQ4_NL {
  static constexpr std::string_view name = "iq4_nl";
  static constexpr GgmlType ggml_type = GgmlType::kIQ4_NL;
  static constexpr std::size_t block_elems = 32, block_bytes = 18;
  struct Block {
    f16_bits d;           // scale (may be negative)
    std::uint8_t qs[16];  // table index of x[j] low nibble, x[j+16] high nibble
  };

  // quantize_iq4_nl, the ggml_quantize_chunk path (ntry = 7, then re-index
  // with the unrounded scale), not quantize_row_iq4_nl_ref (ntry = -1).
  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    float weight[32];
    for (std::size_t ib = 0; ib < n / block_elems; ++ib) {
      const float* xb = x + ib * block_elems;
      const float sigma2 = ggml::iq4_sigma2(xb, 32);
      ggml::iq4_weights(xb, importance ? importance + ib * block_elems : nullptr, sigma2, weight);
      const float scale = ggml::iq4_block_scale(xb, weight);
      y[ib].d = ggml::fp16(scale);
      const float id = scale != 0.f ? 1 / scale : 0.f;
      for (int j = 0; j < 16; ++j) {
        const int lo = ggml::best_index_iq4nl(id * xb[j]);
        const int hi = ggml::best_index_iq4nl(id * xb[j + 16]);
        y[ib].qs[j] = static_cast<std::uint8_t>(lo | (hi << 4));
      }
    }
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d)) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      float* yb = y + i * block_elems;
      for (int j = 0; j < 16; ++j) {
        yb[j] = d * static_cast<float>(ggml::kValuesIq4nl[x[i].qs[j] & 0x0F]);
        yb[j + 16] = d * static_cast<float>(ggml::kValuesIq4nl[x[i].qs[j] >> 4]);
      }
    }
  }
};
static_assert(GgmlScheme<IQ4_NL>);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
