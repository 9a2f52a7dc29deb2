// Public API of the plane schemes (ONNX Runtime MatMulNBits, NNCF, MLX):
// quantize a [rows, cols] weight into the exact tensors the tool stores, and
// back; a row-wise raw layout for streams; a registry by name; dispatch to
// the SIMD kernels (identical bytes on every target).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgequant/core/error.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/kernels.hpp"
#include "edgequant/quantize.hpp"
#include "edgequant/schemes/all.hpp"

namespace edgequant {

namespace detail {

template <class S>
void plane_ref_quantize(const float* x, std::size_t k, RowPlanes o, FloatType t) {
  S::quantize_row_ref(x, k, o, t);
}
template <class S>
void plane_ref_dequantize(ConstRowPlanes in, std::size_t k, float* y, FloatType t) {
  S::dequantize_row_ref(in, k, y, t);
}

using PlaneKernelTable = std::array<PlaneKernels, kIsaCount>;

#if EDGEQUANT_KERNELS_COMPILED
// PlaneKernels of S for every Isa (scalar reference where a target has none).
template <class S>
const PlaneKernelTable& compiled_plane_kernel_table() {
  static const PlaneKernelTable table = [] {
    std::array<PlaneKernels, kIsaCount> t{};
    for (auto& k : t) k = PlaneKernels{&plane_ref_quantize<S>, &plane_ref_dequantize<S>};
    using Getter = PlaneKernels (*)();
    auto fill = [&](Isa isa, Getter get) {
      if (get == nullptr) return;
      const PlaneKernels k = get();
      auto& slot = t[static_cast<std::size_t>(isa)];
      if (k.quantize) slot.quantize = k.quantize;
      if (k.dequantize) slot.dequantize = k.dequantize;
    };
#define EDGEQUANT_FILL_(isa, ptr) fill(isa, ptr);
    EDGEQUANT_FOR_EACH_TARGET(EDGEQUANT_FILL_, plane_kernels<S>)
#undef EDGEQUANT_FILL_
    return t;
  }();
  return table;
}
#endif

#if EDGEQUANT_SEPARATE_KERNELS_
// The registered plane schemes' kernels are in the kernel parts.
EDGEQUANT_DECLARE_KERNEL_PARTS_(const PlaneKernelTable&, separate_plane_kernels_)
#if defined(EDGEQUANT_KERNELS_PART)
const PlaneKernelTable& EDGEQUANT_KERNEL_PART_NAME_(separate_plane_kernels_)(std::size_t index) {
  return separate_part_table<PlaneSchemes, PlaneKernelTable, EDGEQUANT_KERNELS_PART>(
      index, []<class S>() -> const PlaneKernelTable& { return compiled_plane_kernel_table<S>(); });
}
#endif
#endif

template <class S>
const PlaneKernelTable& plane_kernel_table() {
#if EDGEQUANT_SEPARATE_KERNELS_
  constexpr std::size_t i = PlaneSchemes::index_of<S>;
  static_assert(i < PlaneSchemes::size,
                "EDGEQUANT_SEPARATE_KERNELS: the kernel parts hold registered plane schemes only");
  EDGEQUANT_DISPATCH_KERNEL_PARTS_(separate_plane_kernels_, i);
#else
  return compiled_plane_kernel_table<S>();
#endif
}

}  // namespace detail

template <PlaneScheme S>
const PlaneKernels& plane_kernels_for(Isa isa) noexcept {
  return detail::plane_kernel_table<S>()[static_cast<std::size_t>(isa)];
}

// What the generic code needs to know about a plane scheme, without its type.
struct PlaneSchemeInfo {
  std::string_view name;
  std::string_view family;
  std::size_t group;
  int bits;
  bool dtype_matters;  // the weight type changes the bytes (MLX, ORT scales)
  Status (*check)(std::size_t k, FloatType t);
  PlaneSpecs (*planes)(std::size_t rows, std::size_t k, FloatType t);
  const PlaneKernels& (*kernels)(Isa isa);
};

template <PlaneScheme S>
const PlaneSchemeInfo& plane_scheme_info() {
  static const PlaneSchemeInfo info{S::name,
                                    S::family,
                                    S::group,
                                    S::bits,
                                    S::family != "nncf",
                                    &S::check,
                                    &S::planes,
                                    &plane_kernels_for<S>};
  return info;
}

// Every registered plane scheme, in registry order (ORT, NNCF, MLX).
inline std::span<const PlaneSchemeInfo* const> plane_schemes() {
  static const std::vector<const PlaneSchemeInfo*> all = [] {
    std::vector<const PlaneSchemeInfo*> v;
    PlaneSchemes::for_each([&]<class S>() { v.push_back(&plane_scheme_info<S>()); });
    return v;
  }();
  return all;
}

// By name, case-insensitive; nullptr when unknown.
inline const PlaneSchemeInfo* find_plane_scheme(std::string_view name) {
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
  };
  const std::string n = lower(name);
  for (const auto* s : plane_schemes()) {
    if (lower(s->name) == n) return s;
  }
  return nullptr;
}

