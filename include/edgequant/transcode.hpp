// Lossless transcoding between quantized formats of different ecosystems
// (GGUF blocks, ONNX Runtime MatMulNBits, NNCF, MLX): the codes and scales are
// carried over without re-quantizing when the target can hold them, with a
// dequantize + quantize fallback otherwise. The exactness of every supported
// pair is published in docs/transcoding.md.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

namespace ggml {

// ggml Q4_1 (specs/ggml-quants.md §4.3), a local decoder/encoder for the
// transcoder until the ggml Q4_1 scheme lands: d, m (fp16), 16 bytes of
// nibbles (x[j] low, x[j+16] high); value = q * d + m in float32.
struct Q4_1Block {
  f16_bits d, m;
  std::uint8_t qs[16];
};
static_assert(sizeof(Q4_1Block) == 20);

// quantize_row_q4_1_ref (no importance).
inline void quantize_row_q4_1_local(const float* x, Q4_1Block* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n / 32; ++i) {
    const float* xb = x + 32 * i;
    float mn = 3.402823466e38f, mx = -3.402823466e38f;
    for (int j = 0; j < 32; ++j) {
      if (xb[j] < mn) mn = xb[j];
      if (xb[j] > mx) mx = xb[j];
    }
    const float d = (mx - mn) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(mn);
    for (int j = 0; j < 16; ++j) {
      const auto q0 = static_cast<std::int8_t>((xb[j] - mn) * id + 0.5f);
      const auto q1 = static_cast<std::int8_t>((xb[j + 16] - mn) * id + 0.5f);
      const int a = q0 < 15 ? q0 : 15, b = q1 < 15 ? q1 : 15;
      y[i].qs[j] = static_cast<std::uint8_t>(a | (b << 4));
    }
  }
}

inline void dequantize_row_q4_1_local(const Q4_1Block* x, float* y, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n / 32; ++i) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[32 * i + j] = static_cast<float>(x[i].qs[j] & 15) * d + m;
      y[32 * i + j + 16] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

}  // namespace ggml

// A ggml-typed tensor: rows of blocks.
struct GgmlTensor {
  GgmlType type = GgmlType::kF32;
  std::size_t rows = 0, cols = 0;
  std::vector<std::uint8_t> data;
};

// A quantized tensor of any supported ecosystem.
using QuantTensor = std::variant<GgmlTensor, QuantizedPlanes>;

// Where to transcode to: a ggml type, or a plane scheme with its weight type.
struct TranscodeTarget {
  std::optional<GgmlType> ggml;
  const PlaneSchemeInfo* plane = nullptr;
  FloatType dtype = FloatType::kF16;
};

enum class Exactness : std::uint8_t {
  kExact,                   // dequantized floats identical before and after (see zero_signs_differ)
  kExactUpToScaleRounding,  // codes carried over; scales (or the target's dequant arithmetic) round
  kLossy,                   // dequantize + re-quantize
};

constexpr std::string_view exactness_name(Exactness e) noexcept {
  switch (e) {
    case Exactness::kExact:
      return "exact";
    case Exactness::kExactUpToScaleRounding:
      return "exact up to scale-dtype rounding";
    case Exactness::kLossy:
      return "lossy";
  }
  return "?";
}

struct Transcoded {
  QuantTensor tensor;
  Exactness exactness = Exactness::kLossy;
  bool direct = false;  // codes carried over (no re-quantization)
  // kExact with zeros of another sign: a bias form c*s + b gives +0 where a
  // zero-point form (c - z)*s gives -0 (negative scale, c == z).
  bool zero_signs_differ = false;
  double rmse = 0.0;  // between the source's and the result's dequantized values
  std::string how;    // one line: the mapping used
};

inline std::string quant_name(const QuantTensor& t) {
  if (const auto* g = std::get_if<GgmlTensor>(&t)) return std::string(ggml_type_name(g->type));
  const auto& p = std::get<QuantizedPlanes>(t);
  return p.scheme ? std::string(p.scheme->name) + ":" + std::string(float_type_name(p.dtype)) : "?";
}

