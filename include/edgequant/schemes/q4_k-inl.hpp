// SIMD kernels for Q4_K, and the quantizer driver shared with Q5_K (Highway
// per-target header). The scale search runs one sub-block per lane
// (ggml_common-inl.hpp); re-quantization, packing and dequantization run
// along the elements.
#if defined(EDGEQUANT_SCHEMES_Q4_K_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q4_K_INL_
#undef EDGEQUANT_SCHEMES_Q4_K_INL_
#else
#define EDGEQUANT_SCHEMES_Q4_K_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common-inl.hpp"
#include "edgequant/schemes/q4_k.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {
namespace ggml_lanes {

// Quantizer of Q4_K / Q5_K (S): super-blocks of 8 sub-blocks of 32; the
// reference path searches with (rmin, rdelta, nstep), the importance path
// with make_qkx3's (-0.9, 0.05, 36) (§4.10, §4.11). `pack(L, block)` stores
// the 256 levels.
template <class S, int kNmax, class Pack>
inline void QuantizeRowScaleMinK4(const float* HWY_RESTRICT x, typename S::Block* HWY_RESTRICT y,
                                  std::size_t n, const float* HWY_RESTRICT importance, float rmin,
                                  float rdelta, int nstep, bool clamp63, Pack pack) {
  using Stages = detail::ScaleMinK4<kNmax>;
  constexpr std::size_t M = kChains2;
  const DL d;
  const std::size_t N = hn::Lanes(d);
  if (32 % N != 0) {
    S::quantize_row_ref(x, y, n, importance);
    return;
  }
  const std::size_t VN = BatchLanes<M>();
  HWY_ALIGN float xt[32 * kMaxBatch];
  HWY_ALIGN float wt[32 * kMaxBatch];
  HWY_ALIGN float qwt[32 * kMaxBatch];
  HWY_ALIGN float sig[kMaxBatch];
  HWY_ALIGN float ssq[kMaxBatch];
  // Per sub-block of the group.
  float scales[kMaxBatch], mins[kMaxBatch], sw[kMaxBatch];
  float liscale[kMaxBatch], lmin[kMaxBatch];
  float sigma2[kMaxBatch / 8] = {};
  std::uint8_t L[256];
  const float* xg = x;
  const float* qg = importance;
  ForEachBatch<8>(
      n, VN,
      [&](std::size_t sb0, std::size_t g) {
        xg = x + sb0 * 256;
        if (importance == nullptr) return;
        qg = importance + sb0 * 256;
        for (std::size_t b = 0; b < g; ++b) sigma2[b] = 2 * sum_squares(xg + b * 256, 256) / 256;
      },
      [&](std::size_t, std::size_t k0, std::size_t valid) {
        Transpose(xg + k0 * 32, 32, 32, VN, valid, xt);
        if (importance == nullptr) {
          // w = av_x + |x|, av_x = sqrt(Σx² / 32) of the sub-block.
          SumSquares<32, M>(xt, ssq);
          for (std::size_t c = 0; c < VN; c += N) {
            const VL av_x = hn::Sqrt(hn::Div(hn::LoadU(d, ssq + c), hn::Set(d, 32.0f)));
            for (std::size_t i = 0; i < 32; ++i) {
              const std::size_t o = i * VN + c;
              hn::StoreU(hn::Add(av_x, hn::Abs(hn::LoadU(d, xt + o))), d, wt + o);
            }
          }
          SearchQkx<32, false, M>(xt, wt, kNmax, rmin, rdelta, nstep, scales + k0, mins + k0,
                                  liscale + k0, lmin + k0);
        } else {
          Transpose(qg + k0 * 32, 32, 32, VN, valid, qwt);
          for (std::size_t k = 0; k < VN; ++k) sig[k] = k < valid ? sigma2[(k0 + k) / 8] : 0.0f;
          ImportanceWeights<32, M>(xt, qwt, sig, wt, sw + k0);
          SearchQkx<32, false, M>(xt, wt, kNmax, -0.9f, 0.05f, 36, scales + k0, mins + k0,
                                  liscale + k0, lmin + k0);
        }
      },
      [&](std::size_t sb, std::size_t j0) {
        typename S::Block& blk = y[sb];
        const float* xb = x + sb * 256;
        if (importance == nullptr) {
          Stages::set_scales(scales + j0, mins + j0, blk.scales, blk.d, blk.dmin);
        } else {
          Stages::set_scales_weighted(scales + j0, mins + j0, sw + j0, clamp63, blk.scales, blk.d,
                                      blk.dmin);
        }
        for (int j = 0; j < 8; ++j) {
          float dd, dm;
          Stages::sub_scale_min(blk.scales, blk.d, blk.dmin, j, &dd, &dm);
          if (dd == 0) {
            levels_qkx(xb + 32 * j, 32, kNmax, liscale[j0 + j], lmin[j0 + j], L + 32 * j);
          } else {
            Requantize<true>(xb + 32 * j, 32, dd, dm, 0, kNmax, 0, L + 32 * j);
          }
        }
        pack(L, blk);
      });
}

// Dequantizer of Q4_K / Q5_K: y = (d*sc) * q - (dmin*m), q = nibble (+ 16 for
// the Q5_K high bit). Products are exact; the order is the reference's.
template <class S, bool kHigh>
inline void DequantizeRowScaleMinK4(const typename S::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                                    std::size_t n) {
  const DL d;
  const hn::RebindToSigned<DL> di;
  const hn::Rebind<std::uint8_t, DL> d8;
  const std::size_t N = hn::Lanes(d);
  if (32 % N != 0) {
    S::dequantize_row_ref(x, y, n);
    return;
  }
  const auto mask = hn::Set(di, 0x0F);
  const auto one = hn::Set(di, 1);
  for (std::size_t i = 0; i < n / 256; ++i) {
    const float dall = ggml::fp32(x[i].d);
    const float dmin = ggml::fp32(x[i].dmin);
    float* yb = y + i * 256;
    for (int c = 0; c < 4; ++c) {
      std::uint8_t sc, m;
      ggml::get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const VL d1 = hn::Set(d, dall * static_cast<float>(sc));
      const VL m1 = hn::Set(d, dmin * static_cast<float>(m));
      ggml::get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const VL d2 = hn::Set(d, dall * static_cast<float>(sc));
      const VL m2 = hn::Set(d, dmin * static_cast<float>(m));
      const std::uint8_t* q = x[i].qs + 32 * c;
      // Low nibbles (sub-block 2c) then high nibbles (2c + 1): the output is
      // written in address order, which store buffers handle best.
      for (std::size_t l = 0; l < 32; l += N) {
        auto lo = hn::And(hn::PromoteTo(di, hn::LoadU(d8, q + l)), mask);
        if constexpr (kHigh) {
          const auto h = hn::PromoteTo(di, hn::LoadU(d8, x[i].qh + l));
          lo = hn::Add(lo, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(h, 2 * c), one)));
        }
        hn::StoreU(hn::Sub(hn::Mul(d1, hn::ConvertTo(d, lo)), m1), d, yb + 64 * c + l);
      }
      for (std::size_t l = 0; l < 32; l += N) {
        auto hi = hn::ShiftRight<4>(hn::PromoteTo(di, hn::LoadU(d8, q + l)));
        if constexpr (kHigh) {
          const auto h = hn::PromoteTo(di, hn::LoadU(d8, x[i].qh + l));
          hi = hn::Add(hi, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(h, 2 * c + 1), one)));
        }
        hn::StoreU(hn::Sub(hn::Mul(d2, hn::ConvertTo(d, hi)), m2), d, yb + 64 * c + 32 + l);
      }
    }
  }
}

