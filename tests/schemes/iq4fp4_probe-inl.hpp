// Per-target probes of the vector rules behind the IQ4 and fp4 kernels
// (Highway per-target header, included by iq4fp4_lanes_test.cpp only).
#if defined(EDGEQUANT_TESTS_IQ4FP4_PROBE_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_TESTS_IQ4FP4_PROBE_INL_
#undef EDGEQUANT_TESTS_IQ4FP4_PROBE_INL_
#else
#define EDGEQUANT_TESTS_IQ4FP4_PROBE_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/all-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// The MXFP4 midpoint rule for E8M0 scale e: code[i] of x[i]; n a multiple
// of 16.
inline void ProbeMxfp4(const float* x, std::size_t n, std::uint8_t e, std::int32_t* code) {
  const Iq4Tag df;
  const hn::RebindToSigned<decltype(df)> di;
  const float d = ggml::e8m0_to_fp32_half(e);
  for (std::size_t i = 0; i < n; i += hn::Lanes(df)) {
    hn::StoreU(BestIndexFp4Pow2(df, d, hn::LoadU(df, x + i)), di, code + i);
  }
}

// idx[i], val[i]: the vector IQ4 index and level of x[i]; fp4[i]: the vector
// fp4 code of x[i] for scale d. n a multiple of 16.
inline void ProbeIq4Fp4(const float* x, std::size_t n, float d, std::int32_t* idx, float* val,
                        std::int32_t* fp4) {
  const Iq4Tag df;
  const hn::RebindToSigned<decltype(df)> di;
  const Fp4Levels lv(d);
  for (std::size_t i = 0; i < n; i += hn::Lanes(df)) {
    const auto v = hn::LoadU(df, x + i);
    hn::StoreU(Iq4Index(df, v), di, idx + i);
    hn::StoreU(Iq4Value(df, v), df, val + i);
    hn::StoreU(BestIndexFp4(df, lv, v), di, fp4 + i);
  }
}

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
