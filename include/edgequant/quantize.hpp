// Public quantize / dequantize API over rows of a matrix: argument checks,
// NaN/Inf detection, importance rules, threads, then the dispatched kernels.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "edgequant/core/error.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/kernels.hpp"

namespace edgequant {

struct QuantizeOptions {
  // One weight per column (llama.cpp's imatrix for this tensor), or empty.
  std::span<const float> importance = {};
  unsigned threads = 1;  // 0: all hardware threads; bytes never depend on it
};

// Index of the first NaN/Inf in x[0..n), or n.
inline std::size_t first_non_finite(const float* x, std::size_t n) noexcept {
  // Branch-free blocks so the compiler vectorises the common all-finite case.
  constexpr std::size_t kStep = 256;
  std::size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    std::uint32_t bad = 0;
    for (std::size_t j = 0; j < kStep; ++j) {
      std::uint32_t u;
      std::memcpy(&u, x + i + j, 4);
      bad |= static_cast<std::uint32_t>((u & 0x7f800000u) == 0x7f800000u);
    }
    if (bad) break;
  }
  for (; i < n; ++i) {
    if (!std::isfinite(x[i])) return i;
  }
  return n;
}

// Index of the first x[i] that is NaN or has |x[i]| > limit (a finite
// positive limit; FLT_MAX finds the first NaN/Inf), or n.
inline std::size_t first_beyond(const float* x, std::size_t n, float limit) noexcept {
  std::uint32_t lim;
  std::memcpy(&lim, &limit, 4);
  // Magnitude bits order like the values, NaN above Inf: one integer compare.
  constexpr std::size_t kStep = 256;
  std::size_t i = 0;
  for (; i + kStep <= n; i += kStep) {
    std::uint32_t bad = 0;
    for (std::size_t j = 0; j < kStep; ++j) {
      std::uint32_t u;
      std::memcpy(&u, x + i + j, 4);
      bad |= static_cast<std::uint32_t>((u & 0x7fffffffu) > lim);
    }
    if (bad) break;
  }
  for (; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, 4);
    if ((u & 0x7fffffffu) > lim) return i;
  }
  return n;
}

