// Helpers shared by the tests: golden-data lookup, file reading, and running a
// check on every SIMD target this CPU can execute.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "edgequant/kernels.hpp"

namespace eqtest {

// ../shared/golden (CMake EDGEQUANT_GOLDEN_DIR), overridable by the environment
// variable of the same name. Empty when absent: tests then skip with a message.
inline std::string golden_dir() {
  if (const char* env = std::getenv("EDGEQUANT_GOLDEN_DIR"); env && *env) {
    return std::filesystem::exists(env) ? std::string(env) : std::string();
  }
#ifdef EDGEQUANT_GOLDEN_DIR
  if (std::filesystem::exists(EDGEQUANT_GOLDEN_DIR "/input.f32")) return EDGEQUANT_GOLDEN_DIR;
#endif
  return {};
}

// Path of a golden file, or nullopt (and a visible skip message) when the
// golden folder or that file is absent.
inline std::optional<std::string> golden_file(const std::string& name) {
  const std::string dir = golden_dir();
  if (dir.empty()) {
    MESSAGE("SKIPPED: golden data not found (set EDGEQUANT_GOLDEN_DIR); needed " << name);
    return std::nullopt;
  }
  std::string p = dir + "/" + name;
  if (!std::filesystem::exists(p)) {
    MESSAGE("SKIPPED: golden file missing: " << p);
    return std::nullopt;
  }
  return p;
}

// Folder holding node_modules of the npm interop clients (scripts/npm-deps),
// from $EDGEQUANT_NODE_DIR or the CMake cache. Empty (and a visible skip
// message) when node or the package is missing.
inline std::string node_dir_with(const std::string& package) {
  std::string dir;
  if (const char* env = std::getenv("EDGEQUANT_NODE_DIR"); env && *env) dir = env;
#ifdef EDGEQUANT_NODE_DIR
  if (dir.empty()) dir = EDGEQUANT_NODE_DIR;
#endif
  if (dir.empty() || !std::filesystem::exists(dir + "/node_modules/" + package + "/package.json")) {
    MESSAGE("SKIPPED: npm package " << package << " not installed in '" << dir
                                    << "' (run scripts/npm-deps)");
    return {};
  }
  if (std::system("node --version >/dev/null 2>&1") != 0) {
    MESSAGE("SKIPPED: node not found");
    return {};
  }
  return dir;
}

template <class T = std::uint8_t>
std::vector<T> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// Runs fn(isa) once per target that is compiled and runnable on this CPU,
// with that target forced for every kernel call inside.
template <class F>
void for_each_isa(F&& fn) {
  const edgequant::IsaMask m = edgequant::runnable_isas();
  for (std::size_t i = 0; i < edgequant::kIsaCount; ++i) {
    const auto isa = static_cast<edgequant::Isa>(i);
    if (!(m & edgequant::isa_bit(isa))) continue;
    edgequant::ScopedIsa scope(isa);
    CAPTURE(edgequant::isa_name(isa));
    fn(isa);
  }
}

// Bitwise float equality (NaN payloads and signed zeros included).
inline bool same_bits(float a, float b) {
  std::uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

}  // namespace eqtest
