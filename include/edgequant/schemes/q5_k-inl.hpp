// SIMD kernels for Q5_K (Highway per-target header): the Q4_K driver with
// nmax 31 and the 5-bit packing.
#if defined(EDGEQUANT_SCHEMES_Q5_K_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q5_K_INL_
#undef EDGEQUANT_SCHEMES_Q5_K_INL_
#else
#define EDGEQUANT_SCHEMES_Q5_K_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/q4_k-inl.hpp"
#include "edgequant/schemes/q5_k.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {
namespace ggml_lanes {

// Packs 5-bit levels: low nibbles as Q4_K; bit 4 of L[64c + l] is bit 2c of
// qh[l], bit 4 of L[64c + 32 + l] bit 2c + 1.
inline void PackQ5_K(const std::uint8_t* HWY_RESTRICT L, Q5_K::Block& b) {
  const hn::CappedTag<std::uint8_t, 32> d8;
  const std::size_t N = hn::Lanes(d8);
  const auto mask = hn::Set(d8, 0x0F);
  for (std::size_t l = 0; l < 32; l += N) {
    auto qh = hn::Zero(d8);
    for (int c = 3; c >= 0; --c) {  // highest bit first; doubling shifts the rest up
      const auto a = hn::LoadU(d8, L + 64 * c + l);
      const auto h = hn::LoadU(d8, L + 64 * c + 32 + l);
      qh = hn::Or(hn::Add(qh, qh), hn::ShiftRight<4>(h));
      qh = hn::Or(hn::Add(qh, qh), hn::ShiftRight<4>(a));
      hn::StoreU(hn::Or(hn::And(a, mask), hn::ShiftLeft<4>(hn::And(h, mask))), d8,
                 b.qs + 32 * c + l);
    }
    hn::StoreU(qh, d8, b.qh + l);
  }
}

}  // namespace ggml_lanes

template <>
struct SimdKernels<Q5_K> {
  static void quantize_row(const float* HWY_RESTRICT x, Q5_K::Block* HWY_RESTRICT y, std::size_t n,
                           const float* importance) {
    ggml_lanes::QuantizeRowScaleMinK4<Q5_K, 31>(x, y, n, importance, -0.5f, 0.1f, 15, true,
                                                ggml_lanes::PackQ5_K);
  }
  static void dequantize_row(const Q5_K::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    ggml_lanes::DequantizeRowScaleMinK4<Q5_K, true>(x, y, n);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
