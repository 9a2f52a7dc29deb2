// Scalar reference dot products of a ggml weight row with its companion activation row
// (specs/ggml-quants.md §5): the oracle for the SIMD kernels (compute/vec_dot-inl.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/all.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

// The companion activation scheme of weight scheme S (ggml's vec_dot_type).
template <class S>
struct DotCompanion;
template <class S>
using DotActivation = typename DotCompanion<S>::type;

#define EDGEQUANT_DOT_COMPANION_(W, A) \
  template <>                          \
  struct DotCompanion<W> {             \
    using type = A;                    \
  };
EDGEQUANT_DOT_COMPANION_(F32, F32)
EDGEQUANT_DOT_COMPANION_(F16, F16)
EDGEQUANT_DOT_COMPANION_(BF16, BF16)
EDGEQUANT_DOT_COMPANION_(Q4_0, Q8_0)
EDGEQUANT_DOT_COMPANION_(Q5_0, Q8_0)
EDGEQUANT_DOT_COMPANION_(Q8_0, Q8_0)
EDGEQUANT_DOT_COMPANION_(IQ4_NL, Q8_0)
EDGEQUANT_DOT_COMPANION_(MXFP4, Q8_0)
EDGEQUANT_DOT_COMPANION_(NVFP4, Q8_0)
EDGEQUANT_DOT_COMPANION_(Q1_0, Q8_0)
EDGEQUANT_DOT_COMPANION_(Q2_0, Q8_0)
EDGEQUANT_DOT_COMPANION_(Q4_1, Q8_1)
EDGEQUANT_DOT_COMPANION_(Q5_1, Q8_1)
EDGEQUANT_DOT_COMPANION_(Q2_K, Q8_K)
EDGEQUANT_DOT_COMPANION_(Q3_K, Q8_K)
EDGEQUANT_DOT_COMPANION_(Q4_K, Q8_K)
EDGEQUANT_DOT_COMPANION_(Q5_K, Q8_K)
EDGEQUANT_DOT_COMPANION_(Q6_K, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ2_XXS, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ2_XS, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ2_S, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ3_XXS, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ3_S, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ1_S, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ1_M, Q8_K)
EDGEQUANT_DOT_COMPANION_(IQ4_XS, Q8_K)
EDGEQUANT_DOT_COMPANION_(TQ1_0, Q8_K)
EDGEQUANT_DOT_COMPANION_(TQ2_0, Q8_K)
#undef EDGEQUANT_DOT_COMPANION_

// Type-erased dot of n elements (a multiple of the weight block size):
// x = weight blocks, y = companion activation blocks.
using VecDotFn = float (*)(std::size_t n, const void* x, const void* y);

namespace dot_detail {

// Levels of one 32-element Q4_0/Q4_1/IQ4_NL-style nibble block: element j is
// the low nibble of qs[j], element j+16 the high one.
inline void nibbles32(const std::uint8_t* qs, int* q) noexcept {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0x0F;
    q[j + 16] = qs[j] >> 4;
  }
}
// Q5_0/Q5_1: nibble plus bit j of the little-endian qh word as bit 4.
inline void nibbles32_qh(const std::uint8_t* qs, const std::uint8_t* qh, int* q) noexcept {
  nibbles32(qs, q);
  std::uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int j = 0; j < 32; ++j) q[j] |= static_cast<int>((h >> j) & 1u) << 4;
}
inline int isum(const int* q, const std::int8_t* y, int n) noexcept {
  int s = 0;
  for (int j = 0; j < n; ++j) s += q[j] * y[j];
  return s;
}

}  // namespace dot_detail

// Scalar reference: Σ over blocks of (d_x·d_y)·Σ q_x·q_y with the integer inner
// sums of specs §5, blocks accumulated in order in float. Primary template
// (types without an integer formula here: IQ2_*, IQ3_*, IQ1_*, TQ*, MXFP4,
// NVFP4, Q1_0, Q2_0): dequantizes each weight block with the scheme's
// reference and sums w_i·q_y[i] per activation block in float, then scales by
// d_y — the same value up to float rounding of the products.
template <class S>
struct VecDotRef {
  using A = DotActivation<S>;
  static float dot(std::size_t n, const typename S::Block* x, const typename A::Block* y) noexcept {
    float w[S::block_elems];
    float sumf = 0;
    for (std::size_t ib = 0; ib < n / S::block_elems; ++ib) {
      S::dequantize_row_ref(x + ib, w, S::block_elems);
      for (std::size_t k = 0; k < S::block_elems / A::block_elems; ++k) {
        const auto& yb = y[ib * (S::block_elems / A::block_elems) + k];
        float s = 0;
        for (std::size_t j = 0; j < A::block_elems; ++j) {
          s += w[k * A::block_elems + j] * static_cast<float>(yb.qs[j]);
        }
        sumf += s * activation_scale(yb);
      }
    }
    return sumf;
  }

