// vec_dot and GEMV beside ggml's CPU vec_dot (ggml_get_type_traits_cpu, dlopened through
// ggml_peer.hpp) for Q4_0, Q8_0, Q4_K, Q6_K, IQ4_XS. vec_dot: 16 cache-resident rows of the
// benchmark matrix against one activation row (kernel throughput, EDGEQUANT_ISA selects the
// target). gemv: the whole matrix (bench_util.hpp, larger than the last-level cache), the
// activation quantized in each iteration, rows over our thread pool for both sides.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "edgequant/compute/gemv.hpp"
#include "ggml_peer.hpp"

namespace {

using edgequant::GgmlType;
constexpr std::size_t kDotRows = 16;

using GgmlVecDot = void (*)(int n, float* s, std::size_t bs, const void* x, std::size_t bx,
                            const void* y, std::size_t by, int nrc);

std::size_t vd_row_bytes(GgmlType t) { return edgequant::ggml_row_bytes(t, eqbench::kCols); }

// The benchmark matrix quantized once per type (our bytes equal ggml's).
const std::vector<std::byte>& matrix(GgmlType t) {
  static std::vector<std::vector<std::byte>> cache(edgequant::kGgmlTypeCount);
  auto& m = cache[static_cast<std::size_t>(t)];
  if (m.empty()) {
    m.resize(eqbench::rows() * vd_row_bytes(t));
    edgequant::QuantizeOptions opt;
    opt.threads = 0;
    if (!edgequant::quantize(t, eqbench::weights(), eqbench::kCols, m, opt)) std::abort();
  }
  return m;
}

void BM_vec_dot(benchmark::State& state, GgmlType t) {
  const auto shape = edgequant::ggml_dot_shape(t);
  const auto& w = matrix(t);
  edgequant::QuantizedActivations a;
  if (!edgequant::quantize_activations(shape, eqbench::activation_vector(), 1, eqbench::kCols, a)) {
    std::abort();
  }
  const auto* wq = reinterpret_cast<const std::uint8_t*>(w.data());
  for (auto _ : state) {
    float s = 0;
    for (std::size_t r = 0; r < kDotRows; ++r) {
      s += shape.dot(eqbench::kCols, wq + r * vd_row_bytes(t), a.bytes.data());
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kDotRows * vd_row_bytes(t)));
  state.SetItemsProcessed(
      static_cast<std::int64_t>(state.iterations() * kDotRows * eqbench::kCols));
}

struct GgmlDot {
  GgmlVecDot dot = nullptr;
  eqpeer::ggml_from_float_t from_float = nullptr;
  std::size_t act_bytes = 0;
};
GgmlDot ggml_dot(GgmlType t) {
  auto& p = eqpeer::ggml_peer();
  GgmlDot g;
  if (!p.has_cpu()) return g;
  const auto* cpu = p.get_type_traits_cpu(static_cast<int>(t));
  if (!cpu || !cpu->vec_dot) return g;
  g.dot = reinterpret_cast<GgmlVecDot>(cpu->vec_dot);
  g.from_float = p.cpu_from_float(cpu->vec_dot_type);
  g.act_bytes = p.row_size(cpu->vec_dot_type, eqbench::kCols);
  return g;
}

void BM_ggml_vec_dot(benchmark::State& state, GgmlType t) {
  const GgmlDot g = ggml_dot(t);
  const auto& w = matrix(t);
  const auto x = eqbench::activation_vector();
  std::vector<std::uint8_t> a(g.act_bytes);
  g.from_float(x.data(), a.data(), static_cast<std::int64_t>(x.size()));
  const auto* wq = reinterpret_cast<const std::uint8_t*>(w.data());
  const int n = static_cast<int>(eqbench::kCols);
  for (auto _ : state) {
    float s = 0;
    for (std::size_t r = 0; r < kDotRows; ++r) {
      float v;
      g.dot(n, &v, 0, wq + r * vd_row_bytes(t), 0, a.data(), 0, 1);
      s += v;
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kDotRows * vd_row_bytes(t)));
  state.SetItemsProcessed(
      static_cast<std::int64_t>(state.iterations() * kDotRows * eqbench::kCols));
}

void BM_gemv(benchmark::State& state, GgmlType t) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  const auto shape = edgequant::ggml_dot_shape(t);
  const auto& w = matrix(t);
  std::span<const std::uint8_t> ws(reinterpret_cast<const std::uint8_t*>(w.data()), w.size());
  const auto x = eqbench::activation_vector();
  std::vector<float> y(eqbench::rows());
  for (auto _ : state) {
    if (!edgequant::gemv(shape, ws, eqbench::rows(), eqbench::kCols, x, y, threads)) std::abort();
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size()));
  state.SetItemsProcessed(
      static_cast<std::int64_t>(state.iterations() * eqbench::rows() * eqbench::kCols));
}

void BM_ggml_gemv(benchmark::State& state, GgmlType t) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  const GgmlDot g = ggml_dot(t);
  const auto& w = matrix(t);
  const auto* wq = reinterpret_cast<const std::uint8_t*>(w.data());
  const auto x = eqbench::activation_vector();
  std::vector<std::uint8_t> a(g.act_bytes);
  std::vector<float> y(eqbench::rows());
  const int n = static_cast<int>(eqbench::kCols);
  const std::size_t rb = vd_row_bytes(t);
  for (auto _ : state) {
    g.from_float(x.data(), a.data(), n);
    edgequant::parallel_for(0, eqbench::rows(), 8, threads, [&](std::size_t r0, std::size_t r1) {
      for (std::size_t r = r0; r < r1; ++r) g.dot(n, &y[r], 0, wq + r * rb, 0, a.data(), 0, 1);
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size()));
  state.SetItemsProcessed(
      static_cast<std::int64_t>(state.iterations() * eqbench::rows() * eqbench::kCols));
}

const bool compute_registered = [] {
  const bool ggml = eqpeer::ggml_peer().has_cpu();
  if (!ggml)
    std::fprintf(stderr, "eq_bench: ggml vec_dot/gemv skipped: %s\n",
                 eqpeer::ggml_peer().error().c_str());
  for (GgmlType t :
       {GgmlType::kQ4_0, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kIQ4_XS}) {
    const std::string n(edgequant::ggml_type_name(t));
    benchmark::RegisterBenchmark(("vec_dot/" + n).c_str(), BM_vec_dot, t)
        ->Unit(benchmark::kMicrosecond);
    const bool peer = ggml && ggml_dot(t).dot && ggml_dot(t).from_float;
    if (peer) {
      benchmark::RegisterBenchmark(("ggml_vec_dot/" + n).c_str(), BM_ggml_vec_dot, t)
          ->Unit(benchmark::kMicrosecond);
    }
    auto* g = benchmark::RegisterBenchmark(("gemv/" + n).c_str(), BM_gemv, t);
    for (auto th : eqbench::thread_counts()) g->Arg(th);
    g->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    if (peer) {
      auto* gg = benchmark::RegisterBenchmark(("ggml_gemv/" + n).c_str(), BM_ggml_gemv, t);
      for (auto th : eqbench::thread_counts()) gg->Arg(th);
      gg->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
