// Quantize / dequantize throughput of the ONNX Runtime, NNCF and MLX plane
// schemes on the shared 4096x4096 matrix (bench_util.hpp), single thread
// (arg 1) and all threads (arg 0), beside the memcpy baseline of
// bandwidth_bench.cpp. Bytes processed = float32 input (quantize) / output
// (dequantize). Force a SIMD target with EDGEQUANT_ISA.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.hpp"
#include "edgequant/planes.hpp"

namespace {

struct Case {
  const char* scheme;
  edgequant::FloatType dtype;
};

// A representative set: every family, the common bit widths and groups.
const Case kCases[] = {
    {"ort:nbits4:b32:sym", edgequant::FloatType::kF32},
    {"ort:nbits4:b32:asym", edgequant::FloatType::kF32},
    {"ort:nbits4:b128:asym", edgequant::FloatType::kF16},
    {"ort:nbits8:b32:sym", edgequant::FloatType::kF32},
    {"ort:nbits2:b64:asym", edgequant::FloatType::kF32},
    {"nncf:int8_asym", edgequant::FloatType::kF32},
    {"nncf:int4_sym:g128", edgequant::FloatType::kF32},
    {"nncf:int4_asym:g128", edgequant::FloatType::kF32},
    {"nncf:nf4:g128", edgequant::FloatType::kF32},
    {"nncf:fp8_e4m3:g128", edgequant::FloatType::kF32},
    {"nncf:mxfp4", edgequant::FloatType::kF32},
    {"mlx:q4:g64", edgequant::FloatType::kF16},
    {"mlx:q4:g64", edgequant::FloatType::kF32},
    {"mlx:q8:g64", edgequant::FloatType::kBF16},
    {"mlx:q3:g64", edgequant::FloatType::kF16},
    {"mlx:q4:g64:metal", edgequant::FloatType::kF16},
    {"mlx:mxfp4", edgequant::FloatType::kBF16},
    {"mlx:nvfp4", edgequant::FloatType::kF32},
};

void BM_plane_quantize(benchmark::State& state, const edgequant::PlaneSchemeInfo* s,
                       edgequant::FloatType t) {
  const auto& x = eqbench::weights();
  std::vector<std::uint8_t> raw(eqbench::rows() * edgequant::raw_row_bytes(*s, eqbench::kCols, t));
  const edgequant::PlaneOptions opt{t, static_cast<unsigned>(state.range(0))};
  for (auto _ : state) {
    auto st = edgequant::quantize_raw(*s, x, eqbench::kCols, raw, opt);
    if (!st) state.SkipWithError(st.error().message().c_str());
    benchmark::DoNotOptimize(raw.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * x.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * x.size()));
  state.SetLabel(std::string(edgequant::isa_name(edgequant::active_isa())));
}

void BM_plane_dequantize(benchmark::State& state, const edgequant::PlaneSchemeInfo* s,
                         edgequant::FloatType t) {
  const auto& x = eqbench::weights();
  std::vector<std::uint8_t> raw(eqbench::rows() * edgequant::raw_row_bytes(*s, eqbench::kCols, t));
  (void)edgequant::quantize_raw(*s, x, eqbench::kCols, raw, edgequant::PlaneOptions{t, 0});
  std::vector<float> y(x.size());
  const edgequant::PlaneOptions opt{t, static_cast<unsigned>(state.range(0))};
  for (auto _ : state) {
    auto st = edgequant::dequantize_raw(*s, raw, eqbench::kCols, y, opt);
    if (!st) state.SkipWithError(st.error().message().c_str());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * y.size() * 4));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * y.size()));
  state.SetLabel(std::string(edgequant::isa_name(edgequant::active_isa())));
}

const bool planes_registered = [] {
  for (const Case& c : kCases) {
    const auto* s = edgequant::find_plane_scheme(c.scheme);
    if (!s) continue;
    const std::string n =
        std::string(c.scheme) + ":" + std::string(edgequant::float_type_name(c.dtype));
    benchmark::RegisterBenchmark(("quantize/" + n).c_str(), BM_plane_quantize, s, c.dtype)
        ->Arg(1)
        ->Arg(0)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("dequantize/" + n).c_str(), BM_plane_dequantize, s, c.dtype)
        ->Arg(1)
        ->Arg(0)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
