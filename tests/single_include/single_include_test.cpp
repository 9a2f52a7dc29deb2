// Compiled against single_include/edgequant.hpp alone (no include/ on the path).
#include <edgequant.hpp>
#include <edgequant.hpp>  // a second inclusion must be harmless

#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#ifdef EDGEQUANT_SCHEMES_Q4_0_INL_
#error "per-target headers leaked: the single header must not need include/"
#endif

using namespace edgequant;

TEST_CASE("single header: quantize and dequantize on every runnable target") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> x(4 * 256);
  for (auto& v : x) v = nd(rng);
  std::vector<Q4_0::Block> ref(x.size() / 32);
  Q4_0::quantize_row_ref(x.data(), ref.data(), x.size());
  const IsaMask m = runnable_isas();
  int targets = 0;
  for (std::size_t i = 0; i < kIsaCount; ++i) {
    const auto isa = static_cast<Isa>(i);
    if (!(m & isa_bit(isa))) continue;
    ScopedIsa scope(isa);
    ++targets;
    std::vector<Q4_0::Block> q(x.size() / 32);
    REQUIRE(quantize<Q4_0>(x, 256, q));
    CHECK(std::memcmp(q.data(), ref.data(), q.size() * sizeof(Q4_0::Block)) == 0);
    std::vector<float> y(x.size());
    REQUIRE(dequantize<Q4_0>(q, 256, y));
    for (std::size_t j = 0; j < x.size(); ++j) REQUIRE(std::fabs(y[j] - x[j]) < 0.5f);
  }
  CHECK(targets >= 2);
  CHECK(std::string(EDGEQUANT_VERSION_STRING) == "0.1.0");
}
