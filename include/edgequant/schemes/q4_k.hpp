// ggml Q4_K: 256 weights in 8 sub-blocks of 32, 4-bit levels with 6-bit
// scales and mins (specs/ggml-quants.md §4.10). The scale/min stages are
// shared with Q5_K (detail::ScaleMinK4).
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
namespace detail {

// The parts of Q4_K and Q5_K that differ only in nmax (15 / 31) and the
// search parameters: per-sub-block search, 6-bit scales and mins, and the
// re-quantization with the stored values.
template <int kNmax>
struct ScaleMinK4 {
  // Per-sub-block search of the reference quantizer (no importance):
  // weights av_x + |x| with av_x the sub-block's RMS.
  static void search_ref(const float* xb, float rmin, float rdelta, int nstep, std::uint8_t* L,
                         float* scales, float* mins) noexcept {
    float weights[32];
    std::uint8_t Laux[32];
    for (int j = 0; j < 8; ++j) {
      const float* xs = xb + 32 * j;
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
      scales[j] = ggml::make_qkx2_quants(32, kNmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin,
                                         rdelta, nstep, false);
    }
  }

  // Per-sub-block search with importance (quantize_row_q{4,5}_K_impl):
  // sigma2 = 2 Σx²/256 of the super-block, weights qw * sqrt(sigma2 + x²).
  static void search_weighted(const float* xb, const float* qw, std::uint8_t* L, float* scales,
                              float* mins, float* sw) noexcept {
    float sum_x2 = 0;
    for (int l = 0; l < 256; ++l) sum_x2 += xb[l] * xb[l];
    const float sigma2 = 2 * sum_x2 / 256;
    float weights[32];
    std::uint8_t Laux[32];
    for (int j = 0; j < 8; ++j) {
      for (int l = 0; l < 32; ++l) {
        weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + xb[32 * j + l] * xb[32 * j + l]);
      }
      float sumw = 0;
      for (int l = 0; l < 32; ++l) sumw += weights[l];
      sw[j] = sumw;
      scales[j] = ggml::make_qkx3_quants(32, kNmax, xb + 32 * j, weights, L + 32 * j, &mins[j],
                                         Laux, -0.9f, 0.05f, 36, false);
    }
  }

  // 6-bit scales and mins relative to the largest (reference quantizer).
  static void set_scales(const float* scales, const float* mins, std::uint8_t* packed, f16_bits& d,
                         f16_bits& dmin) noexcept {
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < 8; ++j) {
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    std::uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      // uint8 first (a negative level wraps), then MIN(63, .).
      ls[j] = ggml::min_of<std::uint8_t>(
          63, static_cast<std::uint8_t>(ggml::nearest_int(inv_scale * scales[j])));
      lm[j] = ggml::min_of<std::uint8_t>(
          63, static_cast<std::uint8_t>(ggml::nearest_int(inv_min * mins[j])));
    }
    ggml::pack_scale_min_k4(ls, lm, packed);
    d = ggml::fp16(max_scale / 63.f);
    dmin = ggml::fp16(max_min / 63.f);
  }

  // Scales and mins by make_qp_quants weighted by the sub-block weight sums.
  // Q5_K clamps the levels to 63 afterwards, Q4_K does not (`clamp63`).
  static void set_scales_weighted(const float* scales, const float* mins, const float* sw,
                                  bool clamp63, std::uint8_t* packed, f16_bits& d,
                                  f16_bits& dmin) noexcept {
    std::uint8_t Ls[8], Lm[8];
    const float d_block = ggml::make_qp_quants(8, 63, scales, Ls, sw);
    const float m_block = ggml::make_qp_quants(8, 63, mins, Lm, sw);
    if (clamp63) {
      for (int j = 0; j < 8; ++j) {
        Ls[j] = ggml::min_of<std::uint8_t>(63, Ls[j]);
        Lm[j] = ggml::min_of<std::uint8_t>(63, Lm[j]);
      }
    }
    ggml::pack_scale_min_k4(Ls, Lm, packed);
    d = ggml::fp16(d_block);
    dmin = ggml::fp16(m_block);
  }

  // Stored scale and min of sub-block j.
  static void sub_scale_min(const std::uint8_t* packed, f16_bits d, f16_bits dmin, int j, float* dd,
                            float* dm) noexcept {
    std::uint8_t sc, m;
    ggml::get_scale_min_k4(j, packed, &sc, &m);
    *dd = ggml::fp32(d) * static_cast<float>(sc);
    *dm = ggml::fp32(dmin) * static_cast<float>(m);
  }

  // Re-quantizes the sub-blocks whose stored scale is non-zero; the others
  // keep the search's levels.
  static void requantize(const float* xb, const std::uint8_t* packed, f16_bits d, f16_bits dmin,
                         std::uint8_t* L) noexcept {
    for (int j = 0; j < 8; ++j) {
      float dd, dm;
      sub_scale_min(packed, d, dmin, j, &dd, &dm);
      if (dd == 0) continue;
      for (int ii = 0; ii < 32; ++ii) {
        const int l = ggml::nearest_int((xb[32 * j + ii] + dm) / dd);
        L[32 * j + ii] = static_cast<std::uint8_t>(ggml::max_of(0, ggml::min_of(kNmax, l)));
      }
    }
  }
};

}  // namespace detail

