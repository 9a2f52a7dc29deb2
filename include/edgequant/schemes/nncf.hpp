// NNCF weight compression (nncf.compress_weights on an OpenVINO model):
// INT8/INT4 symmetric and asymmetric, NF4, FP4 (E2M1), MXFP4, FP8 E4M3 and
// MXFP8 E4M3, with the planes NNCF writes into the IR (specs/openvino.md §5).
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "edgequant/core/config.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/schemes/plane.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

namespace nncf {

// numpy's finfo(float32).eps: scales below it are replaced by it (§5.2).
inline constexpr float kEps = 1.1920929e-07f;

inline float eps_floor(float scale) noexcept { return std::fabs(scale) < kEps ? kEps : scale; }

// OpenVINO's f32 -> nf4 (core/type/nf4.cpp): the code is the number of
// decision thresholds strictly below x, so a value exactly on a threshold
// takes the lower code (§5.4).
inline constexpr float kNf4Thresholds[15] = {
    -0.8480964004993439f,  -0.6106329262256622f,  -0.4599952697753906f,   -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f,   0.2035212516784668f,   0.2920137718319893f,    0.3893125355243683f,
    0.5016634166240692f,   0.6427869200706482f,   0.8614784181118011f};
inline constexpr float kNf4Levels[16] = {-1.0f,
                                         -0.6961928009986877f,
                                         -0.5250730514526367f,
                                         -0.39491748809814453f,
                                         -0.28444138169288635f,
                                         -0.18477343022823334f,
                                         -0.09105003625154495f,
                                         0.0f,
                                         0.07958029955625534f,
                                         0.16093020141124725f,
                                         0.24611230194568634f,
                                         0.33791524171829224f,
                                         0.44070982933044434f,
                                         0.5626170039176941f,
                                         0.7229568362236023f,
                                         1.0f};

inline std::uint8_t nf4_code(float x) noexcept {
  std::uint8_t c = 0;
  for (float t : kNf4Thresholds) c = static_cast<std::uint8_t>(c + (x > t ? 1 : 0));
  return c;
}

// OpenVINO's f32 -> f4e2m1 (core/type/float4_e2m1.cpp): round to nearest
// even on the E2M1 grid, saturating at ±6, sign kept (-0.1 -> 0b1000).
inline std::uint8_t f4e2m1_code(float x) noexcept {
  const float a = std::fabs(x);
  int m = (a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) + (a >= 3.5f) +
          (a > 5.0f);
  return static_cast<std::uint8_t>(m | (std::signbit(x) ? 8 : 0));
}

// OpenVINO's f32 -> f8e4m3: round to nearest even, overflow to NaN (0x7F|s).
inline std::uint8_t f8e4m3_code(float x) noexcept { return f32_to_e4m3fn(x, false); }

enum class FloatMode : std::uint8_t { kNf4, kFp4, kFp8E4M3, kMxfp4, kMxfp8E4M3 };

template <std::size_t Group>
constexpr auto group_suffix() {
  std::array<char, 8> s{};
  std::size_t n = 0;
  s[n++] = ':';
  s[n++] = 'g';
  if constexpr (Group == 0) {
    s[n++] = '-';
    s[n++] = '1';
  } else {
    if (Group >= 100) s[n++] = static_cast<char>('0' + Group / 100);
    if (Group >= 10) s[n++] = static_cast<char>('0' + Group / 10 % 10);
    s[n++] = static_cast<char>('0' + Group % 10);
  }
  return std::pair{s, n};
}

template <class Prefix, std::size_t Group, bool WithGroup>
struct Name {
  static constexpr auto make() {
    std::array<char, 32> s{};
    std::size_t n = 0;
    for (char c : Prefix::value) s[n++] = c;
    if constexpr (WithGroup) {
      const auto g = group_suffix<Group>();
      for (std::size_t i = 0; i < g.second; ++i) s[n++] = g.first[i];
    }
    return std::pair{s, n};
  }
  static constexpr auto data = make();
  static constexpr std::string_view value{data.first.data(), data.second};
};

struct PInt8Sym {
  static constexpr std::string_view value = "nncf:int8_sym";
};
struct PInt8Asym {
  static constexpr std::string_view value = "nncf:int8_asym";
};
struct PInt4Sym {
  static constexpr std::string_view value = "nncf:int4_sym";
};
struct PInt4Asym {
  static constexpr std::string_view value = "nncf:int4_asym";
};
struct PNf4 {
  static constexpr std::string_view value = "nncf:nf4";
};
struct PFp4 {
  static constexpr std::string_view value = "nncf:fp4";
};
struct PFp8 {
  static constexpr std::string_view value = "nncf:fp8_e4m3";
};
struct PMxfp4 {
  static constexpr std::string_view value = "nncf:mxfp4";
};
struct PMxfp8 {
  static constexpr std::string_view value = "nncf:mxfp8_e4m3";
};

template <int Bits, bool Sym>
using IntPrefix = std::conditional_t<Bits == 8, std::conditional_t<Sym, PInt8Sym, PInt8Asym>,
                                     std::conditional_t<Sym, PInt4Sym, PInt4Asym>>;

// Group extremes as numpy's min/max reduce them (order-free for finite data).
inline void min_max(const float* w, std::size_t n, float& mn, float& mx) noexcept {
  mn = w[0];
  mx = w[0];
  for (std::size_t j = 1; j < n; ++j) {
    mn = std::fmin(mn, w[j]);
    mx = std::fmax(mx, w[j]);
  }
}

struct IntParams {
  float scale;  // float32: the codes are computed with it
  float zp;     // integer zero point as float (0 when symmetric)
};

// calculate_integer_quantization_params (§5.3).
template <int Bits, bool Sym>
inline IntParams int_params(float mn, float mx) noexcept {
  if constexpr (Sym) {
    const float a = std::fabs(mn);
    float scale = a >= mx ? a : -mx;
    scale = scale / static_cast<float>(1 << (Bits - 1));
    return {eps_floor(scale), 0.0f};
  } else {
    constexpr int kHigh = (1 << Bits) - 1;
    const float scale = eps_floor((mx - mn) / static_cast<float>(kHigh));
    const float zp_f = 0.0f - std::nearbyint(mn / scale);
    const std::int32_t zp = std::clamp(x86_f32_to_i32(zp_f), 0, kHigh);
    return {scale, static_cast<float>(zp)};
  }
}

template <int Bits, bool Sym>
inline int int_code(float w, const IntParams& p) noexcept {
  constexpr float kLow = Sym ? -static_cast<float>(1 << (Bits - 1)) : 0.0f;
  constexpr float kHigh =
      Sym ? static_cast<float>((1 << (Bits - 1)) - 1) : static_cast<float>((1 << Bits) - 1);
  float v = w / p.scale;
  if constexpr (!Sym) v = v + p.zp;
  v = std::nearbyint(v);
  return static_cast<int>(std::clamp(v, kLow, kHigh));
}

}  // namespace nncf

