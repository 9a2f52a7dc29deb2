// SIMD kernels for Q1_0 (Highway per-target header).
#if defined(EDGEQUANT_SCHEMES_Q1_0_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_SCHEMES_Q1_0_INL_
#undef EDGEQUANT_SCHEMES_Q1_0_INL_
#else
#define EDGEQUANT_SCHEMES_Q1_0_INL_
#endif

#include <cstring>

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/q1_0.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

template <>
struct SimdKernels<Q1_0> {
  // d = Σ|x|/128 is a sequential sum per block: eight blocks advance together
  // (one accumulator each, every sum still in element order), so the adds
  // overlap instead of waiting on each other. The sign bits are vector
  // compares stored as mask bits.
  static void quantize_row(const float* HWY_RESTRICT x, Q1_0::Block* HWY_RESTRICT y, std::size_t n,
                           const float*) {
    constexpr std::size_t kGroup = 8;
    const std::size_t nb = n / 128;
    std::size_t b = 0;
    for (; b + kGroup <= nb; b += kGroup) {
      const float* xg = x + b * 128;
      float s[kGroup] = {};
      for (std::size_t j = 0; j < 128; ++j) {
        for (std::size_t k = 0; k < kGroup; ++k) s[k] += std::fabs(xg[k * 128 + j]);
      }
      for (std::size_t k = 0; k < kGroup; ++k) y[b + k].d = ggml::fp16(s[k] / 128);
    }
    for (; b < nb; ++b) {
      float s = 0.0f;
      for (std::size_t j = 0; j < 128; ++j) s += std::fabs(x[b * 128 + j]);
      y[b].d = ggml::fp16(s / 128);
    }
    for (b = 0; b < nb; ++b) pack_signs(x + b * 128, y[b].qs);
  }

  // y = bit ? d : -d.
  static void dequantize_row(const Q1_0::Block* HWY_RESTRICT x, float* HWY_RESTRICT y,
                             std::size_t n) {
    const hn::CappedTag<float, 16> df;
    const std::size_t N = hn::Lanes(df);
    for (std::size_t b = 0; b < n / 128; ++b) {
      const float d = ggml::fp32(x[b].d);
      const auto vd = hn::Set(df, d);
      const auto vnd = hn::Set(df, -d);
      float* yb = y + b * 128;
      for (std::size_t j = 0; j < 128; j += N) {
        // LoadMaskBits may read up to 8 bytes: give it a local copy.
        std::uint8_t bits[8] = {};
        if (N >= 8) {
          std::memcpy(bits, x[b].qs + j / 8, N / 8);
        } else {
          bits[0] = static_cast<std::uint8_t>(x[b].qs[j / 8] >> (j % 8));
        }
        hn::StoreU(hn::IfThenElse(hn::LoadMaskBits(df, bits), vd, vnd), df, yb + j);
      }
    }
  }

 private:
  // Bit j of the 16 bytes: x[j] >= 0.
  static void pack_signs(const float* HWY_RESTRICT xb, std::uint8_t* HWY_RESTRICT qs) {
    const hn::CappedTag<float, 16> df;
    const std::size_t N = hn::Lanes(df);
    const auto zero = hn::Zero(df);
    std::memset(qs, 0, 16);
    for (std::size_t j = 0; j < 128; j += N) {
      std::uint8_t bits[8] = {};
      hn::StoreMaskBits(df, hn::Ge(hn::LoadU(df, xb + j), zero), bits);
      if (N >= 8) {
        std::memcpy(qs + j / 8, bits, N / 8);
      } else {
        qs[j / 8] = static_cast<std::uint8_t>(qs[j / 8] | (bits[0] << (j % 8)));
      }
    }
  }
};

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