namespace detail {

struct SchemeShape {
  std::string_view name;
  std::size_t block_elems;
  std::size_t block_bytes;
  bool requires_importance;
  // Optional S::max_abs_input: larger inputs are refused before quantizing.
  float max_abs_input = std::numeric_limits<float>::max();
};

inline Status check_quantize_args(const SchemeShape& s, std::size_t src_elems, std::size_t cols,
                                  std::size_t dst_bytes, const QuantizeOptions& opt,
                                  std::size_t* rows_out) {
  if (cols == 0) return make_error(Errc::kBadArgument, "row length (cols) must be > 0");
  if (cols % s.block_elems != 0) {
    return make_error(Errc::kBadArgument,
                      "row length " + std::to_string(cols) + " is not a multiple of the " +
                          std::string(s.name) + " block size " + std::to_string(s.block_elems));
  }
  if (src_elems % cols != 0) {
    return make_error(Errc::kBadArgument, "input has " + std::to_string(src_elems) +
                                              " values, not a whole number of rows of " +
                                              std::to_string(cols));
  }
  const std::size_t rows = src_elems / cols;
  const std::size_t need = rows * (cols / s.block_elems) * s.block_bytes;
  if (dst_bytes != need) {
    return make_error(Errc::kBadArgument, "output buffer has " + std::to_string(dst_bytes) +
                                              " bytes; " + std::to_string(rows) + " rows of " +
                                              std::string(s.name) + " need " +
                                              std::to_string(need));
  }
  if (!opt.importance.empty() && opt.importance.size() != cols) {
    return make_error(Errc::kBadArgument, "importance weights: expected " +
                                              std::to_string(cols) + " values (one per column), got " +
                                              std::to_string(opt.importance.size()));
  }
  if (opt.importance.empty() && s.requires_importance) {
    return make_error(Errc::kNeedsImportance,
                      std::string(s.name) +
                          " needs importance weights (an imatrix): ggml refuses to quantize it "
                          "without one");
  }
  if (!opt.importance.empty()) {
    const std::size_t bad = first_non_finite(opt.importance.data(), cols);
    if (bad != cols) {
      return make_error(Errc::kNonFinite,
                        "importance weight " + std::to_string(bad) + " is not finite", bad);
    }
  }
  *rows_out = rows;
  return {};
}

// Lowers `slot` to `value` (the lowest failing index wins, whatever the thread order).
inline void atomic_min(std::atomic<std::uint64_t>& slot, std::uint64_t value) noexcept {
  std::uint64_t cur = slot.load();
  while (value < cur && !slot.compare_exchange_weak(cur, value)) {
  }
}

inline Status quantize_rows(const RowKernels& k, const SchemeShape& s, std::span<const float> src,
                            std::size_t cols, std::byte* dst, std::size_t rows,
                            const QuantizeOptions& opt) {
  const std::size_t row_bytes = cols / s.block_elems * s.block_bytes;
  const float* imp = opt.importance.empty() ? nullptr : opt.importance.data();
  // Grain: about 1 MiB of input per chunk, at least one row.
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 18) / cols);
  const std::size_t nb = cols / s.block_elems;
  constexpr std::uint64_t kNone = ~std::uint64_t{0};
  std::atomic<std::uint64_t> first_nan{kNone};  // lowest non-finite element index
  std::atomic<std::uint64_t> first_big{kNone};  // lowest element beyond s.max_abs_input
  std::atomic<std::uint64_t> first_bad{kNone};  // lowest failing block index
  const bool limited = s.max_abs_input < std::numeric_limits<float>::max();
  const detail::NonFiniteScanFn scan = detail::non_finite_scan(active_isa());
  parallel_for(0, rows, grain, opt.threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      // The NaN/Inf scan runs per row just before its quantization, so the
      // kernel reads the row from cache instead of memory a second time.
      const float* row = src.data() + r * cols;
      if (const std::size_t bad = scan(row, cols); bad != cols) {
        atomic_min(first_nan, r * cols + bad);
        continue;
      }
      if (limited) {
        if (const std::size_t big = first_beyond(row, cols, s.max_abs_input); big != cols) {
          atomic_min(first_big, r * cols + big);
          continue;
        }
      }
      k.quantize(row, dst + r * row_bytes, cols, imp);
      if (k.validate) {
        const std::size_t b = k.validate(dst + r * row_bytes, nb);
        if (b < nb) atomic_min(first_bad, r * nb + b);
      }
    }
  });
  if (const std::uint64_t bad = first_nan.load(); bad != kNone) {
    return make_error(Errc::kNonFinite,
                      "input value is " + std::string(std::isnan(src[bad]) ? "NaN" : "infinite") +
                          " at element " + std::to_string(bad) + " (row " +
                          std::to_string(bad / cols) + ", column " + std::to_string(bad % cols) +
                          ")",
                      bad);
  }
  if (const std::uint64_t bad = first_big.load(); bad != kNone) {
    return make_error(Errc::kOverflow,
                      "value " + std::to_string(src[bad]) + " at element " + std::to_string(bad) +
                          " (row " + std::to_string(bad / cols) + ", column " +
                          std::to_string(bad % cols) + ") is too large for " +
                          std::string(s.name) + " (|x| must not exceed " +
                          std::to_string(s.max_abs_input) + ")",
                      bad);
  }
  if (const std::uint64_t bad_block = first_bad.load(); bad_block != kNone) {
    const std::size_t r = bad_block / nb, b = bad_block % nb;
    const float* xb = src.data() + r * cols + b * s.block_elems;
    float amax = 0;
    for (std::size_t j = 0; j < s.block_elems; ++j) amax = std::max(amax, std::fabs(xb[j]));
    return make_error(Errc::kOverflow,
                      "values too large for " + std::string(s.name) + ": row " + std::to_string(r) +
                          ", columns " + std::to_string(b * s.block_elems) + ".." +
                          std::to_string((b + 1) * s.block_elems - 1) + " (|x| up to " +
                          std::to_string(amax) + ") give an infinite " +
                          (s.block_elems == 1 ? "value" : "block scale") +
                          "; ggml would write blocks that llama.cpp rejects",
                      r * cols + b * s.block_elems);
  }
  return {};
}

