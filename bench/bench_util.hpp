// Shared benchmark inputs: a matrix larger than the last-level cache.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "edgequant/schemes/ggml_type.hpp"

namespace eqbench {

inline constexpr std::size_t kCols = 4096;

// Rows of the benchmark matrix: 4096 (64 MiB of float32), or
// $EDGEQUANT_BENCH_ROWS on machines whose last-level cache holds that much.
inline std::size_t rows() {
  static const std::size_t r = [] {
    const char* env = std::getenv("EDGEQUANT_BENCH_ROWS");
    const unsigned long v = env ? std::strtoul(env, nullptr, 10) : 0;
    return v ? static_cast<std::size_t>(v) : std::size_t{4096};
  }();
  return r;
}

// Thread counts of the multi-threaded benchmarks: 1, 2 and, on machines with
// more hardware threads, 0 (= all of them).
inline std::vector<std::int64_t> thread_counts() {
  std::vector<std::int64_t> t{1, 2};
  if (std::thread::hardware_concurrency() > 2) t.push_back(0);
  return t;
}

inline const std::vector<float>& weights() {
  static const std::vector<float> w = [] {
    std::vector<float> v(rows() * kCols);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 0.02f);
    for (auto& x : v) x = nd(rng);
    return v;
  }();
  return w;
}

inline const std::vector<float>& importance() {
  static const std::vector<float> w = [] {
    std::vector<float> v(kCols);
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> u(0.5f, 4.f);
    for (auto& x : v) x = u(rng);
    return v;
  }();
  return w;
}

// Our results on the benchmark matrix, for checks beside the timed code
// (defined in schemes/quantize_bench.cpp, the one file that compiles the
// kernels): quantized bytes of every row, with or without importance()...
std::vector<std::uint8_t> our_quantized(edgequant::GgmlType type, bool with_importance);
// ... their dequantization, and the activation quantization of `x`.
std::vector<float> our_dequantized(edgequant::GgmlType type, const std::vector<std::uint8_t>& q);
std::vector<std::uint8_t> our_activation(edgequant::GgmlType type, const std::vector<float>& x);

// One activation vector (a GEMV input: in cache, one row of the matrix).
inline std::vector<float> activation_vector() {
  const auto& w = weights();
  return std::vector<float>(w.begin(), w.begin() + kCols);
}

}  // namespace eqbench
