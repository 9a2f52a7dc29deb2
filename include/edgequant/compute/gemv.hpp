// Matrix–vector and small-batch matrix–matrix products with quantized weights:
// y = W·x, W rows of a ggml weight type, x float32 quantized once to the companion type.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "edgequant/compute/vec_dot.hpp"
#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/quantize.hpp"

#if EDGEQUANT_KERNELS_ONCE
namespace edgequant {

// What GEMV needs of a weight type, type-erased.
struct DotShape {
  std::string_view name;
  std::size_t block_elems = 0, block_bytes = 0;  // weight blocks
  std::size_t act_elems = 0, act_bytes = 0;      // companion activation blocks
  VecDotFn dot = nullptr;
  void (*quantize_activation)(const float* x, void* y, std::size_t n) = nullptr;
};

namespace detail {
template <class S>
void dot_activation_erased(const float* x, void* y, std::size_t n) {
  quantize_dot_activation<S>(x, static_cast<typename DotActivation<S>::Block*>(y), n);
}
}  // namespace detail

// The shape of S with the dot of `isa`.
template <class S>
DotShape dot_shape(Isa isa) noexcept {
  using A = DotActivation<S>;
  return {S::name,
          S::block_elems,
          S::block_bytes,
          A::block_elems,
          A::block_bytes,
          vec_dot_kernel<S>(isa),
          &detail::dot_activation_erased<S>};
}
template <class S>
DotShape dot_shape() noexcept {
  return dot_shape<S>(active_isa());
}

// Shape of a ggml weight type by id (dot of `isa`); `dot` null when the type has none.
inline DotShape ggml_dot_shape(GgmlType type, Isa isa) noexcept {
  DotShape out;
  GgmlSchemes::for_each([&]<class S>() {
    if (S::ggml_type == type) out = dot_shape<S>(isa);
  });
  return out;
}
inline DotShape ggml_dot_shape(GgmlType type) noexcept {
  return ggml_dot_shape(type, active_isa());
}

// Activations quantized once, reused by every weight row: `m` vectors of `cols`.
struct QuantizedActivations {
  std::vector<std::uint8_t> bytes;
  std::size_t m = 0, cols = 0, row_bytes = 0;
};

// Quantizes x (m rows of cols finite floats) to the companion type of `shape`.
inline Status quantize_activations(const DotShape& shape, std::span<const float> x, std::size_t m,
                                   std::size_t cols, QuantizedActivations& out) {
  if (shape.dot == nullptr) return make_error(Errc::kUnsupported, "type has no dot product");
  if (cols == 0 || cols % shape.block_elems != 0 || cols % shape.act_elems != 0) {
    return make_error(Errc::kBadArgument, "row length " + std::to_string(cols) +
                                              " is not a multiple of the " +
                                              std::string(shape.name) + " block size " +
                                              std::to_string(shape.block_elems));
  }
  const auto elems = checked_mul<std::size_t>(m, cols);
  if (!elems || x.size() != *elems) {
    return make_error(Errc::kBadArgument, "activations: expected " + std::to_string(m) + " x " +
                                              std::to_string(cols) + " values, got " +
                                              std::to_string(x.size()));
  }
  if (const std::size_t bad = first_non_finite(x.data(), x.size()); bad != x.size()) {
    return make_error(Errc::kNonFinite, "activation " + std::to_string(bad) + " is not finite",
                      bad);
  }
  out.m = m;
  out.cols = cols;
  out.row_bytes = cols / shape.act_elems * shape.act_bytes;
  out.bytes.resize(m * out.row_bytes);
  for (std::size_t i = 0; i < m; ++i) {
    shape.quantize_activation(x.data() + i * cols, out.bytes.data() + i * out.row_bytes, cols);
  }
  return {};
}

// Y[i·rows + r] = Σ_c W[r, c]·X[i, c] for i < a.m: every weight row is read
// once and dotted with all m activation rows (a tile of up to 16 at a time,
// which stay in cache). Parallel over weight rows; each output depends on its
// row only, so results do not depend on the thread count.
inline Status gemm_quantized(const DotShape& shape, std::span<const std::uint8_t> w,
                             std::size_t rows, const QuantizedActivations& a, std::span<float> y,
                             unsigned threads = 0) {
  if (shape.dot == nullptr) return make_error(Errc::kUnsupported, "type has no dot product");
  const std::size_t cols = a.cols;
  if (cols == 0 || cols % shape.block_elems != 0 || cols % shape.act_elems != 0 ||
      a.row_bytes != cols / shape.act_elems * shape.act_bytes ||
      a.bytes.size() / a.row_bytes != a.m || a.bytes.size() % a.row_bytes != 0) {
    return make_error(Errc::kBadArgument, "activations were not quantized for " +
                                              std::string(shape.name) + "'s companion type");
  }
  const std::size_t w_row = cols / shape.block_elems * shape.block_bytes;
  const auto w_bytes = checked_mul<std::size_t>(rows, w_row);
  if (!w_bytes || w.size() != *w_bytes) {
    return make_error(Errc::kBadArgument, "weights: " + std::to_string(rows) + " rows of " +
                                              std::string(shape.name) + " need " +
                                              (w_bytes ? std::to_string(*w_bytes) : "too many") +
                                              " bytes, got " + std::to_string(w.size()));
  }
  const auto y_elems = checked_mul<std::size_t>(rows, a.m);
  if (!y_elems || y.size() != *y_elems) {
    return make_error(Errc::kBadArgument, "output: expected " + std::to_string(a.m) + " x " +
                                              std::to_string(rows) + " values, got " +
                                              std::to_string(y.size()));
  }
  constexpr std::size_t kTile = 16;
  const VecDotFn dot = shape.dot;
  parallel_for(0, rows, 8, threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t i0 = 0; i0 < a.m; i0 += kTile) {
      const std::size_t i1 = std::min(a.m, i0 + kTile);
      for (std::size_t r = r0; r < r1; ++r) {
        const std::uint8_t* wr = w.data() + r * w_row;
        for (std::size_t i = i0; i < i1; ++i) {
          y[i * rows + r] = dot(cols, wr, a.bytes.data() + i * a.row_bytes);
        }
      }
    }
  });
  return {};
}