// INT8 / INT4, symmetric or asymmetric. Group = 0 is NNCF's group_size = -1
// (one scale per output channel); INT8 modes are always per channel.
template <int Bits, bool Sym, std::size_t Group>
struct NncfInt {
  static_assert(Bits == 8 || Bits == 4, "NNCF integer modes: INT8 or INT4");
  static_assert(Bits == 4 || Group == 0, "NNCF INT8 modes are per channel");
  static constexpr std::string_view name =
      nncf::Name<nncf::IntPrefix<Bits, Sym>, Group, Bits == 4>::value;
  static constexpr std::string_view family = "nncf";
  static constexpr int bits = Bits;
  static constexpr bool symmetric = Sym;
  static constexpr std::size_t group = Group == 0 ? (Bits == 4 ? 2 : 1) : Group;

  static constexpr std::size_t group_len(std::size_t k) noexcept { return Group == 0 ? k : Group; }

  static Status check(std::size_t k, FloatType) {
    if constexpr (Group == 0) {
      if (k == 0 || k % group != 0) {
        return make_error(
            Errc::kBadArgument,
            std::string(name) + " needs an even row length (u4/i4 rows are whole bytes)");
      }
      return {};
    } else {
      return detail::check_group(name, k, Group);
    }
  }

  static PlaneSpecs planes(std::size_t rows, std::size_t k, FloatType) {
    const std::size_t ng = k / group_len(k);
    const std::string_view qt = Bits == 8 ? (Sym ? "i8" : "u8") : (Sym ? "i4" : "u4");
    PlaneSpecs p{};
    if constexpr (Group == 0) {
      p[0] = detail::plane("weight", qt, Bits, k, k * Bits / 8, {rows, k});
      p[1] = detail::float_plane("scale", FloatType::kF16, "f16", 1, {rows, 1});
      if constexpr (!Sym) p[2] = detail::plane("zero_point", qt, Bits, 1, 1, {rows, 1}, Bits == 4);
    } else {
      p[0] = detail::plane("weight", qt, Bits, k, k * Bits / 8, {rows, ng, Group});
      p[1] = detail::float_plane("scale", FloatType::kF16, "f16", ng, {rows, ng, 1});
      if constexpr (!Sym) p[2] = detail::plane("zero_point", qt, Bits, ng, ng, {rows, ng, 1}, true);
    }
    return p;
  }

