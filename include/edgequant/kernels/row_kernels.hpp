// Type-erased per-row kernels of one scheme on one target (plain header: no Highway).
#pragma once

#include <cstddef>

namespace edgequant {

// One row of n elements (n a multiple of the block size). `y`/`x` point to the
// scheme's blocks. Preconditions are checked by the public API, not here.
using QuantizeRowFn = void (*)(const float* x, void* y, std::size_t n, const float* importance);
using DequantizeRowFn = void (*)(const void* x, float* y, std::size_t n);
// Index of the first block the reference tools would reject (a scale that
// overflowed to Inf), or nblocks. Scalar on every target: it reads scales only.
using ValidateRowFn = std::size_t (*)(const void* x, std::size_t nblocks);
// The activation quantizer of the CPU dot products for a vec_dot type (ggml's
// type_traits_cpu::from_float; HasActivation): n elements (a multiple of the
// block size, any number of rows: blocks are independent), x finite. On the
// GEMV hot path: fetch the pointer once, call it per activation vector.
using QuantizeActivationFn = void (*)(const float* x, void* y, std::size_t n);

struct RowKernels {
  QuantizeRowFn quantize = nullptr;
  DequantizeRowFn dequantize = nullptr;
  ValidateRowFn validate = nullptr;  // null: every output is valid
  QuantizeActivationFn activation = nullptr;  // null: not a vec_dot type
  // Optional: dequantize with non-temporal stores (same floats), for outputs
  // much larger than the caches; null: use `dequantize`.
  DequantizeRowFn dequantize_stream = nullptr;
};

}  // namespace edgequant
