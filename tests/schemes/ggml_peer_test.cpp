// Cross-check against ggml itself, loaded at run time from node-llama-cpp's
// shared libraries (bench/ggml_peer.hpp): weight quantization with and
// without importance, dequantization and the CPU activation quantizers, on
// rows the golden set does not have (subnormal and signed-zero blocks,
// mixed scales). Skipped with a message when the libraries are absent.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgequant/quantize.hpp"
#include "ggml_peer.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

constexpr std::size_t kPeerCols = 512;

eqpeer::GgmlPeer* peer() {
  auto& p = eqpeer::ggml_peer();
  if (!p.ok()) {
    MESSAGE("SKIPPED: " << p.error());
    return nullptr;
  }
  return &p;
}

// Rows in the ranges every legacy type and fp16 can hold (|x| < 6e4).
std::vector<float> peer_rows() {
  std::mt19937 rng(2024);
  std::normal_distribution<float> nd;
  std::student_t_distribution<float> td(3.f);
  std::vector<float> x;
  auto add = [&](auto gen) {
    for (std::size_t i = 0; i < kPeerCols; ++i) x.push_back(gen(i));
  };
  for (int r = 0; r < 12; ++r) {
    const float s = std::pow(10.0f, static_cast<float>(r % 6) - 3.0f);
    add([&](std::size_t) { return nd(rng) * s; });
  }
  for (int r = 0; r < 4; ++r) add([&](std::size_t) { return td(rng); });
  // Subnormal blocks (1/d overflows), mixed with normal ones.
  add([&](std::size_t i) { return (i / 32) % 2 ? nd(rng) * 1e-39f : nd(rng); });
  add([&](std::size_t i) { return static_cast<float>(static_cast<int>(i % 32) - 10) * 1e-41f; });
  // Signed zeros with positive values (Q4_1/Q5_1 minimum sign), zero blocks.
  add([&](std::size_t i) { return i % 5 == 0 ? (i % 3 ? -0.0f : 0.0f) : std::fabs(nd(rng)); });
  add([&](std::size_t i) { return i % 2 ? -0.0f : 0.0f; });
  // Exact ties on the Q8/Q4/Q5 grids, constant blocks, equal magnitudes.
  add([&](std::size_t i) {
    return i % 32 == 7 ? 127.0f * 0.125f : (static_cast<float>(rng() % 254) - 126.5f) * 0.125f;
  });
  add([&](std::size_t i) { return i % 32 == 3 ? -8.0f : (static_cast<float>(rng() % 16) - 7.5f); });
  add([&](std::size_t) { return 0.75f; });
  add([&](std::size_t) { return static_cast<float>(static_cast<int>(rng() % 5) - 2) * 0.5f; });
  return x;
}

std::vector<float> peer_importance() {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> w(kPeerCols);
  for (auto& v : w) v = 1.0f + nd(rng) * nd(rng);
  return w;
}

