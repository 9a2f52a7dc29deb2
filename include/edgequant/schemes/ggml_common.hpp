// Numeric primitives and scale searches shared by the ggml quantizers
// (specs/ggml-quants.md §0.2 and §2). Scalar reference code: float32 only,
// every operation rounded separately, in the reference's order.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgequant/core/config.hpp"
#include "edgequant/core/float_convert.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant::ggml {

inline constexpr int kQK_K = 256;           // super-block size
inline constexpr float kGroupMaxEps = 1e-15f;  // §0.2 GROUP_MAX_EPS

// nearest_int (§0.2): add 1.5*2^23 and read the low mantissa bits. Equals rintf
// (round half to even) for |f| <= 4194303.
EDGEQUANT_HOST_DEVICE inline int nearest_int(float fval) noexcept {
  const float val = fval + 12582912.f;
  std::int32_t i;
  std::memcpy(&i, &val, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// MAX/MIN macros of ggml: `a > b ? a : b` (NaN and signed-zero behaviour matter).
template <class T>
EDGEQUANT_HOST_DEVICE constexpr T max_of(T a, T b) noexcept {
  return a > b ? a : b;
}
template <class T>
EDGEQUANT_HOST_DEVICE constexpr T min_of(T a, T b) noexcept {
  return a < b ? a : b;
}

inline f16_bits fp16(float f) noexcept { return f32_to_f16(f); }
EDGEQUANT_HOST_DEVICE inline float fp32(f16_bits h) noexcept { return f16_to_f32(h); }

// make_qx_quants with rmse_type = 1 (§2.1): signed symmetric levels in
// [0, 2*nmax), weights `qw` or x*x. Returns the scale.
inline float make_qx_quants(int n, int nmax, const float* x, std::int8_t* L,
                            const float* qw) noexcept {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = max_of(-nmax, min_of(nmax - 1, l));
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = qw ? qw[i] : x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = max_of(-nmax, min_of(nmax - 1, l));
      const float w = qw ? qw[i] : x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * x[i]);
        L[i] = static_cast<std::int8_t>(nmax + max_of(-nmax, min_of(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Σ x² / n over a whole row: ggml's sigma2 for the legacy imatrix quantizers.
inline float row_sigma2(const float* x, std::size_t n) noexcept {
  float sum_x2 = 0;
  for (std::size_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

// True when 1/d overflowed to Inf (a block whose largest |x| is below about
// 2^-125). ggml then converts Inf/NaN to int8 with cvttss2si, which gives
// 0x80000000 on x86 (the reference platform of the golden data): the low
// byte, so every level, is 0. Our quantizers write that instead of UB.
inline bool inverse_scale_overflowed(float id) noexcept { return std::isinf(id); }

// make_qkx3_quants (§2.4): asymmetric scale + min search over `nstep + 1`
// candidate scales, weighted squared (or absolute, `use_mad`) error. Levels
// L in [0, nmax]; writes the_min = -min (>= 0) and returns the scale.
// `weights` null means x*x. Every sum is sequential in element order.
inline float make_qkx3_quants(int n, int nmax, const float* x, const float* weights,
                              std::uint8_t* L, float* the_min, std::uint8_t* Laux, float rmin,
                              float rdelta, int nstep, bool use_mad) noexcept {
  auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  float min = x[0];
  float max = x[0];
  float sum_w = weight(0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weight(i);
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max <= min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(max_of(0, min_of(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_mad += weight(i) * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = max_of(0, min_of(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = static_cast<std::uint8_t>(l);
      const float w = weight(i);
      const float fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        mad += weight(i) * diff;
      }
      if (mad < best_mad) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

}  // namespace edgequant::ggml

EDGEQUANT_FP_STRICT_END
