// Dispatch: several translation units, the EDGEQUANT_ISA override, target
// selection and fallback, identical bytes on every runnable target.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "edgequant/quantize.hpp"
#include "test_util.hpp"

using namespace edgequant;

std::vector<unsigned char> quantize_in_tu_a(const std::vector<float>& x, std::size_t cols);
std::vector<unsigned char> quantize_in_tu_b(const std::vector<float>& x, std::size_t cols);
Isa active_isa_in_tu_a();
Isa active_isa_in_tu_b();

TEST_CASE("targets compiled and runnable here are reported") {
  std::string compiled, runnable;
  for (std::size_t i = 0; i < kIsaCount; ++i) {
    const auto isa = static_cast<Isa>(i);
    if (compiled_isas() & isa_bit(isa)) compiled += std::string(isa_name(isa)) + " ";
    if (runnable_isas() & isa_bit(isa)) runnable += std::string(isa_name(isa)) + " ";
  }
  MESSAGE("compiled targets: " << compiled);
  MESSAGE("runnable targets: " << runnable << "(active: " << isa_name(active_isa()) << ")");
  CHECK((runnable_isas() & isa_bit(Isa::kScalar)) != 0);
  CHECK((runnable_isas() & ~compiled_isas()) == 0);
  CHECK((compiled_isas() & isa_bit(Isa::kEmu128)) != 0);
#if defined(__x86_64__) && !defined(EDGEQUANT_REDUCED_TARGETS)
  // A default build compiles every x86 target, whatever this CPU runs.
  CHECK((compiled_isas() & isa_bit(Isa::kAvx2)) != 0);
  CHECK((compiled_isas() & isa_bit(Isa::kAvx512)) != 0);
#endif
}

TEST_CASE("two translation units dispatch to the same target and give the same bytes") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> x(8 * 256);
  for (auto& v : x) v = nd(rng);
  CHECK(active_isa_in_tu_a() == active_isa_in_tu_b());
  eqtest::for_each_isa([&](Isa isa) {
    CHECK(active_isa_in_tu_a() == isa);
    CHECK(active_isa_in_tu_b() == isa);
    CHECK(quantize_in_tu_a(x, 256) == quantize_in_tu_b(x, 256));
  });
}

TEST_CASE("ISA names parse; forced targets fall back to the best one below") {
  CHECK(parse_isa("AVX2") == Isa::kAvx2);
  CHECK(parse_isa("avx3_dl") == Isa::kAvx512Vnni);
  CHECK(parse_isa("scalar") == Isa::kScalar);
  CHECK_FALSE(parse_isa("pentium"));
  for (std::size_t i = 0; i < kIsaCount; ++i) {
    CHECK(parse_isa(isa_name(static_cast<Isa>(i))) == static_cast<Isa>(i));
  }
  {
    ScopedIsa s(Isa::kScalar);
    CHECK(active_isa() == Isa::kScalar);
  }
  {
    // A forced target this CPU lacks selects the best runnable target below it.
    ScopedIsa s(Isa::kAvx512Vnni);
    const Isa got = active_isa();
    CHECK((runnable_isas() & isa_bit(got)) != 0);
    if (!(runnable_isas() & isa_bit(Isa::kAvx512Vnni))) CHECK(got != Isa::kAvx512Vnni);
  }
  // Only x86 targets on x86: forcing NEON there falls back to emu128/scalar.
#if defined(__x86_64__)
  {
    ScopedIsa s(Isa::kNeon);
    const Isa got = active_isa();
    CHECK((got == Isa::kEmu128 || got == Isa::kScalar));
  }
#endif
  CHECK(isa_override_error().empty() == (std::getenv("EDGEQUANT_ISA") == nullptr ||
                                         parse_isa(std::getenv("EDGEQUANT_ISA")).has_value()));
}