struct PlaneOptions {
  // The weight's type: inputs are rounded to it first (MLX quantizes T
  // values; ORT stores scales in it). NNCF ignores it (always f32 math, f16
  // scales).
  FloatType dtype = FloatType::kF32;
  unsigned threads = 1;  // 0: all hardware threads; bytes never depend on it
};

// A quantized weight as the tool stores it: one byte buffer per plane.
struct QuantizedPlanes {
  const PlaneSchemeInfo* scheme = nullptr;
  std::size_t rows = 0, cols = 0;
  FloatType dtype = FloatType::kF32;
  PlaneSpecs specs{};
  std::array<std::vector<std::uint8_t>, kMaxPlanes> data;
};

// Bytes of one row in the raw row-wise layout: each plane's row buffer in
// plane order (flat sub-byte planes unpacked, one element per byte).
inline std::size_t raw_row_bytes(const PlaneSchemeInfo& s, std::size_t cols, FloatType t) {
  const PlaneSpecs p = s.planes(1, cols, t);
  return p[0].row_bytes + p[1].row_bytes + p[2].row_bytes;
}

namespace detail {

inline Status check_plane_input(const PlaneSchemeInfo& s, std::span<const float> src,
                                std::size_t cols, FloatType t, std::size_t* rows) {
  if (cols == 0) return make_error(Errc::kBadArgument, "row length (cols) must be > 0");
  EDGEQUANT_TRY(s.check(cols, t));
  if (src.size() % cols != 0) {
    return make_error(Errc::kBadArgument, "input has " + std::to_string(src.size()) +
                                              " values, not a whole number of rows of " +
                                              std::to_string(cols));
  }
  const std::size_t bad = first_non_finite(src.data(), src.size());
  if (bad != src.size()) {
    return make_error(Errc::kNonFinite,
                      "input value is " + std::string(std::isnan(src[bad]) ? "NaN" : "infinite") +
                          " at element " + std::to_string(bad) + " (row " +
                          std::to_string(bad / cols) + ", column " + std::to_string(bad % cols) +
                          ")",
                      bad);
  }
  if (t != FloatType::kF32) {
    // Magnitudes that round to Inf in t: f16 >= 65520, bf16 >= 0x7f7f8000.
    const float lim = f32_from_bits(t == FloatType::kF16 ? 0x477ff000u : 0x7f7f8000u);
    for (std::size_t i = 0; i < src.size(); ++i) {
      if (std::fabs(src[i]) >= lim) {
        return make_error(Errc::kOverflow,
                          "value " + std::to_string(src[i]) + " at row " +
                              std::to_string(i / cols) + ", column " + std::to_string(i % cols) +
                              " overflows " + std::string(float_type_name(t)),
                          i);
      }
    }
  }
  *rows = src.size() / cols;
  return {};
}

// First stored float (scale/bias) that is Inf/NaN in one row's buffers.
inline std::size_t first_bad_float(const PlaneSpec& p, const std::uint8_t* row) {
  if (!p.is_float) return p.row_elems;
  const std::size_t b = float_type_bytes(p.float_type);
  for (std::size_t i = 0; i < p.row_elems; ++i) {
    if (!std::isfinite(load_float(p.float_type, row + i * b))) return i;
  }
  return p.row_elems;
}

// Quantizes rows [r0, r1) into row buffers laid out as `bufs[plane] + r * row_bytes`.
inline Status quantize_rows_into(const PlaneSchemeInfo& s, const PlaneSpecs& specs,
                                 std::span<const float> src, std::size_t cols, FloatType t,
                                 std::array<std::uint8_t*, kMaxPlanes> bufs, std::size_t rows,
                                 unsigned threads) {
  const PlaneKernels& k = s.kernels(active_isa());
  std::atomic<std::uint64_t> first_bad{~std::uint64_t{0}};
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 16) / cols);
  parallel_for(0, rows, grain, threads, [&](std::size_t r0, std::size_t r1) {
    std::vector<float> tmp(t == FloatType::kF32 ? 0 : cols);
    for (std::size_t r = r0; r < r1; ++r) {
      const float* x = src.data() + r * cols;
      if (t != FloatType::kF32) {
        for (std::size_t i = 0; i < cols; ++i) tmp[i] = round_to(t, x[i]);
        x = tmp.data();
      }
      RowPlanes o;
      for (std::size_t p = 0; p < kMaxPlanes; ++p) {
        o.p[p] = specs[p].row_bytes ? bufs[p] + r * specs[p].row_bytes : nullptr;
      }
      k.quantize(x, cols, o, t);
      for (std::size_t p = 1; p < kMaxPlanes; ++p) {
        if (!o.p[p]) continue;
        const std::size_t i = first_bad_float(specs[p], o.p[p]);
        if (i < specs[p].row_elems) {
          const std::uint64_t idx = r;
          std::uint64_t cur = first_bad.load();
          while (idx < cur && !first_bad.compare_exchange_weak(cur, idx)) {
          }
        }
      }
    }
  });
  if (const std::uint64_t r = first_bad.load(); r != ~std::uint64_t{0}) {
    return make_error(Errc::kOverflow,
                      "values too large for " + std::string(s.name) + ": row " + std::to_string(r) +
                          " gives a scale or bias that overflows its stored type",
                      r * cols);
  }
  return {};
}

}  // namespace detail

