// Plane schemes: the other ecosystems' formats (ONNX Runtime, NNCF/OpenVINO,
// MLX), which store weights, scales and zero points/biases in separate tensors
// ("planes") rather than interleaved blocks. Shared vocabulary and helpers.
#pragma once

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/schemes/scheme.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

// The weight's floating-point type where a tool's arithmetic or its scale
// storage depends on it (MLX computes in it and stores scales in it; ORT stores
// MatMulNBits scales in the type of A). Input floats are first rounded to it.
enum class FloatType : std::uint8_t { kF32, kF16, kBF16 };

constexpr std::string_view float_type_name(FloatType t) noexcept {
  switch (t) {
    case FloatType::kF32:
      return "f32";
    case FloatType::kF16:
      return "f16";
    case FloatType::kBF16:
      return "bf16";
  }
  return "?";
}
constexpr std::size_t float_type_bytes(FloatType t) noexcept {
  return t == FloatType::kF32 ? 4 : 2;
}

// f16_to_f32(f32_to_f16(x)) without the conversions: round the float32 to
// 11 significant bits (fewer in the f16 subnormal range) in place, RNE. Exact
// for every non-NaN float; NaN is passed through.
EDGEQUANT_HOST_DEVICE inline float round_to_f16(float x) noexcept {
  const std::uint32_t u = f32_bits(x);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a >= 0x477ff000u) {  // >= 65520 rounds to Inf; Inf and NaN stay
    return a > 0x7f800000u ? x : f32_from_bits((u & 0x80000000u) | 0x7f800000u);
  }
  if (a < 0x38800000u) {  // below 2^-14: f16 subnormals, steps of 2^-24
    const float m = (f32_from_bits(a) + 0.5f) - 0.5f;  // f32 ulp of 0.5 is 2^-24
    return f32_from_bits((u & 0x80000000u) | f32_bits(m));
  }
  return f32_from_bits((u + 0x0fffu + ((u >> 13) & 1u)) & 0xffffe000u);
}

// Round-to-nearest-even of a float32 to t, read back as float32 (exact).
EDGEQUANT_HOST_DEVICE inline float round_to(FloatType t, float x) noexcept {
  switch (t) {
    case FloatType::kF32:
      return x;
    case FloatType::kF16:
      return round_to_f16(x);
    case FloatType::kBF16:
      return bf16_to_f32(f32_to_bf16(x));
  }
  return x;
}

// Stores x (already representable or to be rounded RNE) as t, little-endian.
inline void store_float(FloatType t, float x, std::uint8_t* p) noexcept {
  if (t == FloatType::kF32) {
    const std::uint32_t u = f32_bits(x);
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(u >> (8 * i));
    return;
  }
  const std::uint16_t h = t == FloatType::kF16 ? f32_to_f16(x) : f32_to_bf16(x);
  p[0] = static_cast<std::uint8_t>(h);
  p[1] = static_cast<std::uint8_t>(h >> 8);
}
inline float load_float(FloatType t, const std::uint8_t* p) noexcept {
  if (t == FloatType::kF32) {
    std::uint32_t u = 0;
    for (int i = 0; i < 4; ++i) u |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    return f32_from_bits(u);
  }
  const auto h = static_cast<std::uint16_t>(p[0] | (p[1] << 8));
  return t == FloatType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
}
inline void store_f16(float x, std::uint8_t* p) noexcept { store_float(FloatType::kF16, x, p); }
inline float load_f16(const std::uint8_t* p) noexcept { return load_float(FloatType::kF16, p); }

// Decode tables (the exact float_convert.hpp decoders, tabulated once).
inline const float* e4m3fn_table() noexcept {
  static const auto t = [] {
    std::array<float, 256> v{};
    for (std::uint32_t b = 0; b < 256; ++b) v[b] = e4m3fn_to_f32(static_cast<std::uint8_t>(b));
    return v;
  }();
  return t.data();
}
inline const float* e2m1_table() noexcept {
  static const auto t = [] {
    std::array<float, 16> v{};
    for (std::uint32_t b = 0; b < 16; ++b) v[b] = e2m1_to_f32(static_cast<std::uint8_t>(b));
    return v;
  }();
  return t.data();
}

// ------------------------------------------------------------- rounding -----
// C rintf (half to even) and roundf (half away from zero), exact for every
// float, in the same form as the SIMD helpers (trunc + exact fraction) so both
// paths agree by construction.
inline float round_half_even(float x) noexcept { return std::nearbyint(x); }
inline float round_half_away(float x) noexcept { return std::round(x); }

