// SIMD kernels for Q6_K (Highway per-target header). The scale search runs
// one sub-block per lane (ggml_common-inl.hpp); re-quantization, packing and
// dequantization run along the elements.
#if defined(EDGEQUANT_SCHEMES_Q6_K_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q6_K_INL_
#undef EDGEQUANT_SCHEMES_Q6_K_INL_
#else
#define EDGEQUANT_SCHEMES_Q6_K_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/ggml_common-inl.hpp"
#include "edgequant/schemes/q6_k.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q6_K> {
  static void quantize_row(const float* HWY_RESTRICT x, Q6_K::Block* HWY_RESTRICT y, std::size_t n,
                           const float* HWY_RESTRICT importance) {
    using namespace ggml_lanes;
    constexpr std::size_t M = kChains4;
    const DL d;
    const std::size_t N = hn::Lanes(d);
    if (16 % N != 0) {
      Q6_K::quantize_row_ref(x, y, n, importance);
      return;
    }
    const std::size_t VN = BatchLanes<M>();
    HWY_ALIGN float xt[16 * kMaxBatch];
    HWY_ALIGN float qwt[16 * kMaxBatch];
    float scales[kMaxBatch], liscale[kMaxBatch];
    std::uint8_t zero[kMaxBatch];
    std::uint8_t L[256];
    const float* xg = x;
    const float* qg = importance;
    ForEachBatch<16>(
        n, VN,
        [&](std::size_t sb0, std::size_t) {
          xg = x + sb0 * 256;
          if (importance != nullptr) qg = importance + sb0 * 256;
        },
        [&](std::size_t, std::size_t k0, std::size_t valid) {
          Transpose(xg + k0 * 16, 16, 16, VN, valid, xt);
          // The importance weights are used raw (§4.12).
          if (importance != nullptr) Transpose(qg + k0 * 16, 16, 16, VN, valid, qwt);
          SearchQx<16, M>(xt, importance ? qwt : nullptr, 32, scales + k0, liscale + k0, zero + k0);
        },
        [&](std::size_t sb, std::size_t j0) {
          Q6_K::Block& b = y[sb];
          const float* xb = x + sb * 256;
          if (!Q6_K::set_scales(scales + j0, b)) return;
          for (int j = 0; j < 16; ++j) {
            const float dd = Q6_K::sub_scale(b, j);
            if (dd == 0) {
              levels_qx(xb + 16 * j, 16, 32, liscale[j0 + j], zero[j0 + j] != 0,
                        reinterpret_cast<std::int8_t*>(L + 16 * j));
            } else {
              Requantize<false>(xb + 16 * j, 16, dd, 0.0f, -32, 31, 32, L + 16 * j);
            }
          }
          Pack(L, b);
        });
  }

  // ql[64h + l] = L[128h + l] & 15 | (L[128h + 64 + l] & 15) << 4,
  // ql[64h + 32 + l] likewise for +32/+96, qh[32h + l] = the four top pairs.
  static void Pack(const std::uint8_t* HWY_RESTRICT L, Q6_K::Block& b) {
    const hn::CappedTag<std::uint8_t, 32> d8;
    const std::size_t N = hn::Lanes(d8);
    const auto mask = hn::Set(d8, 0x0F);
    for (int h = 0; h < 2; ++h) {
      const std::uint8_t* Lh = L + 128 * h;
      for (std::size_t l = 0; l < 32; l += N) {
        const auto q1 = hn::LoadU(d8, Lh + l), q2 = hn::LoadU(d8, Lh + 32 + l);
        const auto q3 = hn::LoadU(d8, Lh + 64 + l), q4 = hn::LoadU(d8, Lh + 96 + l);
        hn::StoreU(hn::Or(hn::And(q1, mask), hn::ShiftLeft<4>(q3)), d8, b.ql + 64 * h + l);
        hn::StoreU(hn::Or(hn::And(q2, mask), hn::ShiftLeft<4>(q4)), d8, b.ql + 64 * h + 32 + l);
        const auto qh =
            hn::Or(hn::Or(hn::ShiftRight<4>(q1), hn::ShiftLeft<2>(hn::ShiftRight<4>(q2))),
                   hn::Or(hn::ShiftLeft<4>(hn::ShiftRight<4>(q3)),
                          hn::ShiftLeft<6>(hn::ShiftRight<4>(q4))));
        hn::StoreU(qh, d8, b.qh + 32 * h + l);
      }
    }
  }

  // y = (d * sc) * (q - 32); exact products, reference order.
  static void dequantize_row(const Q6_K::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const ggml_lanes::DL d;
    const hn::RebindToSigned<decltype(d)> di;
    const hn::Rebind<std::uint8_t, decltype(d)> d8;
    const std::size_t N = hn::Lanes(d);
    if (16 % N != 0) {
      Q6_K::dequantize_row_ref(x, y, n);
      return;
    }
    const auto mask = hn::Set(di, 0x0F);
    const auto three = hn::Set(di, 3);
    const auto bias = hn::Set(di, 32);
    for (std::size_t i = 0; i < n / 256; ++i) {
      const float dall = ggml::fp32(x[i].d);
      float* yb = y + i * 256;
      // Quarter k of half h: e = 128h + 32k + l, low nibble of ql[64h + l]
      // (k = 0), ql[64h + 32 + l] (k = 1), their high nibbles (k = 2, 3), top
      // bits at 2k of qh[32h + l]. Written in address order.
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 4; ++k) {
          const std::uint8_t* ql = x[i].ql + 64 * h + 32 * (k % 2);
          const std::uint8_t* qh = x[i].qh + 32 * h;
          for (std::size_t l = 0; l < 32; l += N) {
            const int j = 8 * h + 2 * k + static_cast<int>(l / 16);  // sub-block
            const auto a = hn::PromoteTo(di, hn::LoadU(d8, ql + l));
            const auto lo = k < 2 ? hn::And(a, mask) : hn::ShiftRight<4>(a);
            const auto hb =
                hn::And(hn::ShiftRightSame(hn::PromoteTo(di, hn::LoadU(d8, qh + l)), 2 * k), three);
            const auto q = hn::Sub(hn::Or(lo, hn::ShiftLeft<4>(hb)), bias);
            const float s = dall * static_cast<float>(x[i].scales[j]);
            hn::StoreU(hn::Mul(hn::Set(d, s), hn::ConvertTo(d, q)), d, yb + 128 * h + 32 * k + l);
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