// Quantizes src ([rows, cols] row-major float32) into the tool's planes.
inline Expected<QuantizedPlanes> quantize_planes(const PlaneSchemeInfo& s,
                                                 std::span<const float> src, std::size_t cols,
                                                 const PlaneOptions& opt = {}) {
  std::size_t rows = 0;
  EDGEQUANT_TRY(detail::check_plane_input(s, src, cols, opt.dtype, &rows));
  QuantizedPlanes q;
  q.scheme = &s;
  q.rows = rows;
  q.cols = cols;
  q.dtype = opt.dtype;
  q.specs = s.planes(rows, cols, opt.dtype);
  std::array<std::vector<std::uint8_t>, kMaxPlanes> tmp;
  std::array<std::uint8_t*, kMaxPlanes> bufs{};
  for (std::size_t p = 0; p < kMaxPlanes; ++p) {
    auto& v = q.specs[p].flat ? tmp[p] : q.data[p];
    v.assign(rows * q.specs[p].row_bytes, 0);
    bufs[p] = v.data();
  }
  EDGEQUANT_TRY(
      detail::quantize_rows_into(s, q.specs, src, cols, opt.dtype, bufs, rows, opt.threads));
  for (std::size_t p = 0; p < kMaxPlanes; ++p) {
    if (!q.specs[p].flat) continue;
    q.data[p].assign(q.specs[p].file_bytes(rows), 0);
    pack_bits(tmp[p].data(), rows * q.specs[p].row_elems, q.specs[p].elem_bits, q.data[p].data());
  }
  return q;
}

// Dequantizes planes (as the tool stores them) to float32 [rows, cols].
inline Status dequantize_planes(const QuantizedPlanes& q, std::span<float> dst,
                                unsigned threads = 1) {
  if (q.scheme == nullptr) return make_error(Errc::kBadArgument, "no scheme");
  const PlaneSchemeInfo& s = *q.scheme;
  EDGEQUANT_TRY(s.check(q.cols, q.dtype));
  const PlaneSpecs specs = s.planes(q.rows, q.cols, q.dtype);
  if (dst.size() != q.rows * q.cols) {
    return make_error(Errc::kBadArgument, "output buffer has " + std::to_string(dst.size()) +
                                              " floats; need " + std::to_string(q.rows * q.cols));
  }
  std::array<std::vector<std::uint8_t>, kMaxPlanes> tmp;
  std::array<const std::uint8_t*, kMaxPlanes> bufs{};
  for (std::size_t p = 0; p < kMaxPlanes; ++p) {
    if (q.data[p].size() != specs[p].file_bytes(q.rows)) {
      return make_error(Errc::kBadArgument,
                        std::string(s.name) + " plane '" + std::string(specs[p].role) + "' has " +
                            std::to_string(q.data[p].size()) + " bytes; expected " +
                            std::to_string(specs[p].file_bytes(q.rows)));
    }
    if (specs[p].flat) {
      tmp[p].resize(q.rows * specs[p].row_elems);
      unpack_bits(q.data[p].data(), tmp[p].size(), specs[p].elem_bits, tmp[p].data());
      bufs[p] = tmp[p].data();
    } else {
      bufs[p] = q.data[p].data();
    }
  }
  const PlaneKernels& k = s.kernels(active_isa());
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 16) / q.cols);
  parallel_for(0, q.rows, grain, threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      ConstRowPlanes in;
      for (std::size_t p = 0; p < kMaxPlanes; ++p) {
        in.p[p] = specs[p].row_bytes ? bufs[p] + r * specs[p].row_bytes : nullptr;
      }
      k.dequantize(in, q.cols, dst.data() + r * q.cols, q.dtype);
    }
  });
  return {};
}