  // Codes with the float32 scale; the scale is then stored as f16 (§5.2).
  static void quantize_row_ref(const float* x, std::size_t k, RowPlanes out, FloatType) noexcept {
    const std::size_t gl = group_len(k);
    std::uint8_t codes[2];
    for (std::size_t g = 0; g < k / gl; ++g) {
      const float* w = x + g * gl;
      float mn, mx;
      nncf::min_max(w, gl, mn, mx);
      const nncf::IntParams p = nncf::int_params<Bits, Sym>(mn, mx);
      for (std::size_t j = 0; j < gl; ++j) {
        const auto c = static_cast<std::uint8_t>(nncf::int_code<Bits, Sym>(w[j], p));
        if constexpr (Bits == 8) {
          out.p[0][g * gl + j] = c;
        } else {
          codes[j & 1] = c;
          if (j & 1) pack_bits(codes, 2, 4, out.p[0] + (g * gl + j) / 2);
        }
      }
      store_f16(p.scale, out.p[1] + 2 * g);
      if constexpr (!Sym) out.p[2][g] = static_cast<std::uint8_t>(p.zp);
    }
  }

  // (q - zp) * f16 scale in float32, as the runtime's compressed-weight
  // kernels compute the decompression subgraph.
  static void dequantize_row_ref(ConstRowPlanes in, std::size_t k, float* y, FloatType) noexcept {
    const std::size_t gl = group_len(k);
    for (std::size_t g = 0; g < k / gl; ++g) {
      const float s = load_f16(in.p[1] + 2 * g);
      const int zp = Sym ? 0 : in.p[2][g];
      for (std::size_t j = 0; j < gl; ++j) {
        const std::size_t i = g * gl + j;
        int q;
        if constexpr (Bits == 8) {
          q = Sym ? static_cast<std::int8_t>(in.p[0][i]) : in.p[0][i];
        } else {
          const int nib = (in.p[0][i / 2] >> ((i & 1) * 4)) & 15;
          q = Sym ? (nib ^ 8) - 8 : nib;
        }
        y[i] = static_cast<float>(q - zp) * s;
      }
    }
  }
};

// NF4 / FP4 / FP8_E4M3 (f16 scale, any group) and MXFP4 / MXFP8_E4M3 (E8M0
// scale, group 32).
template <nncf::FloatMode Mode, std::size_t Group>
struct NncfFloat {
  static constexpr bool mx = Mode == nncf::FloatMode::kMxfp4 || Mode == nncf::FloatMode::kMxfp8E4M3;
  static_assert(!mx || Group == 32, "NNCF MX modes use group 32");
  using Prefix = std::conditional_t<
      Mode == nncf::FloatMode::kNf4, nncf::PNf4,
      std::conditional_t<Mode == nncf::FloatMode::kFp4, nncf::PFp4,
                         std::conditional_t<Mode == nncf::FloatMode::kFp8E4M3, nncf::PFp8,
                                            std::conditional_t<Mode == nncf::FloatMode::kMxfp4,
                                                               nncf::PMxfp4, nncf::PMxfp8>>>>;
  static constexpr std::string_view name = nncf::Name<Prefix, Group, !mx>::value;
  static constexpr std::string_view family = "nncf";
  static constexpr nncf::FloatMode mode = Mode;
  static constexpr int bits =
      Mode == nncf::FloatMode::kFp8E4M3 || Mode == nncf::FloatMode::kMxfp8E4M3 ? 8 : 4;
  static constexpr std::size_t group = Group == 0 ? (bits == 4 ? 2 : 1) : Group;
  // FP_MAX_VALUES: the largest magnitude of the element type.
  static constexpr float kElemMax = Mode == nncf::FloatMode::kNf4 ? 1.0f
                                    : bits == 4                   ? 6.0f
                                                                  : 448.0f;

  static constexpr std::size_t group_len(std::size_t k) noexcept { return Group == 0 ? k : Group; }

