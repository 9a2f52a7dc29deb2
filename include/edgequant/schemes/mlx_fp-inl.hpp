// SIMD kernels for MLX mxfp4 / mxfp8 / nvfp4 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_MLX_FP_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_MLX_FP_INL_
#undef EDGEQUANT_SCHEMES_MLX_FP_INL_
#else
#define EDGEQUANT_SCHEMES_MLX_FP_INL_
#endif

#include "edgequant/schemes/mlx_fp.hpp"
#include "edgequant/schemes/plane-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Lane-wise RN_T.
template <class D, class V>
HWY_INLINE V RoundToT(D d, V v, FloatType t) {
  return t == FloatType::kBF16 ? RoundToBf16(d, v) : t == FloatType::kF16 ? RoundToF16(d, v) : v;
}

// argmin_k RN_T(|RN_T(x - LUT[k])|), first k on ties, 16 candidates per lane.
template <class D, class V>
HWY_INLINE hn::Vec<hn::RebindToSigned<D>> Fp4Argmin(D d, V x, FloatType t) {
  const hn::RebindToSigned<D> di;
  auto best = RoundToT(d, hn::Abs(RoundToT(d, hn::Sub(x, hn::Set(d, mlx::kFp4Lut[0])), t)), t);
  auto idx = hn::Zero(di);
  for (int k = 1; k < 16; ++k) {
    const auto dk =
        RoundToT(d, hn::Abs(RoundToT(d, hn::Sub(x, hn::Set(d, mlx::kFp4Lut[k])), t)), t);
    const auto m = hn::Lt(dk, best);
    best = hn::IfThenElse(m, dk, best);
    idx = hn::IfThenElse(hn::RebindMask(di, m), hn::Set(di, k), idx);
  }
  return idx;
}

template <class S>
HWY_NOINLINE void MlxFpQuantizeRow(const float* HWY_RESTRICT x, std::size_t k, RowPlanes out,
                                   FloatType t) {
  if (S::group % hn::Lanes(hn::ScalableTag<float>()) != 0) {
    S::quantize_row_ref(x, k, out, t);  // vectors wider than a group
    return;
  }
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<std::uint8_t, decltype(d)> d8;
  const std::size_t N = hn::Lanes(d);
  constexpr std::size_t G = S::group;
  alignas(64) std::uint8_t codes[G];
  alignas(64) float xs[G];
  for (std::size_t g = 0; g < k / G; ++g) {
    const float* w = x + g * G;
    const auto gs = S::group_scale(AbsMax(d, w, G), t);
    const auto vdiv = hn::Set(d, gs.divisor);
    for (std::size_t j = 0; j < G; j += N) {
      const auto v = RoundToT(d, hn::Div(hn::LoadU(d, w + j), vdiv), t);
      if constexpr (S::bits == 4) {
        hn::StoreU(hn::DemoteTo(d8, Fp4Argmin(d, v, S::lut_type(t))), d8, codes + j);
      } else {
        hn::StoreU(v, d, xs + j);
      }
    }
    if constexpr (S::bits == 8) {
      for (std::size_t j = 0; j < G; ++j) codes[j] = mlx::to_fp8(xs[j]);
    }
    (void)di;
    pack_bits(codes, G, S::bits, out.p[0] + g * S::group_bytes);
    out.p[1][g] = gs.byte;
  }
}

template <mlx::FpMode Mode>
struct SimdPlane<MlxFp<Mode>> {
  static void quantize_row(const float* x, std::size_t k, RowPlanes out, FloatType t) {
    MlxFpQuantizeRow<MlxFp<Mode>>(x, k, out, t);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