 private:
  static float activation_scale(const Q8_0::Block& b) noexcept { return ggml::fp32(b.d); }
  static float activation_scale(const Q8_K::Block& b) noexcept { return b.d; }
};

// Plain floats: double accumulator (ggml_float in ggml's generic path).
template <class S>
struct VecDotFloatRef {
  static float dot(std::size_t n, const typename S::Block* x, const typename S::Block* y) noexcept {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
      float a, b;
      S::dequantize_row_ref(x + i, &a, 1);
      S::dequantize_row_ref(y + i, &b, 1);
      s += static_cast<double>(a) * static_cast<double>(b);
    }
    return static_cast<float>(s);
  }
};
template <>
struct VecDotRef<F32> : VecDotFloatRef<F32> {};
template <>
struct VecDotRef<F16> : VecDotFloatRef<F16> {};
template <>
struct VecDotRef<BF16> : VecDotFloatRef<BF16> {};

// Weight types with signed levels L (value L·d) against Q8_0.
template <class S, int (*Levels)(const typename S::Block&, int*),
          float (*Scale)(const typename S::Block&)>
struct VecDotQ8_0Ref {
  static float dot(std::size_t n, const typename S::Block* x, const Q8_0::Block* y) noexcept {
    float sumf = 0;
    int q[32];
    for (std::size_t i = 0; i < n / 32; ++i) {
      Levels(x[i], q);
      const int s = dot_detail::isum(q, y[i].qs, 32);
      sumf += static_cast<float>(s) * (Scale(x[i]) * ggml::fp32(y[i].d));
    }
    return sumf;
  }
};
namespace dot_detail {
inline int q4_0_levels(const Q4_0::Block& b, int* q) noexcept {
  nibbles32(b.qs, q);
  for (int j = 0; j < 32; ++j) q[j] -= 8;
  return 0;
}
inline int q5_0_levels(const Q5_0::Block& b, int* q) noexcept {
  nibbles32_qh(b.qs, b.qh, q);
  for (int j = 0; j < 32; ++j) q[j] -= 16;
  return 0;
}
inline int q8_0_levels(const Q8_0::Block& b, int* q) noexcept {
  for (int j = 0; j < 32; ++j) q[j] = b.qs[j];
  return 0;
}
inline int iq4_nl_levels(const IQ4_NL::Block& b, int* q) noexcept {
  nibbles32(b.qs, q);
  for (int j = 0; j < 32; ++j) q[j] = ggml::kValuesIq4nl[q[j]];
  return 0;
}
template <class B>
float d_of(const B& b) noexcept {
  return ggml::fp32(b.d);
}
}  // namespace dot_detail
template <>
struct VecDotRef<Q4_0> : VecDotQ8_0Ref<Q4_0, &dot_detail::q4_0_levels, &dot_detail::d_of> {};
template <>
struct VecDotRef<Q5_0> : VecDotQ8_0Ref<Q5_0, &dot_detail::q5_0_levels, &dot_detail::d_of> {};
template <>
struct VecDotRef<Q8_0> : VecDotQ8_0Ref<Q8_0, &dot_detail::q8_0_levels, &dot_detail::d_of> {};
template <>
struct VecDotRef<IQ4_NL> : VecDotQ8_0Ref<IQ4_NL, &dot_detail::iq4_nl_levels, &dot_detail::d_of> {};

// Q4_1/Q5_1 · Q8_1: d_x·d_y·Σq_x·q_y + m_x·s_y (s_y = fp16(d_y·Σq_y), may be ±Inf).
template <class S>
struct VecDotQ8_1Ref {
  static float dot(std::size_t n, const typename S::Block* x, const Q8_1::Block* y) noexcept {
    float sumf = 0;
    int q[32];
    for (std::size_t i = 0; i < n / 32; ++i) {
      if constexpr (std::is_same_v<S, Q4_1>) {
        dot_detail::nibbles32(x[i].qs, q);
      } else {
        dot_detail::nibbles32_qh(x[i].qs, x[i].qh, q);
      }
      const int s = dot_detail::isum(q, y[i].qs, 32);
      sumf += (ggml::fp32(x[i].d) * ggml::fp32(y[i].d)) * static_cast<float>(s) +
              ggml::fp32(x[i].m) * ggml::fp32(y[i].s);
    }
    return sumf;
  }
};
template <>
struct VecDotRef<Q4_1> : VecDotQ8_1Ref<Q4_1> {};
template <>
struct VecDotRef<Q5_1> : VecDotQ8_1Ref<Q5_1> {};

