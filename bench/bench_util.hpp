// Shared benchmark inputs: a matrix larger than the last-level cache.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace eqbench {

inline constexpr std::size_t kRows = 4096, kCols = 4096;  // 64 MiB of float32

inline const std::vector<float>& weights() {
  static const std::vector<float> w = [] {
    std::vector<float> v(kRows * kCols);
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

}  // namespace eqbench
