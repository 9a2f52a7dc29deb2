// Apple MLX affine quantization (mx.quantize mode="affine"): bits 2,3,4,5,6,8,
// groups 32/64/128, scales and biases in the weight's dtype, uint32 LE
// bitstream packing (specs/mlx.md §2).
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/plane.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

// Which MLX backend's arithmetic (mlx.md §2.4): the CPU kernel (true min/max,
// rint) — verified against MLX itself — or the Metal/CUDA kernels (max starts
// at 0, round half away from zero), which is what mlx-lm on a Mac produces.
enum class MlxBackend : std::uint8_t { kCpu, kMetal };

namespace mlx {

inline constexpr float kEps = 1e-7f;  // §2.3: (float)1e-7, bits 0x33D6BF95

template <int Bits, std::size_t Group, MlxBackend B>
struct AffineName {
  static constexpr auto make() {
    std::array<char, 24> s{};
    std::size_t n = 0;
    for (const char* p = "mlx:q"; *p;) s[n++] = *p++;
    s[n++] = static_cast<char>('0' + Bits);
    s[n++] = ':';
    s[n++] = 'g';
    if (Group >= 100) s[n++] = static_cast<char>('0' + Group / 100);
    s[n++] = static_cast<char>('0' + Group / 10 % 10);
    s[n++] = static_cast<char>('0' + Group % 10);
    if (B == MlxBackend::kMetal) {
      for (const char* p = ":metal"; *p;) s[n++] = *p++;
    }
    return std::pair{s, n};
  }
  static constexpr auto data = make();
  static constexpr std::string_view value{data.first.data(), data.second};
};

struct AffineGroupParams {
  float scale;  // float32, used for the codes
  float bias;
};

// Scale and bias of one group from its extremes (§2.3 / §2.4). For Metal the
// caller folds the initial w_max = 0 into mx.
template <int Bits, MlxBackend B>
inline AffineGroupParams affine_params(float mn, float mx) noexcept {
  const float n_bins = static_cast<float>((1 << Bits) - 1);
  const bool use_min = std::fabs(mn) > std::fabs(mx);
  float scale = std::max((mx - mn) / n_bins, kEps);
  if (!use_min) scale = -scale;
  const float edge = use_min ? mn : mx;
  const float q0 = B == MlxBackend::kCpu ? std::nearbyint(edge / scale) : std::round(edge / scale);
  if (q0 != 0.0f) return {edge / q0, edge};
  return {scale, 0.0f};
}

// One code: rint/round((w - bias) / scale), clamped to [0, 2^bits-1]. MLX's
// result is undefined when the division overflows (|w| > ~3e31 with a tiny
// range); here NaN gives 0 and ±Inf clamps, documented in
// docs/ecosystem-schemes.md.
template <int Bits, MlxBackend B>
inline std::uint8_t affine_code(float w, float scale, float bias) noexcept {
  const float n_bins = static_cast<float>((1 << Bits) - 1);
  const float v = (w - bias) / scale;
  const float r = B == MlxBackend::kCpu ? std::nearbyint(v) : std::round(v);
  if (!(r >= 0.0f)) return 0;
  return static_cast<std::uint8_t>(r < n_bins ? r : n_bins);
}

}  // namespace mlx

template <int Bits, std::size_t Group, MlxBackend Backend = MlxBackend::kCpu>
struct MlxAffine {
  static_assert(Bits >= 2 && Bits <= 8 && Bits != 7, "MLX affine bits: 2, 3, 4, 5, 6, 8");
  static_assert(Group == 32 || Group == 64 || Group == 128, "MLX affine groups: 32, 64, 128");
  static constexpr std::string_view name = mlx::AffineName<Bits, Group, Backend>::value;
  static constexpr std::string_view family = "mlx";
  static constexpr int bits = Bits;
  static constexpr std::size_t group = Group;
  static constexpr MlxBackend backend = Backend;
  static constexpr std::size_t group_bytes = Group * Bits / 8;  // whole uint32 words (§2.2)

  static Status check(std::size_t k, FloatType) { return detail::check_group(name, k, Group); }

  static PlaneSpecs planes(std::size_t rows, std::size_t k, FloatType t) {
    const std::size_t ng = k / Group;
    const std::string_view sdt = t == FloatType::kF32   ? "F32"
                                 : t == FloatType::kF16 ? "F16"
                                                        : "BF16";
    PlaneSpecs p{};
    p[0] = detail::plane("weight", "U32", 32, k * Bits / 32, k * Bits / 8, {rows, k * Bits / 32});
    p[1] = detail::float_plane("scales", t, sdt, ng, {rows, ng});
    p[2] = detail::float_plane("biases", t, sdt, ng, {rows, ng});
    return p;
  }

  // x holds values of type t (MLX converts T -> float exactly).
  static void quantize_row_ref(const float* x, std::size_t k, RowPlanes out, FloatType t) noexcept {
    std::uint8_t codes[Group];
    const std::size_t tb = float_type_bytes(t);
    for (std::size_t g = 0; g < k / Group; ++g) {
      const float* w = x + g * Group;
      float mn =
          Backend == MlxBackend::kCpu ? std::numeric_limits<float>::infinity() : max_finite(t);
      float mx = Backend == MlxBackend::kCpu ? -std::numeric_limits<float>::infinity() : 0.0f;
      for (std::size_t j = 0; j < Group; ++j) {
        mx = std::max(mx, w[j]);
        mn = std::min(mn, w[j]);
      }
      const mlx::AffineGroupParams gp = mlx::affine_params<Bits, Backend>(mn, mx);
      for (std::size_t j = 0; j < Group; ++j)
        codes[j] = mlx::affine_code<Bits, Backend>(w[j], gp.scale, gp.bias);
      pack_bits(codes, Group, Bits, out.p[0] + g * group_bytes);
      store_float(t, gp.scale, out.p[1] + g * tb);
      store_float(t, gp.bias, out.p[2] + g * tb);
    }
  }

  // mx.dequantize on the CPU: RN_T(RN_T(q * scale) + bias), two roundings in
  // the scales' type (§2.6).
  static void dequantize_row_ref(ConstRowPlanes in, std::size_t k, float* y, FloatType t) noexcept {
    std::uint8_t codes[Group];
    const std::size_t tb = float_type_bytes(t);
    for (std::size_t g = 0; g < k / Group; ++g) {
      const float s = load_float(t, in.p[1] + g * tb);
      const float b = load_float(t, in.p[2] + g * tb);
      unpack_bits(in.p[0] + g * group_bytes, Group, Bits, codes);
      for (std::size_t j = 0; j < Group; ++j) {
        y[g * Group + j] = round_to(t, round_to(t, static_cast<float>(codes[j]) * s) + b);
      }
    }
  }

  static float max_finite(FloatType t) noexcept {
    return t == FloatType::kF32 ? FLT_MAX : t == FloatType::kF16 ? 65504.0f : bf16_to_f32(0x7F7F);
  }
};

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
