// SIMD kernels for NNCF weight compression (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_NNCF_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_NNCF_INL_
#undef EDGEQUANT_SCHEMES_NNCF_INL_
#else
#define EDGEQUANT_SCHEMES_NNCF_INL_
#endif

#include "edgequant/schemes/nncf.hpp"
#include "edgequant/schemes/plane-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Integer modes: extremes and the group's scale/zero point as in the
// reference, then w / scale (+ zp), round half to even, clamp — lane-wise.
// Per-channel rows whose length is not a multiple of the vector finish with
// the reference's scalar expression.
template <int Bits, bool Sym>
HWY_NOINLINE void NncfIntQuantizeRow(const float* HWY_RESTRICT x, std::size_t k, std::size_t gl,
                                     RowPlanes out) {
  const hn::ScalableTag<float> d;
  const std::size_t N = hn::Lanes(d);
  constexpr float kLow = Sym ? -static_cast<float>(1 << (Bits - 1)) : 0.0f;
  constexpr float kHigh =
      Sym ? static_cast<float>((1 << (Bits - 1)) - 1) : static_cast<float>((1 << Bits) - 1);
  constexpr float kBias = Sym ? static_cast<float>(1 << (Bits - 1)) : 0.0f;  // i4/i8 -> byte
  alignas(64) std::uint8_t codes[256];
  for (std::size_t g = 0; g < k / gl; ++g) {
    const float* w = x + g * gl;
    float mn, mx;
    const std::size_t vec_n = gl / N * N;
    if (vec_n == gl) {
      MinMaxOf(d, w, gl, mn, mx);
    } else {
      nncf::min_max(w, gl, mn, mx);
    }
    const nncf::IntParams p = nncf::int_params<Bits, Sym>(mn, mx);
    const auto vs = hn::Set(d, p.scale), vzp = hn::Set(d, p.zp);
    const auto lo = hn::Set(d, kLow), hi = hn::Set(d, kHigh), bias = hn::Set(d, kBias);
    for (std::size_t c0 = 0; c0 < gl; c0 += 256) {
      const std::size_t cn = std::min<std::size_t>(256, gl - c0);
      std::size_t j = 0;
      for (; j + N <= cn; j += N) {
        auto v = hn::Div(hn::LoadU(d, w + c0 + j), vs);
        if constexpr (!Sym) v = hn::Add(v, vzp);
        v = hn::Min(hn::Max(RoundEvenExact(d, v), lo), hi);
        // Signed codes are stored two's complement: add 2^(b-1), then flip it back.
        StoreCodes(d, hn::Add(v, bias), codes + j);
      }
      for (; j < cn; ++j) {
        codes[j] = static_cast<std::uint8_t>(nncf::int_code<Bits, Sym>(w[c0 + j], p) +
                                             static_cast<int>(kBias));
      }
      if constexpr (Sym) {
        for (std::size_t i = 0; i < cn; ++i)
          codes[i] = static_cast<std::uint8_t>(codes[i] ^ static_cast<int>(kBias));
      }
      const std::size_t e0 = g * gl + c0;
      if constexpr (Bits == 8) {
        std::memcpy(out.p[0] + e0, codes, cn);
      } else {
        pack_bits(codes, cn, 4, out.p[0] + e0 / 2);
      }
    }
    store_f16(p.scale, out.p[1] + 2 * g);
    if constexpr (!Sym) out.p[2][g] = static_cast<std::uint8_t>(p.zp);
  }
}

// Float modes: amax, the scale, w / scale, then the element converter.
template <class S>
HWY_NOINLINE void NncfFloatQuantizeRow(const float* HWY_RESTRICT x, std::size_t k, RowPlanes out) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<std::uint8_t, decltype(d)> d8;
  const std::size_t N = hn::Lanes(d);
  const std::size_t gl = S::group_len(k);
  if (gl % N != 0) {
    S::quantize_row_ref(x, k, out, FloatType::kF32);
    return;
  }
  alignas(64) std::uint8_t codes[256];
  alignas(64) float ys[256];
  for (std::size_t g = 0; g < k / gl; ++g) {
    const float* w = x + g * gl;
    const auto sc = S::group_scale(AbsMax(d, w, gl));
    const auto vs = hn::Set(d, sc.scale);
    for (std::size_t c0 = 0; c0 < gl; c0 += 256) {
      const std::size_t cn = std::min<std::size_t>(256, gl - c0);
      for (std::size_t j = 0; j < cn; j += N) {
        const auto v = hn::Div(hn::LoadU(d, w + c0 + j), vs);
        if constexpr (S::mode == nncf::FloatMode::kNf4) {
          auto c = hn::Zero(di);
          for (float th : nncf::kNf4Thresholds) {
            c = hn::Sub(c, hn::VecFromMask(di, hn::RebindMask(di, hn::Gt(v, hn::Set(d, th)))));
          }
          hn::StoreU(hn::DemoteTo(d8, c), d8, codes + j);
        } else if constexpr (S::bits == 4) {
          const auto a = hn::Abs(v);
          auto c = hn::Zero(di);
          auto add = [&](auto m) { c = hn::Sub(c, hn::VecFromMask(di, hn::RebindMask(di, m))); };
          add(hn::Gt(a, hn::Set(d, 0.25f)));
          add(hn::Ge(a, hn::Set(d, 0.75f)));
          add(hn::Gt(a, hn::Set(d, 1.25f)));
          add(hn::Ge(a, hn::Set(d, 1.75f)));
          add(hn::Gt(a, hn::Set(d, 2.5f)));
          add(hn::Ge(a, hn::Set(d, 3.5f)));
          add(hn::Gt(a, hn::Set(d, 5.0f)));
          // Sign bit from the float's sign (so -0.1 gives 0b1000).
          const auto sign = hn::ShiftRight<28>(hn::And(hn::BitCast(di, v), hn::Set(di, INT32_MIN)));
          c = hn::Or(c, hn::And(sign, hn::Set(di, 8)));
          hn::StoreU(hn::DemoteTo(d8, c), d8, codes + j);
        } else {
          hn::StoreU(v, d, ys + j);
        }
      }
      if constexpr (S::bits == 8) {
        for (std::size_t j = 0; j < cn; ++j) codes[j] = nncf::f8e4m3_code(ys[j]);
      }
      const std::size_t e0 = g * gl + c0;
      if constexpr (S::bits == 8) {
        std::memcpy(out.p[0] + e0, codes, cn);
      } else {
        pack_bits(codes, cn, 4, out.p[0] + e0 / 2);
      }
    }
    S::store_scale(sc, out.p[1], g);
  }
}

template <int Bits, bool Sym, std::size_t Group>
struct SimdPlane<NncfInt<Bits, Sym, Group>> {
  static void quantize_row(const float* x, std::size_t k, RowPlanes out, FloatType) {
    NncfIntQuantizeRow<Bits, Sym>(x, k, NncfInt<Bits, Sym, Group>::group_len(k), out);
  }
};

template <nncf::FloatMode Mode, std::size_t Group>
struct SimdPlane<NncfFloat<Mode, Group>> {
  static void quantize_row(const float* x, std::size_t k, RowPlanes out, FloatType) {
    NncfFloatQuantizeRow<NncfFloat<Mode, Group>>(x, k, out);
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