// K-quants and IQ4_XS · Q8_K: per super-block an integer Σ_j scale_j·Σ q·y,
// minus the mins through the activation's 16-element bsums.
template <>
struct VecDotRef<Q2_K> {
  static float dot(std::size_t n, const Q2_K::Block* x, const Q8_K::Block* y) noexcept {
    float sumf = 0;
    for (std::size_t i = 0; i < n / 256; ++i) {
      int isum = 0, summs = 0;
      for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int k = 0; k < 16; ++k) {
          const int e = 16 * j + k, r = e % 128;
          const int q = (x[i].qs[32 * (e / 128) + r % 32] >> (2 * (r / 32))) & 3;
          s += q * y[i].qs[e];
        }
        isum += (x[i].scales[j] & 0xF) * s;
        summs += (x[i].scales[j] >> 4) * y[i].bsums[j];
      }
      const float dall = y[i].d * ggml::fp32(x[i].d);
      const float dmin = y[i].d * ggml::fp32(x[i].dmin);
      sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
    return sumf;
  }
};
template <>
struct VecDotRef<Q3_K> {
  static float dot(std::size_t n, const Q3_K::Block* x, const Q8_K::Block* y) noexcept {
    float sumf = 0;
    for (std::size_t i = 0; i < n / 256; ++i) {
      int isum = 0;
      for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int k = 0; k < 16; ++k) {
          const int e = 16 * j + k, r = e % 128;
          const int q = (x[i].qs[32 * (e / 128) + r % 32] >> (2 * (r / 32))) & 3;
          const int h = (x[i].hmask[e % 32] >> (e / 32)) & 1;
          s += (q - (h ? 0 : 4)) * y[i].qs[e];
        }
        isum += ggml::q3_k_scale(j, x[i].scales) * s;
      }
      sumf += (ggml::fp32(x[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sumf;
  }
};
// Q4_K/Q5_K: 8 sub-blocks of 32, 6-bit scales and mins.
template <class S>
struct VecDotQ45KRef {
  static float dot(std::size_t n, const typename S::Block* x, const Q8_K::Block* y) noexcept {
    float sumf = 0;
    for (std::size_t i = 0; i < n / 256; ++i) {
      int isum = 0, summs = 0;
      for (int j = 0; j < 8; ++j) {
        std::uint8_t sc, m;
        ggml::get_scale_min_k4(j, x[i].scales, &sc, &m);
        const int c = j / 2, hi = j % 2;
        int s = 0;
        for (int l = 0; l < 32; ++l) {
          int q = (x[i].qs[32 * c + l] >> (4 * hi)) & 0xF;
          if constexpr (std::is_same_v<S, Q5_K>) q |= ((x[i].qh[l] >> (2 * c + hi)) & 1) << 4;
          s += q * y[i].qs[32 * j + l];
        }
        isum += sc * s;
        summs += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
      }
      const float dall = y[i].d * ggml::fp32(x[i].d);
      const float dmin = y[i].d * ggml::fp32(x[i].dmin);
      sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
    return sumf;
  }
};
template <>
struct VecDotRef<Q4_K> : VecDotQ45KRef<Q4_K> {};
template <>
struct VecDotRef<Q5_K> : VecDotQ45KRef<Q5_K> {};
template <>
struct VecDotRef<Q6_K> {
  static float dot(std::size_t n, const Q6_K::Block* x, const Q8_K::Block* y) noexcept {
    float sumf = 0;
    for (std::size_t i = 0; i < n / 256; ++i) {
      int isum = 0;
      for (int j = 0; j < 16; ++j) {
        int s = 0;
        for (int k = 0; k < 16; ++k) {
          const int e = 16 * j + k, h = e / 128, r = e % 128, l = r % 32, quarter = r / 32;
          const int lo = (x[i].ql[64 * h + 32 * (quarter & 1) + l] >> (4 * (quarter >> 1))) & 0xF;
          const int hi = (x[i].qh[32 * h + l] >> (2 * quarter)) & 3;
          s += ((lo | hi << 4) - 32) * y[i].qs[e];
        }
        isum += x[i].scales[j] * s;
      }
      sumf += (ggml::fp32(x[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sumf;
  }
};
template <>
struct VecDotRef<IQ4_XS> {
  static float dot(std::size_t n, const IQ4_XS::Block* x, const Q8_K::Block* y) noexcept {
    float sumf = 0;
    int q[32];
    for (std::size_t i = 0; i < n / 256; ++i) {
      int isum = 0;
      for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                       (((x[i].scales_h >> (2 * ib)) & 3) << 4);
        dot_detail::nibbles32(x[i].qs + 16 * ib, q);
        for (int j = 0; j < 32; ++j) q[j] = ggml::kValuesIq4nl[q[j]];
        isum += (ls - 32) * dot_detail::isum(q, y[i].qs + 32 * ib, 32);
      }
      sumf += (ggml::fp32(x[i].d) * y[i].d) * static_cast<float>(isum);
    }
    return sumf;
  }
};

// Type-erased scalar reference of S.
template <class S>
float vec_dot_ref_erased(std::size_t n, const void* x, const void* y) noexcept {
  return VecDotRef<S>::dot(n, static_cast<const typename S::Block*>(x),
                           static_cast<const typename DotActivation<S>::Block*>(y));
}

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