struct Q4_K {
  static constexpr std::string_view name = "q4_K";
  static constexpr GgmlType ggml_type = GgmlType::kQ4_K;
  static constexpr std::size_t block_elems = 256, block_bytes = 144;
  static constexpr float max_abs_input = ggml::kKQuantMaxAbsInput;
  using Stages = detail::ScaleMinK4<15>;
  struct Block {
    f16_bits d;               // scale of the scales
    f16_bits dmin;            // scale of the mins
    std::uint8_t scales[12];  // 8 six-bit scales and mins (ggml::pack_scale_min_k4)
    std::uint8_t qs[128];     // chunk c = e/64: e = 64c + l low nibble of qs[32c + l],
                              // 64c + 32 + l high nibble
  };

  static void quantize_row_ref(const float* x, Block* y, std::size_t n,
                               const float* importance = nullptr) noexcept {
    std::uint8_t L[256];
    float scales[8], mins[8], sw[8];
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float* xb = x + i * block_elems;
      if (importance == nullptr) {
        Stages::search_ref(xb, -1.f, 0.1f, 20, L, scales, mins);
        Stages::set_scales(scales, mins, y[i].scales, y[i].d, y[i].dmin);
      } else {
        Stages::search_weighted(xb, importance + i * block_elems, L, scales, mins, sw);
        Stages::set_scales_weighted(scales, mins, sw, false, y[i].scales, y[i].d, y[i].dmin);
      }
      Stages::requantize(xb, y[i].scales, y[i].d, y[i].dmin, L);
      pack(L, y[i]);
    }
  }

  static std::size_t first_invalid_block(const Block* b, std::size_t nb) noexcept {
    for (std::size_t i = 0; i < nb; ++i) {
      if (f16_bits_not_finite(b[i].d) || f16_bits_not_finite(b[i].dmin)) return i;
    }
    return nb;
  }

  EDGEQUANT_HOST_DEVICE static void dequantize_row_ref(const Block* x, float* y,
                                                       std::size_t n) noexcept {
    for (std::size_t i = 0; i < n / block_elems; ++i) {
      const float d = ggml::fp32(x[i].d);
      const float min = ggml::fp32(x[i].dmin);
      float* yb = y + i * block_elems;
      for (int j = 0; j < 8; ++j) {
        std::uint8_t sc, m;
        ggml::get_scale_min_k4(j, x[i].scales, &sc, &m);
        const float d1 = d * static_cast<float>(sc);
        const float m1 = min * static_cast<float>(m);
        const std::uint8_t* q = x[i].qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int l = 0; l < 32; ++l) {
          yb[32 * j + l] = d1 * static_cast<float>((q[l] >> shift) & 0xF) - m1;
        }
      }
    }
  }

  static void pack(const std::uint8_t* L, Block& b) noexcept {
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        b.qs[32 * c + l] = static_cast<std::uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
      }
    }
  }
};
static_assert(GgmlScheme<Q4_K>);
static_assert(sizeof(Q4_K::Block) == 144);

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