// Dequantizes any supported quantized tensor to float32 [rows, cols].
inline Status dequantize_any(const QuantTensor& t, std::span<float> out, unsigned threads = 1) {
  if (const auto* p = std::get_if<QuantizedPlanes>(&t)) return dequantize_planes(*p, out, threads);
  const auto& g = std::get<GgmlTensor>(t);
  if (out.size() != g.rows * g.cols) return make_error(Errc::kBadArgument, "output size mismatch");
  if (g.type == GgmlType::kQ4_1) {
    if (g.cols % 32 || g.data.size() != g.rows * g.cols / 32 * sizeof(ggml::Q4_1Block)) {
      return make_error(Errc::kBadArgument, "Q4_1 data does not match its shape");
    }
    for (std::size_t r = 0; r < g.rows; ++r) {
      ggml::dequantize_row_q4_1_local(
          reinterpret_cast<const ggml::Q4_1Block*>(g.data.data()) + r * g.cols / 32,
          out.data() + r * g.cols, g.cols);
    }
    return {};
  }
  return dequantize(g.type, std::as_bytes(std::span(g.data)), g.cols, out, threads);
}

namespace detail {

// Every integer block format in one form: per row, unsigned codes c and per
// group a scale s with either an integer zero point z (value (c - z) * s) or
// a bias b (value c * s + b).
struct LinearBlocks {
  int bits = 0;
  std::size_t group = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> codes;  // rows * cols
  std::vector<float> scale;         // rows * cols / group
  FloatType scale_type = FloatType::kF16;
  bool has_bias = false;
  std::vector<float> bias;       // has_bias
  std::vector<std::int32_t> zp;  // !has_bias
};

inline std::size_t ngroups(const LinearBlocks& l) { return l.rows * (l.cols / l.group); }

// ggml's nibble order inside a 32-block: j in the low nibble of byte j, j+16 high.
inline void ggml_nibbles_to_codes(const std::uint8_t* qs, std::uint8_t* c) {
  for (int j = 0; j < 16; ++j) {
    c[j] = qs[j] & 15;
    c[j + 16] = qs[j] >> 4;
  }
}
inline void codes_to_ggml_nibbles(const std::uint8_t* c, std::uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<std::uint8_t>((c[j] & 15) | (c[j + 16] << 4));
}

inline std::optional<LinearBlocks> ggml_to_linear(const GgmlTensor& g) {
  LinearBlocks l;
  l.rows = g.rows;
  l.cols = g.cols;
  l.group = 32;
  if (g.cols % 32) return std::nullopt;
  const std::size_t nb = g.rows * g.cols / 32;
  l.codes.resize(g.rows * g.cols);
  l.scale.resize(nb);
  l.scale_type = FloatType::kF16;
  const std::uint8_t* p = g.data.data();
  switch (g.type) {
    case GgmlType::kQ4_0:
      if (g.data.size() != nb * 18) return std::nullopt;
      l.bits = 4;
      l.zp.assign(nb, 8);
      for (std::size_t b = 0; b < nb; ++b, p += 18) {
        l.scale[b] = f16_to_f32(static_cast<f16_bits>(p[0] | p[1] << 8));
        ggml_nibbles_to_codes(p + 2, l.codes.data() + 32 * b);
      }
      return l;
    case GgmlType::kQ8_0:
      if (g.data.size() != nb * 34) return std::nullopt;
      l.bits = 8;
      l.zp.assign(nb, 128);
      for (std::size_t b = 0; b < nb; ++b, p += 34) {
        l.scale[b] = f16_to_f32(static_cast<f16_bits>(p[0] | p[1] << 8));
        for (int j = 0; j < 32; ++j)
          l.codes[32 * b + static_cast<std::size_t>(j)] = p[2 + j] ^ 0x80;
      }
      return l;
    case GgmlType::kQ4_1:
      if (g.data.size() != nb * 20) return std::nullopt;
      l.bits = 4;
      l.has_bias = true;
      l.bias.resize(nb);
      for (std::size_t b = 0; b < nb; ++b, p += 20) {
        l.scale[b] = f16_to_f32(static_cast<f16_bits>(p[0] | p[1] << 8));
        l.bias[b] = f16_to_f32(static_cast<f16_bits>(p[2] | p[3] << 8));
        ggml_nibbles_to_codes(p + 4, l.codes.data() + 32 * b);
      }
      return l;
    default:
      return std::nullopt;
  }
}

// Row-buffer views of a plane tensor's rows (flat planes unpacked).
inline std::array<std::vector<std::uint8_t>, kMaxPlanes> row_planes(const QuantizedPlanes& q) {
  std::array<std::vector<std::uint8_t>, kMaxPlanes> r;
  for (std::size_t p = 0; p < kMaxPlanes; ++p) {
    if (q.specs[p].flat) {
      r[p].resize(q.rows * q.specs[p].row_elems);
      unpack_bits(q.data[p].data(), r[p].size(), q.specs[p].elem_bits, r[p].data());
    } else {
      r[p] = q.data[p];
    }
  }
  return r;
}

inline std::optional<LinearBlocks> planes_to_linear(const QuantizedPlanes& q) {
  const PlaneSchemeInfo& s = *q.scheme;
  LinearBlocks l;
  l.rows = q.rows;
  l.cols = q.cols;
  l.bits = s.bits;
  const auto rp = row_planes(q);
  const std::string_view n = s.name;
  auto load_scales = [&](FloatType t) {
    l.scale_type = t;
    const std::size_t tb = float_type_bytes(t);
    l.scale.resize(rp[1].size() / tb);
    for (std::size_t i = 0; i < l.scale.size(); ++i)
      l.scale[i] = load_float(t, rp[1].data() + i * tb);
  };
  if (s.family == "ort") {
    const std::size_t block = q.specs[0].dims[2] * 8 / static_cast<std::size_t>(s.bits);
    if (q.cols % block) return std::nullopt;  // partial blocks have no counterpart elsewhere
    l.group = block;
    load_scales(q.dtype);
    l.codes.resize(q.rows * q.cols);
    unpack_bits(rp[0].data(), l.codes.size(), s.bits, l.codes.data());
    const std::size_t nbr = q.cols / block;
    l.zp.assign(ngroups(l), 1 << (s.bits - 1));
    if (!rp[2].empty()) {
      const std::size_t zrb = q.specs[2].row_bytes;
      const int per = 8 / s.bits;
      for (std::size_t r = 0; r < q.rows; ++r) {
        for (std::size_t b = 0; b < nbr; ++b) {
          l.zp[r * nbr + b] =
              (rp[2][r * zrb + b / static_cast<std::size_t>(per)] >>
               ((b % static_cast<std::size_t>(per)) * static_cast<std::size_t>(s.bits))) &
              ((1 << s.bits) - 1);
        }
      }
    }
    return l;
  }
  if (s.family == "mlx" && n.find("fp") == std::string_view::npos) {
    l.group = s.group;
    load_scales(q.dtype);
    l.codes.resize(q.rows * q.cols);
    unpack_bits(rp[0].data(), l.codes.size(), s.bits, l.codes.data());
    l.has_bias = true;
    l.bias.resize(l.scale.size());
    const std::size_t tb = float_type_bytes(q.dtype);
    for (std::size_t i = 0; i < l.bias.size(); ++i)
      l.bias[i] = load_float(q.dtype, rp[2].data() + i * tb);
    return l;
  }
  if (s.family == "nncf" && n.find(":int") != std::string_view::npos) {
    const std::size_t gl = s.group > 2 ? s.group : q.cols;
    l.group = gl;
    load_scales(FloatType::kF16);
    l.codes.resize(q.rows * q.cols);
    unpack_bits(rp[0].data(), l.codes.size(), s.bits, l.codes.data());
    const bool sym = n.find("_sym") != std::string_view::npos;
    if (sym) {
      for (auto& c : l.codes)
        c = static_cast<std::uint8_t>(c ^ (1 << (s.bits - 1)));  // i4/i8 -> offset binary
      l.zp.assign(ngroups(l), 1 << (s.bits - 1));
    } else {
      l.zp.assign(rp[2].begin(), rp[2].end());
    }
    return l;
  }
  return std::nullopt;
}

// Value in the target type; `rounded` is set when it does not fit exactly.
inline float convert_float(float v, FloatType to, bool& rounded) {
  const float r = round_to(to, v);
  if (f32_bits(r) != f32_bits(v)) rounded = true;
  return r;
}

// The bias of a zero-point group (value c*s + b == (c - z)*s). A zero scale
// keeps its own signed zero, so that the codes equal to z (all of them in a
// zero block) decode to the same signed zero as before.
inline float bias_of(std::int32_t z, float s) { return s == 0.0f ? s : -static_cast<float>(z) * s; }

// Integer zero point of every group (z such that value = (c - z) * s): from
// a zero-point form directly, from a bias form when b == -z * s exactly.
inline std::optional<std::vector<std::int32_t>> zero_points(const LinearBlocks& l) {
  if (!l.has_bias) return l.zp;
  std::vector<std::int32_t> z(l.bias.size());
  for (std::size_t i = 0; i < z.size(); ++i) {
    if (l.scale[i] == 0.0f) return std::nullopt;
    const float q = -l.bias[i] / l.scale[i];
    if (!(q >= 0.0f && q < static_cast<float>(1 << l.bits)) || std::nearbyint(q) != q)
      return std::nullopt;
    z[i] = static_cast<std::int32_t>(q);
    if (-static_cast<float>(z[i]) * l.scale[i] != l.bias[i]) return std::nullopt;
  }
  return z;
}

// Allocates a plane tensor and fills it row by row; flat planes are packed.
template <class F>
QuantizedPlanes build_planes(const PlaneSchemeInfo& s, std::size_t rows, std::size_t cols,
                             FloatType t, F&& fill) {
  QuantizedPlanes q;
  q.scheme = &s;
  q.rows = rows;
  q.cols = cols;
  q.dtype = t;
  q.specs = s.planes(rows, cols, t);
  std::array<std::vector<std::uint8_t>, kMaxPlanes> bufs;
  for (std::size_t p = 0; p < kMaxPlanes; ++p) bufs[p].assign(rows * q.specs[p].row_bytes, 0);
  for (std::size_t r = 0; r < rows; ++r) {
    RowPlanes o;
    for (std::size_t p = 0; p < kMaxPlanes; ++p) {
      o.p[p] = q.specs[p].row_bytes ? bufs[p].data() + r * q.specs[p].row_bytes : nullptr;
    }
    fill(r, o);
  }
  for (std::size_t p = 0; p < kMaxPlanes; ++p) {
    if (q.specs[p].flat) {
      q.data[p].assign(q.specs[p].file_bytes(rows), 0);
      pack_bits(bufs[p].data(), rows * q.specs[p].row_elems, q.specs[p].elem_bits,
                q.data[p].data());
    } else {
      q.data[p] = std::move(bufs[p]);
    }
  }
  return q;
}

// Carries codes and scales into the target when its format can hold them.
// `rounded`: a scale or bias had to be rounded to the target's type.
inline std::optional<QuantTensor> linear_to_target(const LinearBlocks& l, const TranscodeTarget& to,
                                                   bool& rounded, std::string& how) {
  const std::size_t ng_row = l.cols / l.group;
  if (to.ggml) {
    const GgmlType t = *to.ggml;
    if (l.group != 32) return std::nullopt;
    GgmlTensor g{t, l.rows, l.cols, {}};
    const std::size_t nb = l.rows * ng_row;
    if (t == GgmlType::kQ4_0 || t == GgmlType::kQ8_0) {
      const int bits = t == GgmlType::kQ4_0 ? 4 : 8, mid = 1 << (bits - 1);
      if (l.bits != bits) return std::nullopt;
      const auto z = zero_points(l);
      if (!z) return std::nullopt;
      for (auto v : *z) {
        if (v != mid) return std::nullopt;
      }
      const std::size_t bb = t == GgmlType::kQ4_0 ? 18 : 34;
      g.data.assign(nb * bb, 0);
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* p = g.data.data() + b * bb;
        const f16_bits d = f32_to_f16(convert_float(l.scale[b], FloatType::kF16, rounded));
        p[0] = static_cast<std::uint8_t>(d);
        p[1] = static_cast<std::uint8_t>(d >> 8);
        const std::uint8_t* c = l.codes.data() + 32 * b;
        if (bits == 4) {
          codes_to_ggml_nibbles(c, p + 2);
        } else {
          for (int j = 0; j < 32; ++j) p[2 + j] = c[j] ^ 0x80;
        }
      }
      how = "codes and scales carried over (zero point " + std::to_string(mid) + ")";
      return g;
    }
    if (t == GgmlType::kQ4_1) {
      if (l.bits != 4) return std::nullopt;
      g.data.assign(nb * 20, 0);
      for (std::size_t b = 0; b < nb; ++b) {
        std::uint8_t* p = g.data.data() + b * 20;
        const float bias = l.has_bias ? l.bias[b] : bias_of(l.zp[b], l.scale[b]);
        const f16_bits d = f32_to_f16(convert_float(l.scale[b], FloatType::kF16, rounded));
        const f16_bits m = f32_to_f16(convert_float(bias, FloatType::kF16, rounded));
        p[0] = static_cast<std::uint8_t>(d);
        p[1] = static_cast<std::uint8_t>(d >> 8);
        p[2] = static_cast<std::uint8_t>(m);
        p[3] = static_cast<std::uint8_t>(m >> 8);
        codes_to_ggml_nibbles(l.codes.data() + 32 * b, p + 4);
      }
      how = l.has_bias ? "codes, scales and biases carried over"
                       : "codes carried over, bias = -zero_point * scale";
      return g;
    }
    return std::nullopt;
  }
  const PlaneSchemeInfo& s = *to.plane;
  if (s.bits != l.bits) return std::nullopt;
  const std::string_view n = s.name;
  const int mid = 1 << (l.bits - 1);
  if (s.family == "ort") {
    const auto specs = s.planes(1, l.cols, to.dtype);
    const std::size_t block = specs[0].dims[2] * 8 / static_cast<std::size_t>(s.bits);
    if (block != l.group || !s.check(l.cols, to.dtype)) return std::nullopt;
    const bool sym = n.ends_with(":sym");
    const auto z = zero_points(l);
    if (!z) return std::nullopt;
    if (sym) {
      for (auto v : *z) {
        if (v != mid) return std::nullopt;
      }
    }
    const std::size_t tb = float_type_bytes(to.dtype),
                      blob = block * static_cast<std::size_t>(s.bits) / 8;
    const int per = 8 / s.bits;
    auto q = build_planes(s, l.rows, l.cols, to.dtype, [&](std::size_t r, RowPlanes o) {
      for (std::size_t b = 0; b < ng_row; ++b) {
        const std::size_t gi = r * ng_row + b;
        pack_bits(l.codes.data() + gi * block, block, s.bits, o.p[0] + b * blob);
        store_float(to.dtype, convert_float(l.scale[gi], to.dtype, rounded), o.p[1] + b * tb);
        if (!sym) {
          const std::size_t sh =
              (b % static_cast<std::size_t>(per)) * static_cast<std::size_t>(s.bits);
          o.p[2][b / static_cast<std::size_t>(per)] |= static_cast<std::uint8_t>((*z)[gi] << sh);
        }
      }
      if (!sym) {  // ORT fills the unused lanes of the last byte with 2^(bits-1)
        for (std::size_t b = ng_row; b % static_cast<std::size_t>(per) != 0; ++b) {
          o.p[2][b / static_cast<std::size_t>(per)] |= static_cast<std::uint8_t>(
              mid << ((b % static_cast<std::size_t>(per)) * static_cast<std::size_t>(s.bits)));
        }
      }
    });
    how = sym ? "codes and scales carried over (implicit zero point " + std::to_string(mid) + ")"
              : "codes, scales and zero points carried over";
    return q;
  }
  if (s.family == "mlx" && n.find("fp") == std::string_view::npos) {
    if (s.group != l.group || !s.check(l.cols, to.dtype)) return std::nullopt;
    const std::size_t tb = float_type_bytes(to.dtype),
                      gbytes = l.group * static_cast<std::size_t>(s.bits) / 8;
    auto q = build_planes(s, l.rows, l.cols, to.dtype, [&](std::size_t r, RowPlanes o) {
      for (std::size_t b = 0; b < ng_row; ++b) {
        const std::size_t gi = r * ng_row + b;
        pack_bits(l.codes.data() + gi * l.group, l.group, s.bits, o.p[0] + b * gbytes);
        store_float(to.dtype, convert_float(l.scale[gi], to.dtype, rounded), o.p[1] + b * tb);
        const float bias = l.has_bias ? l.bias[gi] : bias_of(l.zp[gi], l.scale[gi]);
        store_float(to.dtype, convert_float(bias, to.dtype, rounded), o.p[2] + b * tb);
      }
    });
    how = l.has_bias ? "codes, scales and biases carried over"
                     : "codes carried over, bias = -zero_point * scale";
    return q;
  }
  if (s.family == "nncf" && n.find(":int") != std::string_view::npos) {
    const std::size_t gl = s.group > 2 ? s.group : l.cols;
    if (gl != l.group || !s.check(l.cols, FloatType::kF32)) return std::nullopt;
    const bool sym = n.find("_sym") != std::string_view::npos;
    const auto z = zero_points(l);
    if (!z) return std::nullopt;
    if (sym) {
      for (auto v : *z) {
        if (v != mid) return std::nullopt;
      }
    }
    auto q = build_planes(s, l.rows, l.cols, FloatType::kF32, [&](std::size_t r, RowPlanes o) {
      std::vector<std::uint8_t> c(l.codes.begin() + static_cast<std::ptrdiff_t>(r * l.cols),
                                  l.codes.begin() + static_cast<std::ptrdiff_t>((r + 1) * l.cols));
      if (sym) {
        for (auto& v : c)
          v = static_cast<std::uint8_t>(v ^ mid);  // offset binary -> two's complement
      }
      pack_bits(c.data(), l.cols, s.bits, o.p[0]);
      for (std::size_t b = 0; b < ng_row; ++b) {
        const std::size_t gi = r * ng_row + b;
        store_f16(convert_float(l.scale[gi], FloatType::kF16, rounded), o.p[1] + 2 * b);
        if (!sym) o.p[2][b] = static_cast<std::uint8_t>((*z)[gi]);
      }
    });
    q.dtype = FloatType::kF32;
    how = sym ? "codes and scales carried over (i" + std::to_string(l.bits) + " = code - " +
                    std::to_string(mid) + ")"
              : "codes, scales and zero points carried over";
    return q;
  }
  return std::nullopt;
}

