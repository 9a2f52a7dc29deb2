// The "build a runtime on top" example: multiply a weight matrix stored in a
// GGUF file by a vector with edgequant's kernels, straight from the mapped
// file (no copy, no dequantization), and check it against a float64 product
// of the dequantized matrix.
//
//   gguf_gemv MODEL.gguf [TENSOR] [--threads N]
//
// Without TENSOR it takes the largest 2-D tensor whose type has a dot product.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "edgequant/compute/gemv.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/quantize.hpp"

namespace eq = edgequant;

int main(int argc, char** argv) {
  std::string path, name;
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (path.empty()) {
      path = argv[i];
    } else {
      name = argv[i];
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: gguf_gemv MODEL.gguf [TENSOR] [--threads N]\n");
    return 2;
  }
  // 1. Open (memory-mapped, validated) and pick the matrix.
  auto r = eq::gguf::Reader<>::open_file(path);
  if (!r) {
    std::fprintf(stderr, "error: %s\n", r.error().message().c_str());
    return 1;
  }
  const eq::gguf::TensorInfo* t = nullptr;
  for (const auto& info : r->tensors()) {
    if (info.n_dims != 2 || eq::ggml_dot_shape(info.type).dot == nullptr) continue;
    if (!name.empty() ? info.name == name : (t == nullptr || info.nbytes > t->nbytes)) t = &info;
  }
  if (t == nullptr) {
    std::fprintf(stderr, "error: no 2-D tensor with a dot product%s%s\n", name.empty() ? "" : " named ",
                 name.c_str());
    return 1;
  }
  const auto cols = static_cast<std::size_t>(t->ne[0]), rows = static_cast<std::size_t>(t->ne[1]);
  const auto shape = eq::ggml_dot_shape(t->type);
  const auto bytes = r->tensor_data(*t);
  const std::span<const std::uint8_t> w(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());

  // 2. y = W·x: x is quantized once to the companion type (Q8_0/Q8_K/...),
  //    then every row of W is streamed once through the SIMD dot product.
  std::vector<float> x(cols), y(rows);
  for (std::size_t i = 0; i < cols; ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 0.5f;
  if (auto st = eq::gemv(shape, w, rows, cols, x, y, threads); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
    return 1;
  }
  const int reps = 20;
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < reps; ++k) (void)eq::gemv(shape, w, rows, cols, x, y, threads);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;

  // 3. Reference: dequantize W and multiply in float64.
  std::vector<float> wf(rows * cols);
  if (auto st = eq::dequantize(t->type, bytes, cols, wf); !st) {
    std::fprintf(stderr, "error: %s\n", st.error().message().c_str());
    return 1;
  }
  double err = 0, ymax = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    double acc = 0;
    for (std::size_t j = 0; j < cols; ++j) acc += static_cast<double>(wf[i * cols + j]) * x[j];
    err = std::fmax(err, std::fabs(acc - y[i]));
    ymax = std::fmax(ymax, std::fabs(acc));
  }
  const double rel = ymax > 0 ? err / ymax : err;
  std::printf("%s: %s [%zu x %zu], %s on %s, %.3f ms, %.2f GB/s of weights\n", std::string(t->name).c_str(),
              std::string(eq::ggml_type_name(t->type)).c_str(), rows, cols, std::string(shape.name).c_str(),
              std::string(eq::isa_name(eq::active_isa())).c_str(), sec * 1e3,
              static_cast<double>(bytes.size()) / sec / 1e9);
  // The activation is quantized (8-bit for most types): a few 1e-3 of max|y|.
  std::printf("max |y - y_ref| / max |y_ref| = %.2e (%s)\n", rel, rel < 2e-2 ? "ok" : "TOO LARGE");
  return rel < 2e-2 ? 0 : 1;
}