template <class S>
void compare_weights(eqpeer::GgmlPeer& p, const std::vector<float>& x,
                     const std::vector<float>& w) {
  const int id = static_cast<int>(S::ggml_type);
  const std::size_t rows = x.size() / kPeerCols;
  const std::size_t bytes = rows * kPeerCols / S::block_elems * S::block_bytes;
  const eqpeer::ggml_type_traits* t = p.get_type_traits(id);
  REQUIRE(t != nullptr);
  // The ggml build shipped by node-llama-cpp may predate a type (its id then
  // names something else, or nothing).
  if (t->type_name == nullptr || std::string_view(t->type_name) != S::name) {
    MESSAGE("SKIPPED: the loaded ggml has no " << S::name << " at id " << id);
    return;
  }
  REQUIRE(static_cast<std::size_t>(t->type_size) == S::block_bytes);
  p.quantize_init(id);  // the grid I-quants' tables (llama-quantize calls it too)
  for (bool imat : {false, true}) {
    // ggml aborts (GGML_ASSERT) on these types without an importance matrix.
    if (!imat && ggml_type_info(S::ggml_type).requires_imatrix) continue;
    CAPTURE(S::name);
    CAPTURE(imat);
    std::vector<std::uint8_t> want(bytes);
    REQUIRE(p.quantize_chunk(id, x.data(), want.data(), 0, static_cast<std::int64_t>(rows), kPeerCols,
                             imat ? w.data() : nullptr) == bytes);
    std::vector<float> want_f(x.size());
    t->to_float(want.data(), want_f.data(), static_cast<std::int64_t>(x.size()));
    eqtest::for_each_isa([&](Isa) {
      std::vector<typename S::Block> got(bytes / S::block_bytes);
      QuantizeOptions opt;
      if (imat) opt.importance = w;
      REQUIRE(quantize<S>(x, kPeerCols, got, opt));
      std::size_t same_rows = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t rb = bytes / rows;
        const bool same = std::memcmp(reinterpret_cast<const std::uint8_t*>(got.data()) + r * rb,
                                      want.data() + r * rb, rb) == 0;
        if (!same && same_rows == r) MESSAGE("first row differing from ggml: " << r);
        same_rows += same;
      }
      CHECK(same_rows == rows);
      std::vector<float> got_f(x.size());
      std::vector<typename S::Block> wb(bytes / S::block_bytes);
      std::memcpy(wb.data(), want.data(), bytes);
      REQUIRE(dequantize<S>(wb, kPeerCols, got_f));
      CHECK(std::memcmp(got_f.data(), want_f.data(), x.size() * 4) == 0);
    });
  }
}

template <class S>
void compare_activation(eqpeer::GgmlPeer& p, const std::vector<float>& x) {
  auto from_float = p.cpu_from_float(static_cast<int>(S::ggml_type));
  if (!from_float) {
    MESSAGE("SKIPPED: " << p.cpu_library() << " has no from_float for " << S::name);
    return;
  }
  std::vector<typename S::Block> want(x.size() / S::block_elems);
  from_float(x.data(), want.data(), static_cast<std::int64_t>(x.size()));
  eqtest::for_each_isa([&](Isa) {
    std::vector<typename S::Block> got(want.size());
    REQUIRE(quantize_activation<S>(x, got));
    CAPTURE(S::name);
    CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(typename S::Block)) == 0);
  });
}

}  // namespace

TEST_CASE("ggml peer: weight quantization and dequantization match libggml-base") {
  auto* p = peer();
  if (!p) return;
  const auto x = peer_rows();
  const auto w = peer_importance();
  // ggml's grid I-quant searches abort (GGML_ASSERT(grid_index >= 0) in
  // iq2_find_best_neighbour) on these rows in the node-llama-cpp build, even
  // after ggml_quantize_init; ours return an error there (iqgrid_test.cpp).
  // Those types are checked against ggml's bytes by golden_test.cpp instead.
  GgmlSchemes::for_each([&]<class S>() {
    constexpr GgmlType t = S::ggml_type;
    constexpr bool grid = t == GgmlType::kIQ1_S || t == GgmlType::kIQ1_M ||
                          t == GgmlType::kIQ2_XXS || t == GgmlType::kIQ2_XS ||
                          t == GgmlType::kIQ2_S || t == GgmlType::kIQ3_XXS || t == GgmlType::kIQ3_S;
    if constexpr (grid) {
      MESSAGE("SKIPPED (golden_test covers it): ggml aborts on these rows for " << S::name);
    } else if constexpr (t != GgmlType::kF32) {
      compare_weights<S>(*p, x, w);
    }
  });
}

TEST_CASE("ggml peer: activation quantizers match libggml-cpu's from_float") {
  auto* p = peer();
  if (!p) return;
  if (!p->has_cpu()) {
    MESSAGE("SKIPPED: " << p->cpu_library() << " not loaded");
    return;
  }
  MESSAGE("ggml CPU backend: " << p->cpu_library());
  const auto x = peer_rows();
  compare_activation<Q8_0>(*p, x);
  compare_activation<Q8_1>(*p, x);
  compare_activation<Q8_K>(*p, x);
}
