// ggml itself beside our kernels, in the same run (issue 3 §7): times
// ggml_quantize_chunk (ggml-base, the reference quantizers), the type traits'
// to_float and the CPU backend's activation from_float on the same buffers as
// quantize_bench.cpp. Single thread (arg 1) and all threads (arg 0): ggml's
// quantizer is single-threaded, so row ranges are spread over our thread
// pool as llama-quantize does. Each benchmark also checks, once and untimed,
// that ggml's bytes equal ours (counter `exact`). Registers nothing, with a
// message, when ggml's libraries are absent (scripts/npm-deps).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/schemes/all.hpp"
#include "ggml_peer.hpp"

namespace {

using edgequant::GgmlType;

constexpr std::size_t kGrain = (std::size_t{1} << 18) / eqbench::kCols;  // as quantize_rows

std::size_t row_bytes(GgmlType t) {
  const auto& i = edgequant::ggml_type_info(t);
  return eqbench::kCols / i.block_elems * i.block_bytes;
}

void quantize_with_ggml(GgmlType t, const float* imp, std::uint8_t* dst, unsigned threads) {
  auto& p = eqpeer::ggml_peer();
  const auto& x = eqbench::weights();
  edgequant::parallel_for(0, eqbench::rows(), kGrain, threads, [&](std::size_t r0, std::size_t r1) {
    p.quantize_chunk(static_cast<int>(t), x.data(), dst,
                     static_cast<std::int64_t>(r0 * eqbench::kCols),
                     static_cast<std::int64_t>(r1 - r0), eqbench::kCols, imp);
  });
}

// 1 when ggml's result equals ours for this input, computed once per key.
double exact_once(const std::string& key, const std::function<bool()>& check) {
  static std::map<std::string, double> cache;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, check() ? 1.0 : 0.0).first;
  return it->second;
}

void BM_ggml_quantize(benchmark::State& state, GgmlType t) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  const bool imat = state.range(1) != 0;
  const float* imp = imat ? eqbench::importance().data() : nullptr;
  std::vector<std::uint8_t> q(eqbench::rows() * row_bytes(t));
  for (auto _ : state) {
    quantize_with_ggml(t, imp, q.data(), threads);
    benchmark::DoNotOptimize(q.data());
  }
  const std::size_t n = eqbench::rows() * eqbench::kCols;
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["exact"] =
      exact_once(std::string(edgequant::ggml_type_name(t)) + (imat ? "/imat" : ""),
                 [&] { return q == eqbench::our_quantized(t, imat); });
}

void BM_ggml_dequantize(benchmark::State& state, GgmlType t) {
  auto& p = eqpeer::ggml_peer();
  const unsigned threads = static_cast<unsigned>(state.range(0));
  const bool imat_only = edgequant::ggml_type_info(t).requires_imatrix;
  std::vector<std::uint8_t> q(eqbench::rows() * row_bytes(t));
  quantize_with_ggml(t, imat_only ? eqbench::importance().data() : nullptr, q.data(), 0);
  const auto to_float = p.to_float(static_cast<int>(t));
  const std::size_t rb = row_bytes(t);
  std::vector<float> y(eqbench::rows() * eqbench::kCols);
  for (auto _ : state) {
    edgequant::parallel_for(0, eqbench::rows(), kGrain, threads,
                            [&](std::size_t r0, std::size_t r1) {
                              to_float(q.data() + r0 * rb, y.data() + r0 * eqbench::kCols,
                                       static_cast<std::int64_t>((r1 - r0) * eqbench::kCols));
                            });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * y.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * y.size()));
  state.counters["exact"] = exact_once(std::string(edgequant::ggml_type_name(t)) + "/deq", [&] {
    const auto ours = eqbench::our_dequantized(t, q);
    return ours.size() == y.size() && std::memcmp(ours.data(), y.data(), y.size() * 4) == 0;
  });
}

void BM_ggml_activation(benchmark::State& state, GgmlType t) {
  const auto from_float = eqpeer::ggml_peer().cpu_from_float(static_cast<int>(t));
  const auto x = eqbench::activation_vector();
  const auto& info = edgequant::ggml_type_info(t);
  std::vector<std::uint8_t> q(x.size() / info.block_elems * info.block_bytes);
  for (auto _ : state) {
    from_float(x.data(), q.data(), static_cast<std::int64_t>(x.size()));
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * x.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * x.size()));
  state.counters["exact"] = exact_once(std::string(info.name) + "/act",
                                       [&] { return q == eqbench::our_activation(t, x); });
}

const bool peer_registered = [] {
  auto& p = eqpeer::ggml_peer();
  if (!p.ok()) {
    std::fprintf(stderr, "eq_bench: ggml side-by-side benchmarks skipped: %s\n", p.error().c_str());
    return false;
  }
  edgequant::GgmlSchemes::for_each([&]<class S>() {
    if constexpr (S::ggml_type != GgmlType::kF32) {
      const GgmlType t = S::ggml_type;
      const std::string n(S::name);
      const bool imat_only = edgequant::ggml_type_info(t).requires_imatrix;
      auto* q = benchmark::RegisterBenchmark(("ggml_quantize/" + n).c_str(), BM_ggml_quantize, t);
      for (auto th : eqbench::thread_counts()) q->Args({th, imat_only ? 1 : 0});
      if (!imat_only) q->Args({1, 1});
      q->ArgNames({"threads", "imatrix"})->UseRealTime()->Unit(benchmark::kMillisecond);
      if (p.to_float(static_cast<int>(t))) {
        auto* d =
            benchmark::RegisterBenchmark(("ggml_dequantize/" + n).c_str(), BM_ggml_dequantize, t);
        for (auto th : eqbench::thread_counts()) d->Arg(th);
        d->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
      }
    }
  });
  auto add_activation = [&]<class S>() {
    if constexpr (edgequant::HasActivation<S>) {
      if (p.cpu_from_float(static_cast<int>(S::ggml_type))) {
        benchmark::RegisterBenchmark(("ggml_activation/" + std::string(S::name)).c_str(),
                                     BM_ggml_activation, S::ggml_type)
            ->Unit(benchmark::kMicrosecond);
      }
    }
  };
  edgequant::GgmlSchemes::for_each(add_activation);
  edgequant::ActivationSchemes::for_each(add_activation);
  return true;
}();

}  // namespace
