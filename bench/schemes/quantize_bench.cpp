// Quantize / dequantize throughput of every ggml scheme on a 4096x4096 matrix,
// single thread (arg 1) and all threads (arg 0). Force a target with
// EDGEQUANT_ISA. Bytes processed = float32 input (quantize) / output (dequantize).
#include <benchmark/benchmark.h>

#include <span>
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
  state.counters["bpw"] = edgequant::bits_per_weight<S>;  // quantized bytes read: bpw / 8 each
}

// Activation quantization of one GEMV input vector (in cache), per vec_dot type.
template <class S>
void BM_activation(benchmark::State& state) {
  const auto x = eqbench::activation_vector();
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  const edgequant::QuantizeActivationFn fn = edgequant::row_kernels_for<S>().activation;
  for (auto _ : state) {
    fn(x.data(), q.data(), x.size());
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * x.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * x.size()));
  state.SetLabel(std::string(edgequant::isa_name(edgequant::active_isa())));
}

const bool context_added = [] {
  benchmark::AddCustomContext("matrix", std::to_string(eqbench::rows()) + " x " +
                                            std::to_string(eqbench::kCols) + " float32");
  return true;
}();

const bool activation_registered = [] {
  auto add = []<class S>() {
    if constexpr (edgequant::HasActivation<S>) {
      benchmark::RegisterBenchmark(("activation/" + std::string(S::name)).c_str(),
                                   BM_activation<S>)
          ->Unit(benchmark::kMicrosecond);
    }
  };
  edgequant::GgmlSchemes::for_each(add);
  edgequant::ActivationSchemes::for_each(add);
  return true;
}();

// Registers both benchmarks for every scheme of the list.
const bool registered = [] {
  edgequant::GgmlSchemes::for_each([]<class S>() {
    const std::string n(S::name);
    const bool imat_only = edgequant::ggml_type_info(S::ggml_type).requires_imatrix;
    auto* q = benchmark::RegisterBenchmark(("quantize/" + n).c_str(), BM_quantize<S>);
    for (auto t : eqbench::thread_counts()) q->Args({t, imat_only ? 1 : 0});
    if (!imat_only) q->Args({1, 1});
    q->ArgNames({"threads", "imatrix"})->UseRealTime()->Unit(benchmark::kMillisecond);
    auto* d = benchmark::RegisterBenchmark(("dequantize/" + n).c_str(), BM_dequantize<S>);
    for (auto t : eqbench::thread_counts()) d->Arg(t);
    d->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
  });
  return true;
}();

}  // namespace

namespace eqbench {

std::vector<std::uint8_t> our_quantized(edgequant::GgmlType type, bool with_importance) {
  const auto& x = weights();
  std::vector<std::uint8_t> q(rows() * edgequant::ggml_row_bytes(type, kCols));
  edgequant::QuantizeOptions opt;
  opt.threads = 0;
  if (with_importance) opt.importance = importance();
  auto st = edgequant::quantize(type, x, kCols, std::as_writable_bytes(std::span(q)), opt);
  if (!st) q.clear();
  return q;
}

std::vector<float> our_dequantized(edgequant::GgmlType type, const std::vector<std::uint8_t>& q) {
  std::vector<float> y(rows() * kCols);
  auto st = edgequant::dequantize(type, std::as_bytes(std::span(q)), kCols, y, 0);
  if (!st) y.clear();
  return y;
}

std::vector<std::uint8_t> our_activation(edgequant::GgmlType type, const std::vector<float>& x) {
  const auto& info = edgequant::ggml_type_info(type);
  std::vector<std::uint8_t> q(x.size() / info.block_elems * info.block_bytes);
  auto st = edgequant::quantize_activation(type, x, std::as_writable_bytes(std::span(q)));
  if (!st) q.clear();
  return q;
}

}  // namespace eqbench