// numpy's float32 -> int32 cast on x86 (cvttss2si): out-of-range and NaN give
// INT32_MIN. Matters for NNCF's zero point of constant groups (openvino.md §5.3).
inline std::int32_t x86_f32_to_i32(float f) noexcept {
  if (!(f >= -2147483648.0f && f < 2147483648.0f)) return INT32_MIN;
  return static_cast<std::int32_t>(f);
}

// -------------------------------------------------------------- packing -----
// LSB-first bitstream: element i occupies bits [i*bits, (i+1)*bits) counted
// from bit 0 of byte 0. This is ONNX/OpenVINO sub-byte packing, MatMulNBits'
// blob packing and MLX's uint32 packing read as little-endian bytes
// (onnx.md §2.8, §6.3; openvino.md §2; mlx.md §2.2). `out` is fully written:
// bits past n*bits in the last byte are zero.
inline void pack_bits(const std::uint8_t* codes, std::size_t n, int bits,
                      std::uint8_t* out) noexcept {
  switch (bits) {
    case 8:
      std::memcpy(out, codes, n);
      return;
    case 4:
      for (std::size_t i = 0; i + 1 < n; i += 2) {
        out[i / 2] = static_cast<std::uint8_t>((codes[i] & 15) | (codes[i + 1] << 4));
      }
      if (n & 1) out[n / 2] = codes[n - 1] & 15;
      return;
    case 2: {
      const std::size_t nb = (n + 3) / 4;
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < 4 && 4 * b + k < n; ++k)
          v |= (codes[4 * b + k] & 3u) << (2 * k);
        out[b] = static_cast<std::uint8_t>(v);
      }
      return;
    }
    default: {
      const std::size_t nbytes = (n * static_cast<std::size_t>(bits) + 7) / 8;
      std::memset(out, 0, nbytes);
      const std::uint32_t mask = (1u << bits) - 1;
      std::size_t bit = 0;
      for (std::size_t i = 0; i < n; ++i, bit += static_cast<std::size_t>(bits)) {
        const std::uint32_t v = (codes[i] & mask) << (bit & 7);
        out[bit / 8] |= static_cast<std::uint8_t>(v);
        if ((bit & 7) + static_cast<std::size_t>(bits) > 8)
          out[bit / 8 + 1] |= static_cast<std::uint8_t>(v >> 8);
      }
    }
  }
}

// Inverse of pack_bits: n codes of `bits` bits from the bitstream `in`.
inline void unpack_bits(const std::uint8_t* in, std::size_t n, int bits,
                        std::uint8_t* codes) noexcept {
  switch (bits) {
    case 8:
      std::memcpy(codes, in, n);
      return;
    case 4:
      for (std::size_t i = 0; i + 1 < n; i += 2) {
        codes[i] = in[i / 2] & 15;
        codes[i + 1] = in[i / 2] >> 4;
      }
      if (n & 1) codes[n - 1] = in[n / 2] & 15;
      return;
    default: {
      const std::uint32_t mask = (1u << bits) - 1;
      std::size_t bit = 0;
      for (std::size_t i = 0; i < n; ++i, bit += static_cast<std::size_t>(bits)) {
        std::uint32_t v = in[bit / 8] >> (bit & 7);
        if ((bit & 7) + static_cast<std::size_t>(bits) > 8)
          v |= static_cast<std::uint32_t>(in[bit / 8 + 1]) << (8 - (bit & 7));
        codes[i] = static_cast<std::uint8_t>(v & mask);
      }
    }
  }
}

// ---------------------------------------------------------------- planes ----
// One tensor a tool stores for a quantized weight of `rows` x `cols` (the
// weight as [N, K]: one row per output feature, quantized along K).
struct PlaneSpec {
  std::string_view role;      // "B", "scales", "zero_points", "weight", "biases"
  std::string_view dtype;     // element type as the tool spells it ("uint8", "u4", "U32")
  int elem_bits = 8;          // bits of one stored element
  std::size_t row_elems = 0;  // elements per row
  std::size_t row_bytes = 0;  // bytes per row in edgequant's row-wise buffers
  // false: the file bytes are the rows' buffers concatenated. true: the file
  // packs all rows' elements as one LSB-first bitstream over the flattened
  // tensor (ONNX/OpenVINO sub-byte tensors whose rows are not byte-aligned);
  // the row buffers then hold one element per byte.
  bool flat = false;
  std::array<std::size_t, 3> dims{};  // the tool's shape for the whole tensor
  int rank = 0;
  // Scales/biases stored as a float type: the public API refuses outputs whose
  // stored values overflowed it (an Inf scale the tool would also write).
  bool is_float = false;
  FloatType float_type = FloatType::kF32;

