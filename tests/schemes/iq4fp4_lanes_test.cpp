// The vector nearest-level rules of the IQ4 and fp4 kernels (boundary binary
// search, magnitude scan) against the scalar references, on every runnable
// target, for a stride over all floats and every float near each boundary.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
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

ProbeFn probe_for(Isa isa) {
  ProbeFn fn = nullptr;
#define EQTEST_PICK_(target, ptr) \
  if (isa == (target)) fn = (ptr);
  EDGEQUANT_FOR_EACH_TARGET(EQTEST_PICK_, ProbeIq4Fp4)
#undef EQTEST_PICK_
  return fn;
}

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
  std::size_t targets = 0;
  eqtest::for_each_isa([&](Isa isa) {
    const ProbeFn fn = probe_for(isa);
    if (fn == nullptr) return;  // the scalar reference itself
    ++targets;
    for (float d : scales) {
      fn(x.data(), x.size(), d, idx.data(), val.data(), fp4.data());
      std::size_t bad_idx = 0, bad_val = 0, bad_fp4 = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const int want = ggml::best_index_iq4nl(x[i]);
        bad_idx += idx[i] != want;
        bad_val += val[i] != static_cast<float>(ggml::kValuesIq4nl[want]);
        if (std::isfinite(x[i])) bad_fp4 += fp4[i] != ggml::best_index_fp4(x[i], d);
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
#endif  // HWY_ONCE
