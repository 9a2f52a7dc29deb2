// SIMD kernels for MLX affine quantization (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_MLX_AFFINE_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_MLX_AFFINE_INL_
#undef EDGEQUANT_SCHEMES_MLX_AFFINE_INL_
#else
#define EDGEQUANT_SCHEMES_MLX_AFFINE_INL_
#endif

#include <cmath>

#include "edgequant/schemes/mlx_affine.hpp"
#include "edgequant/schemes/plane-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// One lane per element of a group (groups are 32..128: a multiple of the
// vector width up to 1024-bit SVE); the group scale and bias are scalar, as in MLX.
template <int Bits, MlxBackend B>
HWY_NOINLINE void MlxAffineQuantizeRow(const float* HWY_RESTRICT x, std::size_t k,
                                       std::size_t group, RowPlanes out, FloatType t) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const std::size_t tb = float_type_bytes(t), gbytes = group * Bits / 8;
  const float n_bins = static_cast<float>((1 << Bits) - 1);
  alignas(64) std::uint8_t codes[128];
  for (std::size_t g = 0; g < k / group; ++g) {
    const float* w = x + g * group;
    float mn, mx;
    MinMaxOf(d, w, group, mn, mx);
    if constexpr (B == MlxBackend::kMetal) mx = std::max(mx, 0.0f);  // w_max starts at 0
    const mlx::AffineGroupParams gp = mlx::affine_params<Bits, B>(mn, mx);
    if (!(std::isfinite(gp.scale) && gp.scale != 0.0f)) {
      // Degenerate overflow groups: the reference's exact NaN/Inf handling.
      for (std::size_t j = 0; j < group; ++j)
        codes[j] = mlx::affine_code<Bits, B>(w[j], gp.scale, gp.bias);
    } else {
      const auto vs = hn::Set(d, gp.scale), vb = hn::Set(d, gp.bias);
      const auto lo = hn::Zero(d), hi = hn::Set(d, n_bins);
      for (std::size_t j = 0; j < group; j += N) {
        const auto v = hn::Div(hn::Sub(hn::LoadU(d, w + j), vb), vs);
        const auto r = B == MlxBackend::kCpu ? RoundEvenExact(d, v) : RoundAwayExact(d, v);
        StoreCodes(d, hn::Min(hn::Max(r, lo), hi), codes + j);
      }
    }
    pack_bits(codes, group, Bits, out.p[0] + g * gbytes);
    store_float(t, gp.scale, out.p[1] + g * tb);
    store_float(t, gp.bias, out.p[2] + g * tb);
  }
}

// RN_T(RN_T(q * s) + b) with the T rounding done lane-wise.
template <int Bits>
HWY_NOINLINE void MlxAffineDequantizeRow(ConstRowPlanes in, std::size_t k, std::size_t group,
                                         float* HWY_RESTRICT y, FloatType t) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  const std::size_t tb = float_type_bytes(t), gbytes = group * Bits / 8;
  alignas(64) std::uint8_t codes[128];
  auto round_t = [&](auto v) {
    return t == FloatType::kBF16 ? RoundToBf16(d, v) : t == FloatType::kF16 ? RoundToF16(d, v) : v;
  };
  for (std::size_t g = 0; g < k / group; ++g) {
    const float s = load_float(t, in.p[1] + g * tb);
    const float b = load_float(t, in.p[2] + g * tb);
    unpack_bits(in.p[0] + g * gbytes, group, Bits, codes);
    float* yg = y + g * group;
    const auto vs = hn::Set(d, s), vb = hn::Set(d, b);
    for (std::size_t j = 0; j < group; j += N) {
      const auto v = round_t(hn::Mul(LoadCodes(d, codes + j), vs));
      hn::StoreU(round_t(hn::Add(v, vb)), d, yg + j);
    }
  }
}

template <int Bits, std::size_t Group, MlxBackend B>
struct SimdPlane<MlxAffine<Bits, Group, B>> {
  // Vectors wider than a group (SVE beyond 1024 bits) use the reference.
  static bool fits() { return Group % hn::Lanes(hn::ScalableTag<float>()) == 0; }
  static void quantize_row(const float* x, std::size_t k, RowPlanes out, FloatType t) {
    if (!fits()) return MlxAffine<Bits, Group, B>::quantize_row_ref(x, k, out, t);
    MlxAffineQuantizeRow<Bits, B>(x, k, Group, out, t);
  }
  static void dequantize_row(ConstRowPlanes in, std::size_t k, float* y, FloatType t) {
    if (!fits()) return MlxAffine<Bits, Group, B>::dequantize_row_ref(in, k, y, t);
    MlxAffineDequantizeRow<Bits>(in, k, Group, y, t);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
