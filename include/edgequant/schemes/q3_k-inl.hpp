// SIMD kernels for Q3_K (Highway per-target header). The scale search runs
// one sub-block per lane (ggml_common-inl.hpp); re-quantization, packing and
// dequantization run along the elements.
#if defined(EDGEQUANT_SCHEMES_Q3_K_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q3_K_INL_
#undef EDGEQUANT_SCHEMES_Q3_K_INL_
#else
#define EDGEQUANT_SCHEMES_Q3_K_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common-inl.hpp"
#include "edgequant/schemes/q2_k-inl.hpp"
#include "edgequant/schemes/q3_k.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q3_K> {
  static void quantize_row(const float* HWY_RESTRICT x, Q3_K::Block* HWY_RESTRICT y, std::size_t n,
                           const float* HWY_RESTRICT importance) {
    using namespace ggml_lanes;
    constexpr std::size_t M = kChains4;
    const DL d;
    const std::size_t N = hn::Lanes(d);
    if (16 % N != 0) {
      Q3_K::quantize_row_ref(x, y, n, importance);
      return;
    }
    const std::size_t VN = BatchLanes<M>();
    HWY_ALIGN float xt[16 * kMaxBatch];
    HWY_ALIGN float wt[16 * kMaxBatch];
    HWY_ALIGN float qwt[16 * kMaxBatch];
    // Levels of the reference search for the group, batch by batch (kept for
    // the sub-blocks whose stored scale is 0).
    HWY_ALIGN float lt[16 * kMaxBatch];
    HWY_ALIGN float sig[kMaxBatch];
    float scales[kMaxBatch], sw[kMaxBatch], liscale[kMaxBatch];
    std::uint8_t zero[kMaxBatch];
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
          for (std::size_t b = 0; b < g; ++b) {
            sigma2[b] = 2 * sum_squares(xg + b * 256, 256) / 256;
          }
        },
        [&](std::size_t, std::size_t k0, std::size_t valid) {
          Transpose(xg + k0 * 16, 16, 16, VN, valid, xt);
          if (importance == nullptr) {
            SearchQ3<16, M>(xt, 4, scales + k0, lt + k0 * 16);
          } else {
            // quantize_row_q3_K_impl: sigma2 = 2 Σx²/256.
            Transpose(qg + k0 * 16, 16, 16, VN, valid, qwt);
            for (std::size_t k = 0; k < VN; ++k) sig[k] = k < valid ? sigma2[(k0 + k) / 16] : 0.f;
            ImportanceWeights<16, M>(xt, qwt, sig, wt, sw + k0);
            SearchQx<16, M>(xt, wt, 4, scales + k0, liscale + k0, zero + k0);
          }
        },
        [&](std::size_t sb, std::size_t j0) {
          Q3_K::Block& b = y[sb];
          const float* xb = x + sb * 256;
          if (importance == nullptr) {
            Q3_K::set_scales(scales + j0, b);
          } else {
            Q3_K::set_scales_weighted(scales + j0, sw + j0, b);
          }
          for (int j = 0; j < 16; ++j) {
            const float dd = Q3_K::sub_scale(b, j);
            if (dd != 0) {
              Requantize<false>(xb + 16 * j, 16, dd, 0.0f, -4, 3, 4, L + 16 * j);
            } else if (importance != nullptr) {
              levels_qx(xb + 16 * j, 16, 4, liscale[j0 + j], zero[j0 + j] != 0,
                        reinterpret_cast<std::int8_t*>(L + 16 * j));
            } else {
              const std::size_t s = j0 + static_cast<std::size_t>(j);
              const float* lb = lt + (s / VN) * VN * 16 + s % VN;
              for (std::size_t e = 0; e < 16; ++e) {
                L[16 * j + e] = static_cast<std::uint8_t>(lb[e * VN]);
              }
            }
          }
          Pack(L, b);
        });
  }

  // hmask[l] bit k = level 32k + l > 3; the low 2 bits as Q2_K.
  static void Pack(std::uint8_t* HWY_RESTRICT L, Q3_K::Block& b) {
    const hn::CappedTag<std::uint8_t, 32> d8;
    const std::size_t N = hn::Lanes(d8);
    const auto three = hn::Set(d8, 3);
    for (std::size_t l = 0; l < 32; l += N) {
      auto hm = hn::Zero(d8);
      for (int k = 7; k >= 0; --k) {  // highest bit first; doubling shifts the rest up
        const auto v = hn::LoadU(d8, L + 32 * k + l);
        hm = hn::Or(hn::Add(hm, hm), hn::ShiftRight<2>(v));
        hn::StoreU(hn::And(v, three), d8, L + 32 * k + l);
      }
      hn::StoreU(hm, d8, b.hmask + l);
    }
    ggml_lanes::PackCrumbs(L, b.qs);
  }

  // y = (d * (s - 32)) * (q - (h ? 0 : 4)); exact products, reference order.
  static void dequantize_row(const Q3_K::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const ggml_lanes::DL d;
    const hn::RebindToSigned<decltype(d)> di;
    const hn::Rebind<std::uint8_t, decltype(d)> d8;
    const std::size_t N = hn::Lanes(d);
    if (16 % N != 0) {
      Q3_K::dequantize_row_ref(x, y, n);
      return;
    }
    const auto three = hn::Set(di, 3);
    const auto one = hn::Set(di, 1);
    const auto four = hn::Set(di, 4);
    for (std::size_t i = 0; i < n / 256; ++i) {
      const float dall = ggml::fp32(x[i].d);
      float* yb = y + i * 256;
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
          for (std::size_t l = 0; l < 32; l += N) {
            const int j = 8 * h + 2 * k + static_cast<int>(l / 16);  // e = 128h + 32k + l
            const auto dl = hn::Set(d, dall * static_cast<float>(ggml::q3_k_scale(j, x[i].scales)));
            const auto q = hn::And(
                hn::ShiftRightSame(hn::PromoteTo(di, hn::LoadU(d8, x[i].qs + 32 * h + l)), 2 * k),
                three);
            const auto hb = hn::And(
                hn::ShiftRightSame(hn::PromoteTo(di, hn::LoadU(d8, x[i].hmask + l)), 4 * h + k),
                one);
            // q - (h ? 0 : 4) = q - 4 + 4h
            const auto v = hn::Add(hn::Sub(q, four), hn::ShiftLeft<2>(hb));
            hn::StoreU(hn::Mul(dl, hn::ConvertTo(d, v)), d, yb + 128 * h + 32 * k + l);
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
