// SIMD kernels for Q2_K (Highway per-target header). The scale search runs
// one sub-block per lane (ggml_common-inl.hpp); re-quantization, packing and
// dequantization run along the elements.
#if defined(EDGEQUANT_SCHEMES_Q2_K_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q2_K_INL_
#undef EDGEQUANT_SCHEMES_Q2_K_INL_
#else
#define EDGEQUANT_SCHEMES_Q2_K_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common-inl.hpp"
#include "edgequant/schemes/q2_k.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {
namespace ggml_lanes {

// Packs 2-bit levels (Q2_K, Q3_K): byte 32h + l holds L[128h + l + 32k] at
// bits 2k.
inline void PackCrumbs(const std::uint8_t* HWY_RESTRICT L, std::uint8_t* HWY_RESTRICT qs) {
  const hn::CappedTag<std::uint8_t, 32> d8;
  const std::size_t N = hn::Lanes(d8);
  for (int h = 0; h < 2; ++h) {
    const std::uint8_t* Lh = L + 128 * h;
    for (std::size_t l = 0; l < 32; l += N) {
      const auto q0 = hn::LoadU(d8, Lh + l);
      const auto q1 = hn::ShiftLeft<2>(hn::LoadU(d8, Lh + 32 + l));
      const auto q2 = hn::ShiftLeft<4>(hn::LoadU(d8, Lh + 64 + l));
      const auto q3 = hn::ShiftLeft<6>(hn::LoadU(d8, Lh + 96 + l));
      hn::StoreU(hn::Or(hn::Or(q0, q1), hn::Or(q2, q3)), d8, qs + 32 * h + l);
    }
  }
}

}  // namespace ggml_lanes

template <>
struct SimdKernels<Q2_K> {
  static void quantize_row(const float* HWY_RESTRICT x, Q2_K::Block* HWY_RESTRICT y, std::size_t n,
                           const float* HWY_RESTRICT importance) {
    using namespace ggml_lanes;
    constexpr std::size_t M = kChains2;
    const DL d;
    const std::size_t N = hn::Lanes(d);
    if (16 % N != 0) {
      Q2_K::quantize_row_ref(x, y, n, importance);
      return;
    }
    const std::size_t VN = BatchLanes<M>();
    HWY_ALIGN float xt[16 * kMaxBatch];
    HWY_ALIGN float wt[16 * kMaxBatch];
    HWY_ALIGN float qwt[16 * kMaxBatch];
    HWY_ALIGN float sig[kMaxBatch];
    float scales[kMaxBatch], mins[kMaxBatch], sw[kMaxBatch];
    float liscale[kMaxBatch], lmin[kMaxBatch];
    float sigma2[kMaxBatch / 16] = {};
    std::uint8_t L[256];
    const float* xg = x;
    const float* qg = importance;
    ForEachBatch<16>(
        n, VN,
        [&](std::size_t sb0, std::size_t g) {
          xg = x + sb0 * 256;
          if (importance == nullptr) return;
          qg = importance + sb0 * 256;
          for (std::size_t b = 0; b < g; ++b) sigma2[b] = sum_squares(xg + b * 256, 256) / 256;
        },
        [&](std::size_t, std::size_t k0, std::size_t valid) {
          Transpose(xg + k0 * 16, 16, 16, VN, valid, xt);
          if (importance == nullptr) {
            // quantize_row_q2_K_ref: weights |x|, mean absolute error.
            for (std::size_t o = 0; o < 16 * VN; o += N) {
              hn::StoreU(hn::Abs(hn::LoadU(d, xt + o)), d, wt + o);
            }
            SearchQkx<16, true, M>(xt, wt, 3, -0.5f, 0.1f, 15, scales + k0, mins + k0, liscale + k0,
                                   lmin + k0);
          } else {
            // quantize_row_q2_K_impl: sigma2 = Σx²/256, make_qkx3's parameters.
            Transpose(qg + k0 * 16, 16, 16, VN, valid, qwt);
            for (std::size_t k = 0; k < VN; ++k) sig[k] = k < valid ? sigma2[(k0 + k) / 16] : 0.f;
            ImportanceWeights<16, M>(xt, qwt, sig, wt, sw + k0);
            SearchQkx<16, false, M>(xt, wt, 3, -0.9f, 0.05f, 36, scales + k0, mins + k0,
                                    liscale + k0, lmin + k0);
          }
        },
        [&](std::size_t sb, std::size_t j0) {
          Q2_K::Block& b = y[sb];
          const float* xb = x + sb * 256;
          if (importance == nullptr) {
            Q2_K::set_scales(scales + j0, mins + j0, b);
          } else {
            Q2_K::set_scales_weighted(scales + j0, mins + j0, sw + j0, b);
          }
          for (int j = 0; j < 16; ++j) {
            const float dd = Q2_K::sub_scale(b, j);
            if (dd == 0) {
              levels_qkx(xb + 16 * j, 16, 3, liscale[j0 + j], lmin[j0 + j], L + 16 * j);
            } else {
              Requantize<true>(xb + 16 * j, 16, dd, Q2_K::sub_min(b, j), 0, 3, 0, L + 16 * j);
            }
          }
          PackCrumbs(L, b.qs);
        });
  }

  // y = (d * (sc & 15)) * q - dmin * (sc >> 4); exact products, reference order.
  static void dequantize_row(const Q2_K::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const ggml_lanes::DL d;
    const hn::RebindToSigned<decltype(d)> di;
    const hn::Rebind<std::uint8_t, decltype(d)> d8;
    const std::size_t N = hn::Lanes(d);
    if (16 % N != 0) {
      Q2_K::dequantize_row_ref(x, y, n);
      return;
    }
    const auto three = hn::Set(di, 3);
    for (std::size_t i = 0; i < n / 256; ++i) {
      const float dall = ggml::fp32(x[i].d);
      const float dmin = ggml::fp32(x[i].dmin);
      float* yb = y + i * 256;
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
          for (int half = 0; half < 2; ++half) {
            const int j = 8 * h + 2 * k + half;  // sub-block of e = 128h + 32k + 16half + l
            const std::uint8_t sc = x[i].scales[j];
            const auto dl = hn::Set(d, dall * static_cast<float>(sc & 0xF));
            const auto ml = hn::Set(d, dmin * static_cast<float>(sc >> 4));
            for (std::size_t l = 0; l < 16; l += N) {
              const std::size_t o = 16 * half + l;
              const auto q = hn::And(
                  hn::ShiftRightSame(hn::PromoteTo(di, hn::LoadU(d8, x[i].qs + 32 * h + o)), 2 * k),
                  three);
              hn::StoreU(hn::Sub(hn::Mul(dl, hn::ConvertTo(d, q)), ml), d,
                         yb + 128 * h + 32 * k + o);
            }
          }
        }
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