// Dequantized outputs from this size on (a large last-level cache: they
// cannot stay cached) are written with non-temporal stores.
inline constexpr std::size_t kStreamingOutputBytes = std::size_t{32} << 20;

inline Status dequantize_rows(const RowKernels& k, const SchemeShape& s, const std::byte* src,
                              std::size_t src_bytes, std::size_t cols, std::span<float> dst,
                              unsigned threads) {
  if (cols == 0 || cols % s.block_elems != 0) {
    return make_error(Errc::kBadArgument,
                      "row length " + std::to_string(cols) + " is not a positive multiple of the " +
                          std::string(s.name) + " block size " + std::to_string(s.block_elems));
  }
  const std::size_t row_bytes = cols / s.block_elems * s.block_bytes;
  if (src_bytes % row_bytes != 0) {
    return make_error(Errc::kBadArgument, "input has " + std::to_string(src_bytes) +
                                              " bytes, not a whole number of " +
                                              std::string(s.name) + " rows of " +
                                              std::to_string(row_bytes) + " bytes");
  }
  const std::size_t rows = src_bytes / row_bytes;
  if (dst.size() != rows * cols) {
    return make_error(Errc::kBadArgument, "output buffer has " + std::to_string(dst.size()) +
                                              " floats; " + std::to_string(rows) + " rows need " +
                                              std::to_string(rows * cols));
  }
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 18) / cols);
  // Outputs far beyond the last-level cache: non-temporal stores save the
  // read-for-ownership of every output line (same floats either way).
  const DequantizeRowFn fn = k.dequantize_stream && dst.size_bytes() >= kStreamingOutputBytes
                                 ? k.dequantize_stream
                                 : k.dequantize;
  parallel_for(0, rows, grain, threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) fn(src + r * row_bytes, dst.data() + r * cols, cols);
  });
  return {};
}

inline Status quantize_activation(QuantizeActivationFn fn, const SchemeShape& s,
                                  std::span<const float> x, std::byte* y, std::size_t y_bytes) {
  if (fn == nullptr) {
    return make_error(Errc::kUnsupported,
                      std::string(s.name) + " has no activation quantizer (not a vec_dot type)");
  }
  if (x.size() % s.block_elems != 0) {
    return make_error(Errc::kBadArgument, "activation length " + std::to_string(x.size()) +
                                              " is not a multiple of the " + std::string(s.name) +
                                              " block size " + std::to_string(s.block_elems));
  }
  const std::size_t need = x.size() / s.block_elems * s.block_bytes;
  if (y_bytes != need) {
    return make_error(Errc::kBadArgument, "output buffer has " + std::to_string(y_bytes) +
                                              " bytes; " + std::to_string(x.size()) + " values of " +
                                              std::string(s.name) + " need " + std::to_string(need));
  }
  if (const std::size_t bad = first_non_finite(x.data(), x.size()); bad != x.size()) {
    return make_error(Errc::kNonFinite,
                      "activation value is " + std::string(std::isnan(x[bad]) ? "NaN" : "infinite") +
                          " at element " + std::to_string(bad),
                      bad);
  }
  fn(x.data(), y, x.size());
  return {};
}

template <Scheme S>
constexpr SchemeShape shape_of() {
  bool req = false;
  if constexpr (GgmlScheme<S>) req = ggml_type_info(S::ggml_type).requires_imatrix;
  SchemeShape shape{S::name, S::block_elems, S::block_bytes, req};
  if constexpr (requires { S::max_abs_input; }) shape.max_abs_input = S::max_abs_input;
  return shape;
}

inline SchemeShape shape_of(GgmlType t) {
  const auto& i = ggml_type_info(t);
  SchemeShape shape{i.name, i.block_elems, i.block_bytes, i.requires_imatrix};
  GgmlSchemes::for_each([&]<class S>() {
    if (S::ggml_type == t) shape = shape_of<S>();
  });
  return shape;
}

}  // namespace detail