// y = W·x: W `rows` x `cols` weight blocks of `shape` (row-major, w.size() ==
// rows · row bytes), x `cols` finite floats, y `rows` floats.
inline Status gemv(const DotShape& shape, std::span<const std::uint8_t> w, std::size_t rows,
                   std::size_t cols, std::span<const float> x, std::span<float> y,
                   unsigned threads = 0) {
  QuantizedActivations a;
  EDGEQUANT_TRY(quantize_activations(shape, x, 1, cols, a));
  return gemm_quantized(shape, w, rows, a, y, threads);
}

// Y = X·Wᵀ for a batch of m activation rows (X m x cols, Y m x rows, both
// row-major): the activations are quantized once and every weight row is
// streamed once (decode/prefill batches; large m works, tiled by 16).
inline Status gemm(const DotShape& shape, std::span<const std::uint8_t> w, std::size_t rows,
                   std::size_t cols, std::span<const float> x, std::size_t m, std::span<float> y,
                   unsigned threads = 0) {
  QuantizedActivations a;
  EDGEQUANT_TRY(quantize_activations(shape, x, m, cols, a));
  return gemm_quantized(shape, w, rows, a, y, threads);
}

// Typed conveniences.
template <class S>
Status gemv(std::span<const typename S::Block> w, std::size_t rows, std::size_t cols,
            std::span<const float> x, std::span<float> y, unsigned threads = 0) {
  return gemv(dot_shape<S>(), {reinterpret_cast<const std::uint8_t*>(w.data()), w.size_bytes()},
              rows, cols, x, y, threads);
}
template <class S>
Status gemm(std::span<const typename S::Block> w, std::size_t rows, std::size_t cols,
            std::span<const float> x, std::size_t m, std::span<float> y, unsigned threads = 0) {
  return gemm(dot_shape<S>(), {reinterpret_cast<const std::uint8_t*>(w.data()), w.size_bytes()},
              rows, cols, x, m, y, threads);
}

}  // namespace edgequant
#endif  // EDGEQUANT_KERNELS_ONCE
