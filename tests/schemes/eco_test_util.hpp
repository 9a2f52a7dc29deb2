// Helpers for the ecosystem-scheme tests: a minimal safetensors reader for
// the MLX golden file (independent of the library's readers), and float bits.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace eqtest {

struct StTensor {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<std::uint8_t> bytes;
};

// Reads every tensor of a safetensors file (8-byte LE header length, JSON
// header, data). Test-only: trusts the golden file.
inline std::map<std::string, StTensor> read_safetensors(const std::string& path) {
  const auto raw = read_file(path);
  REQUIRE(raw.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(raw[i]) << (8 * i);
  REQUIRE(8 + n <= raw.size());
  const auto header = nlohmann::json::parse(raw.begin() + 8, raw.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  std::map<std::string, StTensor> out;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    StTensor t;
    t.dtype = v["dtype"].get<std::string>();
    for (const auto& d : v["shape"]) t.shape.push_back(d.get<std::size_t>());
    const auto b = v["data_offsets"][0].get<std::size_t>(), e = v["data_offsets"][1].get<std::size_t>();
    REQUIRE(8 + n + e <= raw.size());
    t.bytes.assign(raw.begin() + static_cast<std::ptrdiff_t>(8 + n + b),
                   raw.begin() + static_cast<std::ptrdiff_t>(8 + n + e));
    out.emplace(name, std::move(t));
  }
  return out;
}

inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace eqtest