  static Status check(std::size_t k, FloatType) {
    if (k == 0 || k % group != 0) {
      return make_error(Errc::kBadArgument,
                        "row length " + std::to_string(k) + " is not a positive multiple of " +
                            std::to_string(group) + " for " + std::string(name));
    }
    return {};
  }

  static constexpr std::string_view elem_type() noexcept {
    return Mode == nncf::FloatMode::kNf4 ? "nf4" : bits == 4 ? "f4e2m1" : "f8e4m3";
  }

  static PlaneSpecs planes(std::size_t rows, std::size_t k, FloatType) {
    const std::size_t gl = group_len(k), ng = k / gl;
    PlaneSpecs p{};
    p[0] = detail::plane("weight", elem_type(), bits, k, k * bits / 8, {rows, ng, gl});
    if constexpr (mx) {
      p[1] = detail::plane("scale", "f8e8m0", 8, ng, ng, {rows, ng, 1});
    } else {
      p[1] = detail::float_plane("scale", FloatType::kF16, "f16", ng, {rows, ng, 1});
    }
    if constexpr (Group == 0) {
      p[0].rank = 2;
      p[0].dims = {rows, k, 0};
      p[1].rank = 2;
      p[1].dims = {rows, 1, 0};
    }
    return p;
  }

  static std::uint8_t code(float v) noexcept {
    if constexpr (Mode == nncf::FloatMode::kNf4) return nncf::nf4_code(v);
    if constexpr (bits == 4) return nncf::f4e2m1_code(v);
    return nncf::f8e4m3_code(v);
  }
  static float value(std::uint8_t c) noexcept {
    if constexpr (Mode == nncf::FloatMode::kNf4) return nncf::kNf4Levels[c & 15];
    if constexpr (bits == 4) return e2m1_table()[c & 15];
    return e4m3fn_table()[c];
  }

  // calculate_float_quantization_params: the group's scale from max|w|.
  struct GroupScale {
    float scale;  // float32, what the codes are computed with
    int e;        // MX modes: the E8M0 exponent (scale == 2^e)
  };
  static GroupScale group_scale(float amax) noexcept {
    float scale = amax;
    if constexpr (Mode != nncf::FloatMode::kNf4) scale = scale / kElemMax;
    scale = nncf::eps_floor(scale);
    int e = 0;
    if constexpr (mx) {
      // ceil(log2(scale)) in float32 (numpy), so the exponent rounds up.
      e = std::clamp(static_cast<int>(std::ceil(std::log2(scale))), -127, 127);
      scale = std::ldexp(1.0f, e);
    }
    return {scale, e};
  }
  static void store_scale(const GroupScale& gs, std::uint8_t* p, std::size_t g) noexcept {
    if constexpr (mx) {
      p[g] = static_cast<std::uint8_t>(gs.e + 127);
    } else {
      store_f16(gs.scale, p + 2 * g);
    }
  }

  // w / scale, then OpenVINO's converter to the element type.
  static void quantize_row_ref(const float* x, std::size_t k, RowPlanes out, FloatType) noexcept {
    const std::size_t gl = group_len(k);
    for (std::size_t g = 0; g < k / gl; ++g) {
      const float* w = x + g * gl;
      float amax = 0.0f;
      for (std::size_t j = 0; j < gl; ++j) amax = std::fmax(amax, std::fabs(w[j]));
      const GroupScale gs = group_scale(amax);
      for (std::size_t j = 0; j < gl; ++j) {
        const std::uint8_t c = code(w[j] / gs.scale);
        const std::size_t i = g * gl + j;
        if constexpr (bits == 8) {
          out.p[0][i] = c;
        } else if (i & 1) {
          out.p[0][i / 2] = static_cast<std::uint8_t>((out.p[0][i / 2] & 15) | (c << 4));
        } else {
          out.p[0][i / 2] = c;
        }
      }
      store_scale(gs, out.p[1], g);
    }
  }

  static void dequantize_row_ref(ConstRowPlanes in, std::size_t k, float* y, FloatType) noexcept {
    const std::size_t gl = group_len(k);
    for (std::size_t g = 0; g < k / gl; ++g) {
      const float s = mx ? e8m0_to_f32(in.p[1][g]) : load_f16(in.p[1] + 2 * g);
      for (std::size_t j = 0; j < gl; ++j) {
        const std::size_t i = g * gl + j;
        const std::uint8_t c =
            bits == 8 ? in.p[0][i]
                      : static_cast<std::uint8_t>((in.p[0][i / 2] >> ((i & 1) * 4)) & 15);
        y[i] = value(c) * s;
      }
    }
  }
};

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
