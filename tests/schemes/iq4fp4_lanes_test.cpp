// The vector nearest-level rules of the IQ4 and fp4 kernels (boundary binary
// search, magnitude scan) against the scalar references, on every runnable
// target, for a stride over all floats and every float near each boundary.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <vector>

// This test needs its own per-target functions, so it runs foreach_target.h
// itself (once per translation unit, before kernels.hpp, whose own include of
// it then does nothing): the probe header pulls in every kernel per target.
// Same Highway configuration as kernels.hpp.
#define HWY_WANT_AVX3_DL 1
#define HWY_IS_DEBUG_BUILD 0
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "schemes/iq4fp4_probe-inl.hpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "schemes/iq4fp4_probe-inl.hpp"

#include "edgequant/kernels.hpp"
#include "test_util.hpp"

#if HWY_ONCE
using namespace edgequant;

namespace {

using ProbeFn = void (*)(const float*, std::size_t, float, std::int32_t*, float*, std::int32_t*);

using ProbeMxfp4Fn = void (*)(const float*, std::size_t, std::uint8_t, std::int32_t*);

#define EQTEST_PICK_(target, ptr) \
  if (isa == (target)) fn = (ptr);
ProbeFn probe_for(Isa isa) {
  ProbeFn fn = nullptr;
  EDGEQUANT_FOR_EACH_TARGET(EQTEST_PICK_, ProbeIq4Fp4)
  return fn;
}
ProbeMxfp4Fn probe_mxfp4_for(Isa isa) {
  ProbeMxfp4Fn fn = nullptr;
  EDGEQUANT_FOR_EACH_TARGET(EQTEST_PICK_, ProbeMxfp4)
  return fn;
}
#undef EQTEST_PICK_

float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<float> probe_inputs() {
  std::vector<float> x;
  for (std::uint64_t u = 0; u <= 0xffffffffull; u += 9973)
    x.push_back(from_bits(static_cast<std::uint32_t>(u)));
  for (float b : ggml::kIq4nlBoundaries.b) {
    std::uint32_t u;
    std::memcpy(&u, &b, 4);
    for (std::int64_t d = -20000; d <= 20000; ++d)
      x.push_back(from_bits(static_cast<std::uint32_t>(u + d)));
  }
  for (int k = -40; k <= 40; ++k) {  // fp4 ties and levels at d = 1 and d = 0.5
    x.push_back(static_cast<float>(k) * 0.25f);
    x.push_back(std::nextafter(static_cast<float>(k) * 0.25f, 100.f));
    x.push_back(std::nextafter(static_cast<float>(k) * 0.25f, -100.f));
  }
  x.push_back(std::numeric_limits<float>::quiet_NaN());
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(-std::numeric_limits<float>::infinity());
  while (x.size() % 16 != 0) x.push_back(0.0f);
  return x;
}

}  // namespace

TEST_CASE("vector IQ4 and fp4 nearest-level rules equal the scalar ones on every target") {
  const auto x = probe_inputs();
  std::vector<std::int32_t> idx(x.size()), fp4(x.size());
  std::vector<float> val(x.size());
  const float scales[] = {1.0f, 0.5f, 0.0f, 224.f, std::ldexp(1.f, -128), std::ldexp(1.f, 127)};
  constexpr std::size_t kScales = std::size(scales);
  // The scalar answers, once (not once per target: this test is the longest
  // of the suite under the sanitizers). fp4 answers only for finite inputs.
  std::vector<std::int32_t> want_idx(x.size());
  std::vector<std::vector<std::int32_t>> want_fp4(kScales, std::vector<std::int32_t>(x.size(), -1));
  for (std::size_t i = 0; i < x.size(); ++i) {
    want_idx[i] = ggml::best_index_iq4nl(x[i]);
    if (std::isfinite(x[i]))
      for (std::size_t s = 0; s < kScales; ++s) want_fp4[s][i] = ggml::best_index_fp4(x[i], scales[s]);
  }
  std::size_t targets = 0;
  eqtest::for_each_isa([&](Isa isa) {
    const ProbeFn fn = probe_for(isa);
    if (fn == nullptr) return;  // the scalar reference itself
    ++targets;
    for (std::size_t s = 0; s < kScales; ++s) {
      const float d = scales[s];
      fn(x.data(), x.size(), d, idx.data(), val.data(), fp4.data());
      std::size_t bad_idx = 0, bad_val = 0, bad_fp4 = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const int want = want_idx[i];
        bad_idx += idx[i] != want;
        bad_val += val[i] != static_cast<float>(ggml::kValuesIq4nl[want]);
        if (want_fp4[s][i] >= 0) bad_fp4 += fp4[i] != want_fp4[s][i];
      }
      CAPTURE(d);
      CHECK(bad_idx == 0);
      CHECK(bad_val == 0);
      CHECK(bad_fp4 == 0);
    }
  });
  MESSAGE(x.size() << " inputs checked on " << targets << " SIMD targets");
  CHECK(targets > 0);
}

TEST_CASE("MXFP4 midpoint rule equals the 16-code scan for every scale it is used with") {
  // Scales e <= 252 (larger ones take the scan), inputs |x| < 16 d: a stride
  // over those floats and +-200 floats around every level and midpoint.
  std::vector<std::int32_t> code;
  std::size_t targets = 0, checked = 0;
  eqtest::for_each_isa([&](Isa isa) {
    const ProbeMxfp4Fn fn = probe_mxfp4_for(isa);
    if (fn == nullptr) return;
    ++targets;
    std::size_t bad = 0;
    for (int e = 0; e <= 252; e += (e < 8 || e > 244) ? 1 : 7) {
      const float d = ggml::e8m0_to_fp32_half(static_cast<std::uint8_t>(e));
      const float lim = 16 * d;  // Inf for e = 252: every float
      std::vector<float> x;
      for (std::uint32_t u = 0; u < 0x7f800000u; u += 65521) {
        if (from_bits(u) < lim) x.push_back(from_bits(u));
      }
      for (float m : {0.5f, 1.f, 1.5f, 2.f, 2.5f, 3.f, 3.5f, 4.f, 5.f, 6.f, 7.f, 8.f, 10.f, 12.f}) {
        std::uint32_t b;
        const float c = m * d;
        std::memcpy(&b, &c, 4);
        for (int k = -200; k <= 200; ++k) {
          const float a = from_bits(static_cast<std::uint32_t>(static_cast<std::int64_t>(b) + k));
          if (a < lim) x.push_back(a);
        }
      }
      const std::size_t half = x.size();
      for (std::size_t i = 0; i < half; ++i) x.push_back(-x[i]);
      while (x.size() % 16 != 0) x.push_back(0.0f);
      code.resize(x.size());
      fn(x.data(), x.size(), static_cast<std::uint8_t>(e), code.data());
      for (std::size_t i = 0; i < x.size(); ++i) bad += code[i] != ggml::best_index_fp4(x[i], d);
      checked += x.size();
    }
    CHECK(bad == 0);
  });
  MESSAGE(checked << " MXFP4 inputs checked on " << targets << " SIMD targets");
  CHECK(targets > 0);
}
#endif  // HWY_ONCE