  std::size_t file_bytes(std::size_t rows) const noexcept {
    return flat ? (rows * row_elems * static_cast<std::size_t>(elem_bits) + 7) / 8
                : rows * row_bytes;
  }
};

inline constexpr std::size_t kMaxPlanes = 3;
using PlaneSpecs = std::array<PlaneSpec, kMaxPlanes>;  // unused planes have row_bytes 0

// Row buffers of one row: [0] quantized values, [1] scales, [2] zero points or
// biases (nullptr when the scheme has none).
struct RowPlanes {
  std::uint8_t* p[kMaxPlanes] = {nullptr, nullptr, nullptr};
};
struct ConstRowPlanes {
  const std::uint8_t* p[kMaxPlanes] = {nullptr, nullptr, nullptr};
};

// Type-erased row kernels of one plane scheme on one target.
using PlaneQuantizeRowFn = void (*)(const float* x, std::size_t k, RowPlanes out, FloatType t);
using PlaneDequantizeRowFn = void (*)(ConstRowPlanes in, std::size_t k, float* y, FloatType t);
struct PlaneKernels {
  PlaneQuantizeRowFn quantize = nullptr;
  PlaneDequantizeRowFn dequantize = nullptr;
};

// A plane scheme: compile-time type with static traits and a scalar reference
// over one row (the oracle every SIMD kernel matches byte for byte).
//   S::name            canonical spelling, also the CLI's --type ("mlx:q4:g64")
//   S::family          "ort", "nncf" or "mlx"
//   S::group           K must be a multiple of it (1: any K)
//   S::check(K, t)     Status: K and the weight type allowed by the tool
//   S::planes(rows, K, t) -> PlaneSpecs
//   S::quantize_row_ref(const float* x, size_t K, RowPlanes, FloatType)
//       x finite and already representable in t (the public API rounds).
//   S::dequantize_row_ref(ConstRowPlanes, size_t K, float* y, FloatType)
template <class S>
concept PlaneScheme = requires(const float* x, float* y, std::size_t k, RowPlanes o,
                               ConstRowPlanes in, FloatType t) {
  { S::name } -> std::convertible_to<std::string_view>;
  { S::family } -> std::convertible_to<std::string_view>;
  { S::group } -> std::convertible_to<std::size_t>;
  { S::check(k, t) } -> std::same_as<Status>;
  { S::planes(k, k, t) } -> std::same_as<PlaneSpecs>;
  S::quantize_row_ref(x, k, o, t);
  S::dequantize_row_ref(in, k, y, t);
};

namespace detail {
template <class... Ls>
struct SchemeListCatImpl;
template <class... A>
struct SchemeListCatImpl<SchemeList<A...>> {
  using type = SchemeList<A...>;
};
template <class... A, class... B, class... Rest>
struct SchemeListCatImpl<SchemeList<A...>, SchemeList<B...>, Rest...> {
  using type = typename SchemeListCatImpl<SchemeList<A..., B...>, Rest...>::type;
};
}  // namespace detail

// Concatenation of SchemeLists.
template <class... Ls>
using SchemeListCat = typename detail::SchemeListCatImpl<Ls...>::type;

namespace detail {

inline PlaneSpec plane(std::string_view role, std::string_view dtype, int bits,
                       std::size_t row_elems, std::size_t row_bytes,
                       std::initializer_list<std::size_t> dims, bool flat = false) {
  PlaneSpec s;
  s.role = role;
  s.dtype = dtype;
  s.elem_bits = bits;
  s.row_elems = row_elems;
  s.row_bytes = row_bytes;
  s.flat = flat;
  for (std::size_t d : dims) s.dims[static_cast<std::size_t>(s.rank++)] = d;
  return s;
}

// A plane of row_elems float values of type t (scales, biases).
inline PlaneSpec float_plane(std::string_view role, FloatType t, std::string_view dtype,
                             std::size_t row_elems, std::initializer_list<std::size_t> dims) {
  PlaneSpec s = plane(role, dtype, static_cast<int>(8 * float_type_bytes(t)), row_elems,
                      row_elems * float_type_bytes(t), dims);
  s.is_float = true;
  s.float_type = t;
  return s;
}

inline Status check_group(std::string_view name, std::size_t k, std::size_t group) {
  if (k == 0 || k % group != 0) {
    return make_error(Errc::kBadArgument,
                      "row length " + std::to_string(k) + " is not a positive multiple of the " +
                          std::string(name) + " group size " + std::to_string(group));
  }
  return {};
}

}  // namespace detail

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
