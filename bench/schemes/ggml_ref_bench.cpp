// ggml's own quantizers and dequantizers, loaded from its shared library
// (libggml-base.so of node-llama-cpp, scripts/npm-deps) at run time, so that
// every edgequant figure has ggml's beside it in the same run. Single thread
// (ggml's quantize_<type> is). EDGEQUANT_GGML_LIB overrides the library path;
// without the library these benchmarks are not registered.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "edgequant/quantize.hpp"

namespace {

void* ggml_library() {
  static void* handle = [] {
    std::string path;
    if (const char* env = std::getenv("EDGEQUANT_GGML_LIB"); env && *env) {
      path = env;
    } else if (const char* home = std::getenv("HOME")) {
      path = std::string(home) +
             "/.cache/edgequant/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/"
             "libggml-base.so";
    }
    return path.empty() ? nullptr : dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  }();
  return handle;
}

using QuantizeFn = std::size_t (*)(const float*, void*, std::int64_t, std::int64_t, const float*);
using DequantizeFn = void (*)(const void*, float*, std::int64_t);

// The slowest ggml quantizers take ~1 µs per weight: time a 512-row slice of
// the shared matrix (rates per byte compare directly with the full matrix).
constexpr std::size_t kRows = 512;

void BM_ggml_quantize(benchmark::State& state, QuantizeFn fn, std::size_t row_bytes) {
  const auto& x = eqbench::weights();
  std::vector<std::uint8_t> q(kRows * row_bytes);
  const float* imp = state.range(0) ? eqbench::importance().data() : nullptr;
  for (auto _ : state) {
    fn(x.data(), q.data(), static_cast<std::int64_t>(kRows),
       static_cast<std::int64_t>(eqbench::kCols), imp);
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * kRows * eqbench::kCols * 4));
  state.SetLabel("ggml");
}

void BM_ggml_dequantize(benchmark::State& state, QuantizeFn quant, DequantizeFn fn,
                        std::size_t row_bytes) {
  const auto& x = eqbench::weights();
  std::vector<std::uint8_t> q(eqbench::kRows * row_bytes);
  quant(x.data(), q.data(), static_cast<std::int64_t>(eqbench::kRows),
        static_cast<std::int64_t>(eqbench::kCols), eqbench::importance().data());
  std::vector<float> y(x.size());
  for (auto _ : state) {
    fn(q.data(), y.data(), static_cast<std::int64_t>(y.size()));
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * y.size() * 4));
  state.SetLabel("ggml");
}

const bool registered = [] {
  void* lib = ggml_library();
  if (lib == nullptr) return false;
  edgequant::GgmlSchemes::for_each([&]<class S>() {
    if constexpr (S::block_elems > 1) {
      const std::string n(S::name);
      auto q = reinterpret_cast<QuantizeFn>(dlsym(lib, ("quantize_" + n).c_str()));
      auto d = reinterpret_cast<DequantizeFn>(dlsym(lib, ("dequantize_row_" + n).c_str()));
      if (q == nullptr || d == nullptr) return;
      const std::size_t row_bytes = eqbench::kCols / S::block_elems * S::block_bytes;
      const bool imat_only = edgequant::ggml_type_info(S::ggml_type).requires_imatrix;
      auto* bq = benchmark::RegisterBenchmark(("ggml_quantize/" + n).c_str(), BM_ggml_quantize, q,
                                              row_bytes);
      bq->Arg(1);
      if (!imat_only) bq->Arg(0);
      bq->ArgName("imatrix")->UseRealTime()->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("ggml_dequantize/" + n).c_str(), BM_ggml_dequantize, q, d,
                                   row_bytes)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  });
  return true;
}();

}  // namespace
