// `edgequant bench`: times quantize, dequantize, vec_dot and gemv per type on this machine,
// beside memcpy and (when node-llama-cpp's libraries are installed) ggml in the same run.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "edgequant/compute/gemv.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/quantize.hpp"
#include "ggml_peer.hpp"

namespace eqcli {

namespace bench_detail {

using edgequant::GgmlType;
constexpr std::size_t kCols = 4096;
constexpr std::size_t kDotRows = 16;  // vec_dot: rows that stay in L1/L2
constexpr std::size_t kDotReps = 32;  // passes over them per timed call

struct Result {
  std::string kernel, type;
  unsigned threads;
  double gbps, melems;
  std::optional<double> ggml_gbps;
};

// Calls per second of fn over at least `seconds` (after one warm-up call).
template <class F>
double calls_per_second(double seconds, F&& fn) {
  using clock = std::chrono::steady_clock;
  fn();
  const auto t0 = clock::now();
  std::size_t calls = 0;
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  } while (elapsed < seconds);
  return static_cast<double>(calls) / elapsed;
}

inline std::optional<GgmlType> type_by_name(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::optional<GgmlType> out;
  edgequant::GgmlSchemes::for_each([&]<class S>() {
    std::string n(S::name);
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n == name) out = S::ggml_type;
  });
  return out;
}

inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t p = 0;
  while (p <= s.size()) {
    const std::size_t q = std::min(s.find(',', p), s.size());
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

// Weights (elements) of a --size value: small | medium | large | a number.
inline std::optional<std::size_t> size_elems(const std::string& s) {
  if (s == "small") return std::size_t{1} << 20;
  if (s == "medium") return std::size_t{1} << 24;
  if (s == "large") return std::size_t{1} << 26;
  if (s.empty() || s.size() > 15 || !std::all_of(s.begin(), s.end(), ::isdigit))
    return std::nullopt;
  return static_cast<std::size_t>(std::stoull(s));
}

// ggml's CPU vec_dot (ggml-cpu.h ggml_vec_dot_t).
using GgmlVecDot = void (*)(int n, float* s, std::size_t bs, const void* x, std::size_t bx,
                            const void* y, std::size_t by, int nrc);

// ggml's view of type t, when its library is loaded and agrees on the layout.
struct GgmlSide {
  bool ok = false;
  eqpeer::ggml_to_float_t to_float = nullptr;
  eqpeer::ggml_from_float_t from_float = nullptr;  // activation quantizer
  GgmlVecDot vec_dot = nullptr;
  std::size_t act_row_bytes = 0;
};

inline GgmlSide ggml_side(GgmlType t) {
  GgmlSide g;
  auto& p = eqpeer::ggml_peer();
  if (!p.has_cpu()) return g;
  const int id = static_cast<int>(t);
  const auto& info = edgequant::ggml_type_info(t);
  const eqpeer::ggml_type_traits* tr = p.get_type_traits(id);
  if (!tr || tr->blck_size != static_cast<std::int64_t>(info.block_elems) ||
      tr->type_size != info.block_bytes) {
    return g;
  }
  const eqpeer::ggml_type_traits_cpu* cpu = p.get_type_traits_cpu(id);
  if (!cpu || !cpu->vec_dot) return g;
  const eqpeer::ggml_type_traits_cpu* act = p.get_type_traits_cpu(cpu->vec_dot_type);
  g.to_float = tr->to_float;
  g.from_float = act ? act->from_float : nullptr;
  g.vec_dot = reinterpret_cast<GgmlVecDot>(cpu->vec_dot);
  g.act_row_bytes = p.row_size(cpu->vec_dot_type, kCols);
  g.ok = g.to_float && g.from_float;
  if (g.ok) p.quantize_init(id);
  return g;
}

inline double memcpy_gbps(std::size_t bytes, double seconds) {
  bytes = std::max<std::size_t>(bytes, std::size_t{64} << 20);
  std::vector<std::uint8_t> a(bytes, 1), b(bytes);
  const double cps = calls_per_second(seconds, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return cps * static_cast<double>(bytes) / 1e9;
}

// Every measurement of one type at one thread count.
// Which of the four kernels to run.
struct KernelSet {
  bool quantize = true, dequantize = true, vec_dot = true, gemv = true;
};

inline std::vector<Result> bench_type(GgmlType t, unsigned threads, const std::vector<float>& x,
                                      std::size_t rows, double seconds, const KernelSet& ks) {
  namespace eq = edgequant;
  std::vector<Result> out;
  const std::string name(eq::ggml_type_name(t));
  const std::size_t row_bytes = eq::ggml_row_bytes(t, kCols);
  const std::size_t qbytes = rows * row_bytes, elems = rows * kCols;
  const bool needs_imat = eq::ggml_type_info(t).requires_imatrix;
  const std::vector<float> ones(kCols, 1.0f);
  eq::QuantizeOptions opt;
  opt.threads = threads;
  if (needs_imat) opt.importance = ones;
  std::vector<std::byte> q(qbytes);
  std::vector<std::uint8_t> gq(qbytes);
  std::vector<float> y(elems);
  const GgmlSide g = ggml_side(t);
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 18) / kCols);
  auto record = [&](const char* kernel, double ours_cps, double bytes_per_call,
                    double elems_per_call, std::optional<double> ggml_cps) {
    Result r{kernel,
             name,
             threads,
             ours_cps * bytes_per_call / 1e9,
             ours_cps * elems_per_call / 1e6,
             std::nullopt};
    if (ggml_cps) r.ggml_gbps = *ggml_cps * bytes_per_call / 1e9;
    out.push_back(r);
  };

  // The matrix quantized once (the other kernels read it).
  if (auto st = eq::quantize(t, x, kCols, q, opt); !st) std::abort();

  // quantize (f32 matrix -> blocks)
  if (ks.quantize) {
    const double qs = calls_per_second(seconds, [&] {
      if (auto st = eq::quantize(t, x, kCols, q, opt); !st) std::abort();
    });
    std::optional<double> gqs;
    if (g.ok) {
      auto& p = eqpeer::ggml_peer();
      gqs = calls_per_second(seconds, [&] {
        eq::parallel_for(0, rows, grain, threads, [&](std::size_t r0, std::size_t r1) {
          p.quantize_chunk(
              static_cast<int>(t), x.data(), gq.data(), static_cast<std::int64_t>(r0 * kCols),
              static_cast<std::int64_t>(r1 - r0), kCols, needs_imat ? ones.data() : nullptr);
        });
      });
    }
    record("quantize", qs, static_cast<double>(qbytes), static_cast<double>(elems), gqs);
  }

  // dequantize (blocks -> f32)
  if (ks.dequantize) {
    const double ds = calls_per_second(seconds, [&] {
      if (auto st = eq::dequantize(t, q, kCols, y, threads); !st) std::abort();
    });
    std::optional<double> gds;
    if (g.ok) {
      gds = calls_per_second(seconds, [&] {
        eq::parallel_for(0, rows, grain, threads, [&](std::size_t r0, std::size_t r1) {
          for (std::size_t r = r0; r < r1; ++r) {
            g.to_float(reinterpret_cast<const std::uint8_t*>(q.data()) + r * row_bytes,
                       y.data() + r * kCols, static_cast<std::int64_t>(kCols));
          }
        });
      });
    }
    record("dequantize", ds, static_cast<double>(qbytes), static_cast<double>(elems), gds);
  }

  // vec_dot: each thread dots the same kDotRows cache-resident rows kDotReps
  // times (kernel throughput, not memory bandwidth).
  const eq::DotShape shape = eq::ggml_dot_shape(t);
  if (shape.dot == nullptr) return out;
  const std::size_t drows = std::min(rows, kDotRows);
  eq::QuantizedActivations act;
  if (auto st =
          eq::quantize_activations(shape, std::span<const float>(x.data(), kCols), 1, kCols, act);
      !st) {
    std::abort();
  }
  std::vector<std::uint8_t> gact(g.ok ? g.act_row_bytes : 0);
  if (g.ok) g.from_float(x.data(), gact.data(), static_cast<std::int64_t>(kCols));
  const auto* wq = reinterpret_cast<const std::uint8_t*>(q.data());
  std::vector<float> sink(threads ? threads : eq::resolve_threads(0));
  const std::size_t nthreads = sink.size();
  auto dot_loop = [&](auto&& one) {
    eq::parallel_for(0, nthreads, 1, threads, [&](std::size_t t0, std::size_t t1) {
      for (std::size_t k = t0; k < t1; ++k) {
        float s = 0;
        for (std::size_t rep = 0; rep < kDotReps; ++rep) {
          for (std::size_t r = 0; r < drows; ++r) s += one(wq + r * row_bytes);
        }
        sink[k] = s;
      }
    });
  };
  if (ks.vec_dot) {
    const double vs = calls_per_second(seconds, [&] {
      dot_loop([&](const std::uint8_t* w) { return shape.dot(kCols, w, act.bytes.data()); });
    });
    std::optional<double> gvs;
    if (g.ok) {
      gvs = calls_per_second(seconds, [&] {
        dot_loop([&](const std::uint8_t* w) {
          float s;
          g.vec_dot(static_cast<int>(kCols), &s, 0, w, 0, gact.data(), 0, 1);
          return s;
        });
      });
    }
    const double dot_calls = static_cast<double>(nthreads * kDotReps * drows);
    record("vec_dot", vs, dot_calls * static_cast<double>(row_bytes),
           dot_calls * static_cast<double>(kCols), gvs);
  }
  if (!ks.gemv) return out;

  // gemv: y = W·x over the whole matrix, activation quantized in each call.
  std::vector<float> yv(rows);
  std::span<const float> xv(x.data(), kCols);
  std::span<const std::uint8_t> wspan(wq, qbytes);
  const double gs = calls_per_second(seconds, [&] {
    if (auto st = eq::gemv(shape, wspan, rows, kCols, xv, yv, threads); !st) std::abort();
  });
  std::optional<double> ggs;
  if (g.ok) {
    ggs = calls_per_second(seconds, [&] {
      g.from_float(x.data(), gact.data(), static_cast<std::int64_t>(kCols));
      eq::parallel_for(0, rows, 8, threads, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
          g.vec_dot(static_cast<int>(kCols), &yv[r], 0, wq + r * row_bytes, 0, gact.data(), 0, 1);
        }
      });
    });
  }
  record("gemv", gs, static_cast<double>(qbytes), static_cast<double>(elems), ggs);
  return out;
}