// Packs 4-bit levels: byte 32c + l = L[64c + l] | L[64c + 32 + l] << 4.
inline void PackNibblesK4(const std::uint8_t* HWY_RESTRICT L, std::uint8_t* HWY_RESTRICT qs) {
  const hn::CappedTag<std::uint8_t, 32> d8;
  const std::size_t N = hn::Lanes(d8);
  for (int c = 0; c < 4; ++c) {
    for (std::size_t l = 0; l < 32; l += N) {
      const auto a = hn::LoadU(d8, L + 64 * c + l);
      const auto b = hn::LoadU(d8, L + 64 * c + 32 + l);
      hn::StoreU(hn::Or(a, hn::ShiftLeft<4>(b)), d8, qs + 32 * c + l);
    }
  }
}

}  // namespace ggml_lanes

template <>
struct SimdKernels<Q4_K> {
  static void quantize_row(const float* HWY_RESTRICT x, Q4_K::Block* HWY_RESTRICT y, std::size_t n,
                           const float* importance) {
    ggml_lanes::QuantizeRowScaleMinK4<Q4_K, 15>(
        x, y, n, importance, -1.f, 0.1f, 20, false,
        [](const std::uint8_t* L, Q4_K::Block& b) { ggml_lanes::PackNibblesK4(L, b.qs); });
  }
  static void dequantize_row(const Q4_K::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    ggml_lanes::DequantizeRowScaleMinK4<Q4_K, false>(x, y, n);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
