// `edgequant demo`: quantizes a sample weight matrix with every supported type
// and prints size, error and speed — the README's first command.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/codecs.hpp"
#include "cli/common.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace eqcli {

namespace detail {
// Deterministic sample "weight matrix": normal values with a per-row scale and
// a few large outliers per row, like the projections of a transformer layer.
inline std::vector<float> sample_weights(std::size_t rows, std::size_t cols) {
  std::uint64_t state = 20260821;
  auto next = [&state] {
    state += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  auto u = [&] { return static_cast<double>(next() >> 11) * 0x1.0p-53; };
  auto normal = [&] {
    const double u1 = 1 - u(), u2 = u();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2);
  };
  std::vector<float> w(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    const double scale = 0.02 * (0.5 + u());
    for (std::size_t c = 0; c < cols; ++c) w[r * cols + c] = static_cast<float>(scale * normal());
    for (int k = 0; k < 4; ++k) w[r * cols + static_cast<std::size_t>(u() * cols)] *= 12.f;
  }
  return w;
}
}  // namespace detail

inline Command demo_command() {
  return {"demo", "[--input W.f32 --cols N] [--threads K]",
          "quantize a sample weight matrix with every type; print size, error, speed",
          {{"input", true, "float32 rows to use instead of the built-in sample"},
           {"cols", true, "row length of --input"},
           {"threads", true, "threads (default: all)"}},
          [](const Args& a) -> int {
            std::size_t cols = 4096, rows = 256;
            std::vector<float> x;
            if (auto in = a.value("input")) {
              auto c = a.uint_value("cols", 0);
              if (!c) return fail(c.error());
              if (*c == 0 || *c % 256 != 0) return fail_usage("--cols must be a positive multiple of 256");
              auto f = edgequant::MappedFile::open(*in);
              if (!f) return fail(f.error());
              cols = *c;
              rows = f->size() / 4 / cols;
              if (rows == 0) return fail_usage("input holds less than one row");
              x.resize(rows * cols);
              std::memcpy(x.data(), f->data(), x.size() * 4);
            } else {
              x = detail::sample_weights(rows, cols);
            }
            auto threads = a.uint_value("threads", 0);
            if (!threads) return fail(threads.error());
            // Importance weights for the types that need them: mean of x² per column.
            std::vector<float> imp(cols, 0.f);
            for (std::size_t r = 0; r < rows; ++r)
              for (std::size_t c = 0; c < cols; ++c) imp[c] += x[r * cols + c] * x[r * cols + c] / rows;
            double signal = 0;
            for (float v : x) signal += double(v) * v;
            std::printf("edgequant %s demo: %zu x %zu float32 weights (%.1f MB), %s, target %s\n\n",
                        EDGEQUANT_VERSION_STRING, rows, cols, x.size() * 4 / 1e6,
                        a.value("input") ? a.value("input")->c_str() : "built-in sample",
                        std::string(edgequant::isa_name(edgequant::active_isa())).c_str());
            std::printf("%-10s %7s %9s %11s %11s %9s %12s %12s\n", "type", "bpw", "size MB", "RMSE",
                        "max |err|", "SNR dB", "quant MB/s", "dequant MB/s");
            for (const auto& codec : all_codecs()) {
              std::vector<std::byte> q(rows * codec.row_bytes(cols));
              edgequant::QuantizeOptions opt;
              opt.threads = static_cast<unsigned>(*threads);
              if (codec.requires_importance) opt.importance = imp;
              const auto t0 = std::chrono::steady_clock::now();
              auto st = codec.quantize(x, cols, q, opt);
              const auto t1 = std::chrono::steady_clock::now();
              if (!st) return fail(st.error());
              std::vector<float> y(x.size());
              auto st2 = codec.dequantize(q, cols, y, static_cast<unsigned>(*threads));
              const auto t2 = std::chrono::steady_clock::now();
              if (!st2) return fail(st2.error());
              double err = 0, maxe = 0;
              for (std::size_t i = 0; i < x.size(); ++i) {
                const double d = double(x[i]) - y[i];
                err += d * d;
                maxe = std::max(maxe, std::fabs(d));
              }
              const double mb = x.size() * 4 / 1e6;
              std::printf("%-10s %7.3f %9.3f %11.3e %11.3e %9.2f %12.0f %12.0f\n", codec.name.c_str(),
                          codec.bpw(), q.size() / 1e6, std::sqrt(err / x.size()), maxe,
                          err > 0 ? 10 * std::log10(signal / err) : INFINITY,
                          mb / std::chrono::duration<double>(t1 - t0).count(),
                          mb / std::chrono::duration<double>(t2 - t1).count());
            }
            std::printf("\nMB/s counts float32 input (quantize) and float32 output (dequantize).\n");
            return 0;
          }};
}

}  // namespace eqcli