// Bytes of `rows` rows of `cols` elements of type t (cols a multiple of the block size).
inline std::size_t ggml_row_bytes(GgmlType t, std::size_t cols) noexcept {
  const auto& i = ggml_type_info(t);
  return i.block_elems ? cols / i.block_elems * i.block_bytes : 0;
}

// Quantizes rows of `cols` floats from src into dst (rows * row_bytes bytes).
template <Scheme S>
Status quantize(std::span<const float> src, std::size_t cols, std::span<typename S::Block> dst,
                const QuantizeOptions& opt = {}) {
  constexpr auto shape = detail::shape_of<S>();
  std::size_t rows = 0;
  EDGEQUANT_TRY(detail::check_quantize_args(shape, src.size(), cols, dst.size_bytes(), opt, &rows));
  return detail::quantize_rows(row_kernels_for<S>(), shape, src, cols,
                               reinterpret_cast<std::byte*>(dst.data()), rows, opt);
}

template <Scheme S>
Status dequantize(std::span<const typename S::Block> src, std::size_t cols, std::span<float> dst,
                  unsigned threads = 1) {
  return detail::dequantize_rows(row_kernels_for<S>(), detail::shape_of<S>(),
                                 reinterpret_cast<const std::byte*>(src.data()), src.size_bytes(),
                                 cols, dst, threads);
}

// Quantizes activations the way the CPU dot products do (ggml's x86
// from_float for S = Q8_0, Q8_1, Q8_K; specs/ggml-quants.md §5): x is one or
// more rows (blocks are independent), dst exactly x.size() / block_elems
// blocks. Checks sizes and finiteness; hot loops call
// ggml_activation_quantizer(type) directly instead.
template <Scheme S>
  requires HasActivation<S>
Status quantize_activation(std::span<const float> x, std::span<typename S::Block> dst) {
  return detail::quantize_activation(row_kernels_for<S>().activation, detail::shape_of<S>(), x,
                                     reinterpret_cast<std::byte*>(dst.data()), dst.size_bytes());
}

// Type-erased versions by ggml type id (CLI, GGUF, converters).
inline Status quantize(GgmlType type, std::span<const float> src, std::size_t cols,
                       std::span<std::byte> dst, const QuantizeOptions& opt = {}) {
  if (!ggml_type_supported(type)) {
    return make_error(Errc::kUnsupported,
                      "quantizing to " + std::string(ggml_type_name(type)) + " is not supported");
  }
  const auto shape = detail::shape_of(type);
  std::size_t rows = 0;
  EDGEQUANT_TRY(detail::check_quantize_args(shape, src.size(), cols, dst.size(), opt, &rows));
  return detail::quantize_rows(ggml_row_kernels(type, active_isa()), shape, src, cols, dst.data(),
                               rows, opt);
}

inline Status dequantize(GgmlType type, std::span<const std::byte> src, std::size_t cols,
                         std::span<float> dst, unsigned threads = 1) {
  if (!ggml_type_supported(type)) {
    return make_error(Errc::kUnsupported,
                      "dequantizing " + std::string(ggml_type_name(type)) + " is not supported");
  }
  return detail::dequantize_rows(ggml_row_kernels(type, active_isa()), detail::shape_of(type),
                                 src.data(), src.size(), cols, dst, threads);
}

// Activation quantizer by vec_dot type id (kQ8_0, kQ8_1, kQ8_K).
inline Status quantize_activation(GgmlType type, std::span<const float> x, std::span<std::byte> dst) {
  const QuantizeActivationFn fn = ggml_activation_quantizer(type);
  if (fn == nullptr) {
    return make_error(Errc::kUnsupported, "ggml type " +
                                              std::to_string(static_cast<std::uint32_t>(type)) +
                                              " has no activation quantizer (not a vec_dot type)");
  }
  return detail::quantize_activation(fn, detail::shape_of(type), x, dst.data(), dst.size());
}

}  // namespace edgequant
