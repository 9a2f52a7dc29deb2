// SIMD kernels for MatMulNBits (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_ORT_MATMUL_NBITS_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_ORT_MATMUL_NBITS_INL_
#undef EDGEQUANT_SCHEMES_ORT_MATMUL_NBITS_INL_
#else
#define EDGEQUANT_SCHEMES_ORT_MATMUL_NBITS_INL_
#endif

#include <algorithm>
#include <cstring>

#include "edgequant/schemes/ort_matmul_nbits.hpp"
#include "edgequant/schemes/plane-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Whole blocks are vectorised over their elements (no sums: min/max are
// order-free; the codes are elementwise); a partial last block runs the
// scalar reference's code path.
template <int Bits, bool Sym>
HWY_NOINLINE void OrtNBitsQuantizeRow(const float* HWY_RESTRICT x, std::size_t k, std::size_t block,
                                      RowPlanes out, FloatType t) {
  if (block > 256) return;  // OrtNBits limits Block to 16..256
  using S4 = ort::NBitsBlockParams;
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  constexpr int kQMax = (1 << Bits) - 1, kMid = 1 << (Bits - 1);
  constexpr std::size_t kPack = 8 / Bits;
  const std::size_t nb = (k + block - 1) / block, blob = block * Bits / 8;
  const std::size_t tb = float_type_bytes(t);
  alignas(64) std::uint8_t buf[2][256];
  std::memset(out.p[0], 0, nb * blob);
  std::uint8_t* zp_out = Sym ? nullptr : out.p[2];
  const std::size_t zp_bytes = (nb * Bits + 7) / 8;
  if (zp_out) std::memset(zp_out, 0, zp_bytes);
  auto set_zp = [&](std::size_t b, int zp) {
    const std::size_t shift = (b % kPack) * Bits;
    zp_out[b / kPack] =
        static_cast<std::uint8_t>((zp_out[b / kPack] & ~(kQMax << shift)) | (zp << shift));
  };
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t k0 = b * block;
    const std::size_t len = std::min({block, k - k0, std::size_t{256}});
    const float* xb = x + k0;
    float mn, mx;
    if (len % N == 0) {
      MinMaxOf(d, xb, len, mn, mx);
      // All-zero block: ORT's sequential scan keeps the first element as
      // both extremes, which fixes the sign of a symmetric zero scale.
      if (mn == 0.0f && mx == 0.0f) mn = mx = xb[0];
    } else {
      mn = FLT_MAX;
      mx = -FLT_MAX;
      for (std::size_t i = 0; i < len; ++i) {
        if (xb[i] < mn) mn = xb[i];
        if (xb[i] > mx) mx = xb[i];
      }
    }
    const S4 bp = ort::nbits_params<Bits, Sym>(mn, mx);
    std::uint8_t* codes = buf[b & 1];
    store_float(t, bp.scale_f, out.p[1] + b * tb);
    const float s = load_float(t, out.p[1] + b * tb);
    const float r = s != 0.0f ? 1.0f / s : 0.0f;
    const float zpf = static_cast<float>(bp.zp);
    if (len % N == 0) {
      const auto vr = hn::Set(d, r), vzp = hn::Set(d, zpf);
      const auto lo = hn::Zero(d), hi = hn::Set(d, static_cast<float>(kQMax));
      for (std::size_t i = 0; i < len; i += N) {
        auto q = RoundAwayExact(d, hn::Add(hn::Mul(hn::LoadU(d, xb + i), vr), vzp));
        q = hn::IfThenElse(hn::IsNaN(q), lo, q);  // 0 * Inf: code 0, as nbits_code
        StoreCodes(d, hn::Min(hn::Max(q, lo), hi), codes + i);
      }
    } else {
      for (std::size_t i = 0; i < len; ++i) codes[i] = ort::nbits_code<kQMax>(xb[i], r, zpf);
    }
    if (len < block) {
      for (std::size_t j = len; j < block; ++j) codes[j] = 0;
      ort::nbits_stale_tail<Bits>(codes, len, k0, block, b ? buf[(b + 1) & 1] : nullptr);
      pack_bits(codes, (len + kPack - 1) / kPack * kPack, Bits, out.p[0] + b * blob);
    } else {
      pack_bits(codes, block, Bits, out.p[0] + b * blob);
    }
    if (zp_out) set_zp(b, bp.zp);
  }
  if (zp_out) {
    for (std::size_t b = nb; b % kPack != 0; ++b) set_zp(b, kMid);
  }
}

template <int Bits, bool Sym>
HWY_NOINLINE void OrtNBitsDequantizeRow(ConstRowPlanes in, std::size_t k, std::size_t block,
                                        float* HWY_RESTRICT y, FloatType t) {
  if (block > 256) return;  // OrtNBits limits Block to 16..256
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  constexpr int kMid = 1 << (Bits - 1);
  constexpr std::size_t kPack = 8 / Bits;
  const std::size_t nb = (k + block - 1) / block, blob = block * Bits / 8;
  const std::size_t tb = float_type_bytes(t);
  alignas(64) std::uint8_t codes[256];
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t k0 = b * block;
    const std::size_t len = std::min({block, k - k0, std::size_t{256}});
    const float s = load_float(t, in.p[1] + b * tb);
    const int zp = Sym ? kMid : (in.p[2][b / kPack] >> ((b % kPack) * Bits)) & ((1 << Bits) - 1);
    unpack_bits(in.p[0] + b * blob, len, Bits, codes);
    const std::size_t vec_len = len / N * N;
    const auto vs = hn::Set(d, s), vzp = hn::Set(d, static_cast<float>(zp));
    // (q - zp) is an exact small integer in float, as in the reference.
    for (std::size_t i = 0; i < vec_len; i += N) {
      hn::StoreU(hn::Mul(hn::Sub(LoadCodes(d, codes + i), vzp), vs), d, y + k0 + i);
    }
    for (std::size_t i = vec_len; i < len; ++i) {
      y[k0 + i] = static_cast<float>(static_cast<int>(codes[i]) - zp) * s;
    }
  }
}

template <int Bits, std::size_t Block, bool Sym>
struct SimdPlane<OrtNBits<Bits, Block, Sym>> {
  static void quantize_row(const float* x, std::size_t k, RowPlanes out, FloatType t) {
    OrtNBitsQuantizeRow<Bits, Sym>(x, k, Block, out, t);
  }
  static void dequantize_row(ConstRowPlanes in, std::size_t k, float* y, FloatType t) {
    OrtNBitsDequantizeRow<Bits, Sym>(in, k, Block, y, t);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
