// Quantize / dequantize throughput of every ggml scheme on a 4096x4096 matrix,
// single thread (arg 1) and all threads (arg 0). Force a target with
// EDGEQUANT_ISA. Bytes processed = float32 input (quantize) / output (dequantize).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.hpp"
#include "edgequant/quantize.hpp"

namespace {

template <class S>
void BM_quantize(benchmark::State& state) {
  const auto& x = eqbench::weights();
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  edgequant::QuantizeOptions opt;
  opt.threads = static_cast<unsigned>(state.range(0));
  if (state.range(1)) opt.importance = eqbench::importance();
  for (auto _ : state) {
    auto st = edgequant::quantize<S>(x, eqbench::kCols, q, opt);
    if (!st) state.SkipWithError(st.error().message().c_str());
    benchmark::DoNotOptimize(q.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * x.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * x.size()));
  state.SetLabel(std::string(edgequant::isa_name(edgequant::active_isa())));
}

template <class S>
void BM_dequantize(benchmark::State& state) {
  const auto& x = eqbench::weights();
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  edgequant::QuantizeOptions opt;
  opt.threads = 0;
  if (edgequant::ggml_type_info(S::ggml_type).requires_imatrix) opt.importance = eqbench::importance();
  (void)edgequant::quantize<S>(x, eqbench::kCols, q, opt);
  std::vector<float> y(x.size());
  const unsigned threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto st = edgequant::dequantize<S>(q, eqbench::kCols, y, threads);
    if (!st) state.SkipWithError(st.error().message().c_str());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * y.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * y.size()));
  state.SetLabel(std::string(edgequant::isa_name(edgequant::active_isa())));
}

// Registers both benchmarks for every scheme of the list.
const bool registered = [] {
  edgequant::GgmlSchemes::for_each([]<class S>() {
    const std::string n(S::name);
    const bool imat_only = edgequant::ggml_type_info(S::ggml_type).requires_imatrix;
    auto* q = benchmark::RegisterBenchmark(("quantize/" + n).c_str(), BM_quantize<S>);
    q->Args({1, imat_only ? 1 : 0})->Args({0, imat_only ? 1 : 0});
    if (!imat_only) q->Args({1, 1});
    q->ArgNames({"threads", "imatrix"})->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("dequantize/" + n).c_str(), BM_dequantize<S>)
        ->Arg(1)
        ->Arg(0)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  });
  return true;
}();

}  // namespace