// MX formats with identical bytes: MLX mxfp4/mxfp8 and NNCF MXFP4/MXFP8_E4M3
// (E2M1 or E4M3 codes LSB-first, one E8M0 byte per 32).
inline std::optional<QuantTensor> mx_copy(const QuantizedPlanes& q, const TranscodeTarget& to,
                                          std::string& how) {
  if (!to.plane || !q.scheme) return std::nullopt;
  auto kind = [](std::string_view n) -> int {
    if (n == "mlx:mxfp4" || n == "nncf:mxfp4") return 4;
    if (n == "mlx:mxfp8" || n == "nncf:mxfp8_e4m3") return 8;
    return 0;
  };
  const int k = kind(q.scheme->name);
  if (k == 0 || k != kind(to.plane->name)) return std::nullopt;
  QuantizedPlanes r;
  r.scheme = to.plane;
  r.rows = q.rows;
  r.cols = q.cols;
  r.dtype = to.plane->family == "mlx" ? to.dtype : FloatType::kF32;
  r.specs = to.plane->planes(q.rows, q.cols, r.dtype);
  r.data = q.data;
  how = "codes and E8M0 scales carried over byte for byte";
  return r;
}

inline double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return a.empty() ? 0.0 : std::sqrt(s / static_cast<double>(a.size()));
}

}  // namespace detail

