// Memory-bandwidth baselines: memcpy and a streaming read of a buffer larger
// than the last-level cache. Kernel figures are read as a fraction of these.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <numeric>
#include <vector>

#include "bench_util.hpp"
#include "edgequant/core/parallel.hpp"

namespace {

constexpr std::size_t kBytes = std::size_t{256} << 20;

void BM_memcpy(benchmark::State& state) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  std::vector<char> src(kBytes, 1), dst(kBytes, 0);
  for (auto _ : state) {
    edgequant::parallel_for(0, kBytes, 1 << 20, threads, [&](std::size_t b, std::size_t e) {
      std::memcpy(dst.data() + b, src.data() + b, e - b);
    });
    benchmark::ClobberMemory();
  }
  // Bytes read + written, the convention STREAM uses for copy.
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBytes * 2));
}
BENCHMARK(BM_memcpy)
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (auto t : eqbench::thread_counts()) b->Arg(t);
    })
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_stream_read(benchmark::State& state) {
  const unsigned threads = static_cast<unsigned>(state.range(0));
  std::vector<std::uint64_t> src(kBytes / 8, 3);
  for (auto _ : state) {
    std::atomic<std::uint64_t> total{0};
    edgequant::parallel_for(0, src.size(), 1 << 17, threads, [&](std::size_t b, std::size_t e) {
      std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      std::size_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += src[i];
        s1 += src[i + 1];
        s2 += src[i + 2];
        s3 += src[i + 3];
      }
      for (; i < e; ++i) s0 += src[i];
      total += s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(total.load());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBytes));
}
BENCHMARK(BM_stream_read)
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (auto t : eqbench::thread_counts()) b->Arg(t);
    })
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