// Raw row-wise layout: rows of [plane 0 row | plane 1 row | plane 2 row].
inline Status quantize_raw(const PlaneSchemeInfo& s, std::span<const float> src, std::size_t cols,
                           std::span<std::uint8_t> dst, const PlaneOptions& opt = {}) {
  std::size_t rows = 0;
  EDGEQUANT_TRY(detail::check_plane_input(s, src, cols, opt.dtype, &rows));
  const PlaneSpecs specs = s.planes(1, cols, opt.dtype);
  const std::size_t rb = raw_row_bytes(s, cols, opt.dtype);
  if (dst.size() != rows * rb) {
    return make_error(Errc::kBadArgument, "output buffer has " + std::to_string(dst.size()) +
                                              " bytes; " + std::to_string(rows) + " rows of " +
                                              std::string(s.name) + " need " +
                                              std::to_string(rows * rb));
  }
  std::fill(dst.begin(), dst.end(), std::uint8_t{0});
  // Each plane's row buffer sits at a fixed offset in the raw row.
  PlaneSpecs strided = specs;
  std::array<std::uint8_t*, kMaxPlanes> bufs{};
  std::size_t off = 0;
  for (std::size_t p = 0; p < kMaxPlanes; ++p) {
    bufs[p] = dst.data() + off;
    off += specs[p].row_bytes;
    strided[p].row_bytes = specs[p].row_bytes ? rb : 0;
  }
  // quantize_rows_into addresses row r of plane p at bufs[p] + r * row_bytes.
  return detail::quantize_rows_into(s, strided, src, cols, opt.dtype, bufs, rows, opt.threads);
}

inline Status dequantize_raw(const PlaneSchemeInfo& s, std::span<const std::uint8_t> src,
                             std::size_t cols, std::span<float> dst, const PlaneOptions& opt = {}) {
  if (cols == 0) return make_error(Errc::kBadArgument, "row length (cols) must be > 0");
  EDGEQUANT_TRY(s.check(cols, opt.dtype));
  const PlaneSpecs specs = s.planes(1, cols, opt.dtype);
  const std::size_t rb = raw_row_bytes(s, cols, opt.dtype);
  if (src.size() % rb != 0) {
    return make_error(Errc::kBadArgument,
                      "input has " + std::to_string(src.size()) + " bytes, not a whole number of " +
                          std::string(s.name) + " rows of " + std::to_string(rb) + " bytes");
  }
  const std::size_t rows = src.size() / rb;
  if (dst.size() != rows * cols) {
    return make_error(Errc::kBadArgument, "output buffer has " + std::to_string(dst.size()) +
                                              " floats; " + std::to_string(rows) + " rows need " +
                                              std::to_string(rows * cols));
  }
  const PlaneKernels& k = s.kernels(active_isa());
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 16) / cols);
  parallel_for(0, rows, grain, opt.threads, [&](std::size_t r0, std::size_t r1) {
    for (std::size_t r = r0; r < r1; ++r) {
      ConstRowPlanes in;
      std::size_t off = r * rb;
      for (std::size_t p = 0; p < kMaxPlanes; ++p) {
        in.p[p] = specs[p].row_bytes ? src.data() + off : nullptr;
        off += specs[p].row_bytes;
      }
      k.dequantize(in, cols, dst.data() + r * cols, opt.dtype);
    }
  });
  return {};
}

template <PlaneScheme S>
Expected<QuantizedPlanes> quantize_planes(std::span<const float> src, std::size_t cols,
                                          const PlaneOptions& opt = {}) {
  return quantize_planes(plane_scheme_info<S>(), src, cols, opt);
}

}  // namespace edgequant
