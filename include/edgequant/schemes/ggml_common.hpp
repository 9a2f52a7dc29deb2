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

// True when 1/d overflowed to Inf (a block whose largest |x| is below about
// 2^-125). ggml then converts Inf/NaN to int8 with cvttss2si, which gives
// 0x80000000 on x86 (the reference platform of the golden data): the low
// byte, so every level, is 0. Our quantizers write that instead of UB.
inline bool inverse_scale_overflowed(float id) noexcept { return std::isinf(id); }

// ---- K-quant scale searches and scale packing (§2.2–§2.6) ----

// Largest |x| the K-quant schemes accept (their max_abs_input). Every K-quant
// tops out below 3e8 (fp16 d * largest scale * largest level), so larger
// inputs only ever give an infinite d, except that past about 1e17 the
// reference's weighted sums overflow to NaN and the block silently decodes
// to zeros (a NaN sub-block scale reads as 0). Refusing them up front keeps
// every outcome an error rather than lost data.
inline constexpr float kKQuantMaxAbsInput = 4294967296.f;  // 2^32

// make_q3_quants with do_rmse = true (§2.2): signed levels in [0, 2*nmax)
// refined by up to 5 passes of coordinate descent, weights x*x.
inline float make_q3_quants(int n, int nmax, const float* x, std::int8_t* L) noexcept {
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
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = max_of(-nmax, min_of(nmax - 1, l));
    L[i] = static_cast<std::int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (slx > 0) {
        float sl2 = suml2 - w * li * li;
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = max_of(-nmax, min_of(nmax - 1, new_l));
        if (new_l != L[i]) {
          const float nl = static_cast<float>(new_l);
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(L[i] + nmax);
  return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

// make_qkx2_quants (§2.3): asymmetric scale + min search over `nstep + 1`
// candidate scales, weighted squared (or absolute, `use_mad`) error. Levels
// L in [0, nmax]; writes the_min = -min (>= 0) and returns the scale. Note
// that `min` is replaced by each accepted candidate's min, and later
// candidates are built from it.
inline float make_qkx2_quants(int n, int nmax, const float* x, const float* weights,
                              std::uint8_t* L, float* the_min, std::uint8_t* Laux, float rmin,
                              float rdelta, int nstep, bool use_mad) noexcept {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(max_of(0, min_of(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
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
      const float w = weights[i];
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
      float cur = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur += weights[i] * diff;
      }
      if (cur < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// make_qkx3_quants (§2.4): make_qkx2_quants with optional weights (null:
// x*x) and the degenerate test `max <= min`.
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

// make_qp_quants (§2.5): quantizes non-negative values (sub-block scales or
// mins) to [0, nmax] with weights qw. L is uint8 and every later read uses the
// stored byte (a negative level wraps to 256 + l).
inline float make_qp_quants(int n, int nmax, const float* x, std::uint8_t* L,
                            const float* qw) noexcept {
  float max = 0;
  for (int i = 0; i < n; ++i) max = max_of(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<std::uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += qw[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + fnmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = min_of(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * static_cast<float>(l);
      mse += qw[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = min_of(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<std::uint8_t>(l);
    const float fl = static_cast<float>(l);
    sumlx += qw[i] * x[i] * fl;
    suml2 += qw[i] * fl * fl;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = qw[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0 && sl2 > 0) {
        const int new_l = min_of(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          const float nl = static_cast<float>(new_l);
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Q4_K/Q5_K 12-byte scales (§2.6): 8 six-bit scales `ls` and mins `lm`.
// Bytes 0-3: scale j (bits 0-5) + bits 4-5 of scale j+4 (bits 6-7); bytes
// 4-7: min j + bits 4-5 of min j+4; bytes 8-11: low nibbles of scale and
// min j+4. Only the low 6 bits of each value are kept.
EDGEQUANT_HOST_DEVICE inline void pack_scale_min_k4(const std::uint8_t* ls, const std::uint8_t* lm,
                                                    std::uint8_t* q) noexcept {
  for (int j = 0; j < 4; ++j) {
    q[j] = ls[j];
    q[j + 4] = lm[j];
  }
  for (int j = 4; j < 8; ++j) {
    q[j + 4] = static_cast<std::uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
    q[j - 4] = static_cast<std::uint8_t>(q[j - 4] | ((ls[j] >> 4) << 6));
    q[j] = static_cast<std::uint8_t>(q[j] | ((lm[j] >> 4) << 6));
  }
}

// get_scale_min_k4: scale and min of sub-block j from the packed bytes.
EDGEQUANT_HOST_DEVICE inline void get_scale_min_k4(int j, const std::uint8_t* q, std::uint8_t* sc,
                                                   std::uint8_t* m) noexcept {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q3_K 12-byte scales (§2.6): 16 six-bit values s[j] (biased by 32). Low
// nibble of s[j] in byte j (j < 8, bits 0-3) or byte j-8 (bits 4-7); its top
// two bits in byte 8 + j%4 at bit 2*(j/4).
EDGEQUANT_HOST_DEVICE inline void pack_q3_k_scales(const int* s, std::uint8_t* q) noexcept {
  for (int j = 0; j < 12; ++j) q[j] = 0;
  for (int j = 0; j < 16; ++j) {
    const int l = s[j];
    if (j < 8) {
      q[j] = static_cast<std::uint8_t>(l & 0xF);
    } else {
      q[j - 8] = static_cast<std::uint8_t>(q[j - 8] | ((l & 0xF) << 4));
    }
    q[8 + j % 4] = static_cast<std::uint8_t>(q[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
  }
}

// Signed scale of Q3_K sub-block j (the stored value minus 32).
EDGEQUANT_HOST_DEVICE inline int q3_k_scale(int j, const std::uint8_t* q) noexcept {
  const int lo = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
  const int hi = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

}  // namespace edgequant::ggml

EDGEQUANT_FP_STRICT_END