inline std::string fmt_opt(const std::optional<double>& v, const char* spec) {
  if (!v) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, *v);
  return buf;
}

}  // namespace bench_detail

inline Command bench_command() {
  return {
      "bench",
      "[--json] [--types LIST] [--threads LIST] [--kernels LIST] [--size N] [--seconds S]",
      "time quantize, dequantize, vec_dot and gemv per type beside memcpy and ggml "
      "(docs/compute.md)",
      {{"json", false,
        "print one JSON object instead of the table:\n"
        "                     {\"memcpy_gbps\": X, \"results\": [{\"kernel\": "
        "quantize|dequantize|\n"
        "                     vec_dot|gemv, \"type\": T, \"threads\": N, \"gbps\": X, \"melems\": "
        "X,\n"
        "                     \"ggml_gbps\": X|null}, ...]}\n"
        "                     gbps: GB (1e9 bytes) of quantized weights per second; melems:\n"
        "                     million weights per second; ggml_gbps: ggml's kernels "
        "(node-llama-cpp\n"
        "                     libraries, scripts/npm-deps) on the same buffers and thread pool, "
        "null\n"
        "                     when absent; memcpy_gbps: one-thread memcpy of max(64 MiB, matrix "
        "as\n"
        "                     float32). quantize/dequantize/gemv cover the whole matrix (gemv\n"
        "                     includes quantizing x); vec_dot repeats 16 cache-resident rows per\n"
        "                     thread. The machine may be shared: figures are as noisy as its "
        "load."},
       {"types", true, "comma-separated ggml type names (default q4_0,q8_0,q4_K,q6_K,iq4_xs)"},
       {"threads", true, "comma-separated thread counts, 0 = all (default 1 and all)"},
       {"kernels", true,
        "comma-separated subset of quantize,dequantize,vec_dot,gemv (default all)"},
       {"size", true,
        "weights (elements) in the matrix, rows of 4096 columns, normal(0, 0.02):\n"
        "                     small (1M), medium (16M), large (64M, default) or a number\n"
        "                     (rounded down to whole rows, at least one)"},
       {"seconds", true, "time per measurement (default 0.2)"}},
      [](const Args& a) -> int {
        using namespace bench_detail;
        std::vector<GgmlType> types;
        for (const auto& n : split(a.value("types").value_or("q4_0,q8_0,q4_K,q6_K,iq4_xs"))) {
          auto t = type_by_name(n);
          if (!t) return fail_usage("unknown type '" + n + "' (see `edgequant types`)");
          types.push_back(*t);
        }
        if (types.empty()) return fail_usage("--types is empty");
        std::vector<unsigned> threads;
        const unsigned all = edgequant::resolve_threads(0);
        for (const auto& n : split(a.value("threads").value_or(all > 1 ? "1,0" : "1"))) {
          if (n.empty() || n.size() > 4 || !std::all_of(n.begin(), n.end(), ::isdigit)) {
            return fail_usage("--threads: '" + n + "' is not a thread count");
          }
          const unsigned v = static_cast<unsigned>(std::stoul(n));
          threads.push_back(v == 0 ? all : v);
        }
        KernelSet ks;
        if (auto kl = a.value("kernels")) {
          ks = KernelSet{false, false, false, false};
          for (const auto& k : split(*kl)) {
            if (k == "quantize")
              ks.quantize = true;
            else if (k == "dequantize")
              ks.dequantize = true;
            else if (k == "vec_dot")
              ks.vec_dot = true;
            else if (k == "gemv")
              ks.gemv = true;
            else
              return fail_usage("--kernels: unknown kernel '" + k + "'");
          }
        }
        const auto elems = size_elems(a.value("size").value_or("large"));
        if (!elems) return fail_usage("--size: expected small, medium, large or a number");
        const std::size_t rows = std::max<std::size_t>(1, *elems / kCols);
        // The float32 source is held in memory: cap it at 1 GiB.
        if (rows > (std::size_t{1} << 16)) return fail_usage("--size: at most 2^28 weights");
        auto secs = a.double_value("seconds", 0.2);
        if (!secs) return fail(secs.error());
        if (!(*secs > 0 && *secs <= 60)) return fail_usage("--seconds: expected 0 < S <= 60");

        std::vector<float> x(rows * kCols);
        std::mt19937 rng(1);
        std::normal_distribution<float> nd(0.f, 0.02f);
        for (auto& v : x) v = nd(rng);

        const double mc = memcpy_gbps(x.size() * sizeof(float), *secs);
        std::vector<Result> results;
        for (GgmlType t : types) {
          for (unsigned th : threads) {
            auto r = bench_type(t, th, x, rows, *secs, ks);
            results.insert(results.end(), r.begin(), r.end());
          }
        }
        if (a.flag("json")) {
          std::printf("{\"memcpy_gbps\": %.4g, \"results\": [", mc);
          for (std::size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            std::printf(
                "%s\n  {\"kernel\": \"%s\", \"type\": \"%s\", \"threads\": %u, \"gbps\": %.4g, "
                "\"melems\": %.4g, \"ggml_gbps\": %s}",
                i ? "," : "", r.kernel.c_str(), json_escape(r.type).c_str(), r.threads, r.gbps,
                r.melems, fmt_opt(r.ggml_gbps, "%.4g").c_str());
          }
          std::printf("\n]}\n");
          return 0;
        }
        std::printf("matrix %zu x %zu, target %s, memcpy %.2f GB/s%s\n", rows, kCols,
                    std::string(edgequant::isa_name(edgequant::active_isa())).c_str(), mc,
                    eqpeer::ggml_peer().has_cpu() ? "" : " (ggml not found: no ggml column)");
        std::printf("%-11s %-8s %7s %10s %10s %10s %8s\n", "kernel", "type", "threads", "GB/s",
                    "Mweights/s", "ggml GB/s", "ours/ggml");
        for (const auto& r : results) {
          std::printf("%-11s %-8s %7u %10.2f %10.1f %10s %8s\n", r.kernel.c_str(), r.type.c_str(),
                      r.threads, r.gbps, r.melems, fmt_opt(r.ggml_gbps, "%.2f").c_str(),
                      r.ggml_gbps ? fmt_opt(r.gbps / *r.ggml_gbps, "%.2fx").c_str() : "-");
        }
        return 0;
      }};
}

}  // namespace eqcli