// Quantizes float32 rows into a target (ggml type or plane scheme).
inline Expected<QuantTensor> quantize_to(const TranscodeTarget& to, std::span<const float> src,
                                         std::size_t cols, unsigned threads = 1) {
  if (to.plane) {
    auto q = quantize_planes(*to.plane, src, cols, PlaneOptions{to.dtype, threads});
    if (!q) return q.error();
    return QuantTensor(std::move(*q));
  }
  if (!to.ggml) return make_error(Errc::kBadArgument, "no transcoding target");
  GgmlTensor g{*to.ggml, cols ? src.size() / cols : 0, cols, {}};
  if (*to.ggml == GgmlType::kQ4_1) {
    if (cols == 0 || cols % 32 || src.size() % cols)
      return make_error(Errc::kBadArgument, "Q4_1 needs rows of a multiple of 32");
    g.data.resize(src.size() / 32 * sizeof(ggml::Q4_1Block));
    for (std::size_t r = 0; r < g.rows; ++r) {
      ggml::quantize_row_q4_1_local(
          src.data() + r * cols, reinterpret_cast<ggml::Q4_1Block*>(g.data.data()) + r * cols / 32,
          cols);
    }
    return QuantTensor(std::move(g));
  }
  if (cols == 0 || cols % ggml_type_info(*to.ggml).block_elems || src.size() % cols) {
    return make_error(Errc::kBadArgument,
                      "row length does not fit " + std::string(ggml_type_name(*to.ggml)));
  }
  g.data.resize(g.rows * ggml_row_bytes(*to.ggml, cols));
  QuantizeOptions opt;
  opt.threads = threads;
  EDGEQUANT_TRY(quantize(*to.ggml, src, cols, std::as_writable_bytes(std::span(g.data)), opt));
  return QuantTensor(std::move(g));
}

