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

inline constexpr int kQK_K = 256;              // super-block size
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

}  // namespace edgequant::ggml

EDGEQUANT_FP_STRICT_END