inline std::pair<std::size_t, std::size_t> quant_shape(const QuantTensor& t) {
  if (const auto* g = std::get_if<GgmlTensor>(&t)) return {g->rows, g->cols};
  const auto& p = std::get<QuantizedPlanes>(t);
  return {p.rows, p.cols};
}

// Converts src to the target format: codes and scales are carried over when
// the target can hold them (direct), otherwise src is dequantized and
// re-quantized (lossy). The result says which, and how exact it is, measured
// by dequantizing both: kExact means bit-identical floats.
inline Expected<Transcoded> transcode(const QuantTensor& src, const TranscodeTarget& to,
                                      unsigned threads = 1) {
  const auto [rows, cols] = quant_shape(src);
  std::vector<float> before(rows * cols);
  EDGEQUANT_TRY(dequantize_any(src, before, threads));
  Transcoded out;
  bool rounded = false;
  std::optional<QuantTensor> direct;
  if (const auto* p = std::get_if<QuantizedPlanes>(&src)) direct = detail::mx_copy(*p, to, out.how);
  if (!direct) {
    std::optional<detail::LinearBlocks> l;
    if (const auto* g = std::get_if<GgmlTensor>(&src)) {
      l = detail::ggml_to_linear(*g);
    } else {
      l = detail::planes_to_linear(std::get<QuantizedPlanes>(src));
    }
    if (l) direct = detail::linear_to_target(*l, to, rounded, out.how);
  }
  if (direct) {
    out.tensor = std::move(*direct);
    out.direct = true;
  } else {
    auto q = quantize_to(to, before, cols, threads);
    if (!q) return q.error();
    out.tensor = std::move(*q);
    out.how = "dequantized and re-quantized";
  }
  std::vector<float> after(rows * cols);
  EDGEQUANT_TRY(dequantize_any(out.tensor, after, threads));
  const bool bit_identical =
      std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0;
  bool equal = true;
  for (std::size_t i = 0; i < before.size() && equal; ++i) equal = before[i] == after[i];
  out.rmse = detail::rmse(before, after);
  out.exactness = !out.direct ? Exactness::kLossy
                  : equal     ? Exactness::kExact
                              : Exactness::kExactUpToScaleRounding;
  out.zero_signs_differ = out.exactness == Exactness::kExact && !bit_identical;
  if (out.direct && rounded) out.how += "; scales rounded to the target type";
  return out;
}

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
