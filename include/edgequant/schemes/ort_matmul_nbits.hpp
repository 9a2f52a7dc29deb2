// ONNX Runtime com.microsoft MatMulNBits: blockwise RTN as ORT's quantizer
// computes it (MlasQuantizeBlockwise, columnwise), with the exact B / scales /
// zero_points planes (specs/onnx.md §6).
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/plane.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant {

namespace ort {

// Compile-time spelling "ort:nbits4:b32:sym".
template <int Bits, std::size_t Block, bool Sym>
struct NBitsName {
  static constexpr auto make() {
    std::array<char, 24> s{};
    const char* p = "ort:nbits";
    std::size_t n = 0;
    while (*p) s[n++] = *p++;
    s[n++] = static_cast<char>('0' + Bits);
    s[n++] = ':';
    s[n++] = 'b';
    if (Block >= 100) s[n++] = static_cast<char>('0' + Block / 100);
    if (Block >= 10) s[n++] = static_cast<char>('0' + Block / 10 % 10);
    s[n++] = static_cast<char>('0' + Block % 10);
    const char* q = Sym ? ":sym" : ":asym";
    while (*q) s[n++] = *q++;
    return std::pair{s, n};
  }
  static constexpr auto data = make();
  static constexpr std::string_view value{data.first.data(), data.second};
};

// Per-block parameters: ORT's range2scale / range2scalezp (onnx.md §6.4).
struct NBitsBlockParams {
  float scale_f;    // as computed (float32)
  std::uint8_t zp;  // integer zero point (mid when symmetric)
};

template <int Bits, bool Sym>
inline NBitsBlockParams nbits_params(float mn, float mx) noexcept {
  constexpr int kMax = (1 << Bits) - 1;
  constexpr int kMid = 1 << (Bits - 1);
  if constexpr (Sym) {
    // The signed extreme of larger magnitude (ties to min) maps to code 0.
    const float m = std::fabs(mx) > std::fabs(mn) ? mx : mn;
    return {-m / static_cast<float>(kMid), static_cast<std::uint8_t>(kMid)};
  } else {
    mn = std::min(mn, 0.0f);  // the range always includes 0
    mx = std::max(mx, 0.0f);
    const float scale_f = (mx - mn) / static_cast<float>(kMax);
    float zp_f = mn;
    if (scale_f != 0.0f) zp_f = 0.0f - mn / scale_f;
    std::uint8_t zp;
    if (zp_f < 0.0f) {
      zp = 0;
    } else if (zp_f > static_cast<float>(kMax)) {
      zp = static_cast<std::uint8_t>(kMax);
    } else {
      zp = static_cast<std::uint8_t>(std::round(zp_f));  // roundf: half away from zero
    }
    return {scale_f, zp};
  }
}

// q = clamp(roundf(v * r + zp), 0, qmax). v * r overflows to Inf for
// near-denormal blocks (r = 1/scale), and 0 * Inf is NaN, whose cast ORT
// leaves undefined in C++; x86 gives code 0, which is what we define.
template <int QMax>
inline std::uint8_t nbits_code(float v, float r, float zp) noexcept {
  const float q = std::round(v * r + zp);
  if (std::isnan(q)) return 0;
  return static_cast<std::uint8_t>(std::clamp(q, 0.0f, static_cast<float>(QMax)));
}

// ORT leaves the lanes of the last partial byte stale when K is not a multiple
// of the pack size (8/bits): its per-thread `vi[]` keeps the previous pack's
// values if that pack belongs to the same thread block (block*pack rows of
// the column). `codes` are the last block's (k0 = its first element), `prev`
// the block before it (nullptr for the first block).
template <int Bits>
inline void nbits_stale_tail(std::uint8_t* codes, std::size_t len, std::size_t k0,
                             std::size_t block, const std::uint8_t* prev) noexcept {
  constexpr std::size_t kPack = 8 / Bits;
  const std::size_t rem = len % kPack;
  if (rem == 0) return;
  const std::size_t i0 = k0 + len - rem;  // first element of the partial pack
  const std::size_t thread_row0 = i0 / (block * kPack) * (block * kPack);
  for (std::size_t l = rem; l < kPack; ++l) {
    std::uint8_t v = 0;
    if (i0 >= thread_row0 + kPack) {
      const std::size_t src = i0 - kPack + l;
      v = src >= k0 ? codes[src - k0] : prev[src + block - k0];
    }
    codes[len - rem + l] = v;
  }
}

}  // namespace ort

// MatMulNBits with `Bits` in {2, 4, 8}, block size 16..256 (powers of two:
// the only ones ORT's CPU quantizer fills), symmetric (no zero_points input,
// implicit zero point 2^(bits-1)) or asymmetric (packed uint8 zero points).
// Weight type t: f32 or f16 (the scales' and A's type). Row = one output
// column n of the ONNX weight [K, N] (= one row of W as [N, K]).
template <int Bits, std::size_t Block, bool Sym>
struct OrtNBits {
  static_assert(Bits == 2 || Bits == 4 || Bits == 8, "MatMulNBits bits: 2, 4 or 8");
  static_assert(Block >= 16 && Block <= 256 && (Block & (Block - 1)) == 0,
                "ORT's quantizer handles block sizes 16, 32, 64, 128, 256");
  static constexpr std::string_view name = ort::NBitsName<Bits, Block, Sym>::value;
  static constexpr std::string_view family = "ort";
  static constexpr int bits = Bits;
  static constexpr std::size_t block = Block;
  static constexpr bool symmetric = Sym;
  static constexpr std::size_t group = 1;  // any K: the last block may be partial
  static constexpr std::size_t kPack = 8 / Bits;
  static constexpr std::size_t blob_bytes = Block * Bits / 8;
  static constexpr int kQMax = (1 << Bits) - 1;
  static constexpr int kMid = 1 << (Bits - 1);

  static constexpr std::size_t n_blocks(std::size_t k) noexcept { return (k + Block - 1) / Block; }
  static constexpr std::size_t zp_row_bytes(std::size_t k) noexcept {
    return (n_blocks(k) * Bits + 7) / 8;
  }

  static Status check(std::size_t k, FloatType t) {
    if (k == 0) return make_error(Errc::kBadArgument, "row length K must be > 0");
    if (t == FloatType::kBF16) {
      return make_error(Errc::kUnsupported,
                        "ORT's MatMulNBits quantizer takes float32 or float16 weights, not bf16");
    }
    return {};
  }

  static PlaneSpecs planes(std::size_t rows, std::size_t k, FloatType t) {
    const std::size_t nb = n_blocks(k);
    const std::string_view sdt = t == FloatType::kF16 ? "float16" : "float";
    PlaneSpecs p{};
    p[0] = detail::plane("B", "uint8", 8, nb * blob_bytes, nb * blob_bytes, {rows, nb, blob_bytes});
    p[1] = detail::float_plane("scales", t, sdt, nb, {rows * nb});
    if constexpr (!Sym) {
      p[2] = detail::plane("zero_points", "uint8", 8, zp_row_bytes(k), zp_row_bytes(k),
                           {rows * zp_row_bytes(k)});
    }
    return p;
  }

  // Parameters of every block of the row; codes of the row (one per element,
  // padded to n_blocks*Block with the values ORT leaves there).
  static void quantize_row_ref(const float* x, std::size_t k, RowPlanes out, FloatType t) noexcept {
    const std::size_t nb = n_blocks(k);
    std::uint8_t buf[2][Block];
    std::memset(out.p[0], 0, nb * blob_bytes);
    std::uint8_t* zp_out = Sym ? nullptr : out.p[2];
    if (zp_out) std::memset(zp_out, 0, zp_row_bytes(k));
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t k0 = b * Block;
      const std::size_t len = std::min(Block, k - k0);
      float mn = FLT_MAX, mx = -FLT_MAX;
      for (std::size_t i = 0; i < len; ++i) {
        const float v = x[k0 + i];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const ort::NBitsBlockParams bp = ort::nbits_params<Bits, Sym>(mn, mx);
      store_float(t, bp.scale_f, out.p[1] + b * float_type_bytes(t));
      // Codes use the scale as stored (rounded to t), through its reciprocal.
      const float s = load_float(t, out.p[1] + b * float_type_bytes(t));
      const float r = s != 0.0f ? 1.0f / s : 0.0f;
      const float zpf = static_cast<float>(bp.zp);
      std::uint8_t* codes = buf[b & 1];
      for (std::size_t i = 0; i < len; ++i) codes[i] = ort::nbits_code<kQMax>(x[k0 + i], r, zpf);
      if (len < Block) {
        for (std::size_t i = len; i < Block; ++i) codes[i] = 0;
        ort::nbits_stale_tail<Bits>(codes, len, k0, Block, b ? buf[(b + 1) & 1] : nullptr);
        // Only the byte holding the last element is written; later bytes stay 0.
        const std::size_t used = (len + kPack - 1) / kPack * kPack;
        pack_bits(codes, used, Bits, out.p[0] + b * blob_bytes);
      } else {
        pack_bits(codes, Block, Bits, out.p[0] + b * blob_bytes);
      }
      if (zp_out) set_zp(zp_out, b, bp.zp);
    }
    // Lanes of the last zero-point byte with no block keep ORT's fill value 2^(bits-1).
    if (zp_out) {
      for (std::size_t b = nb; b % kPack != 0; ++b)
        set_zp(zp_out, b, static_cast<std::uint8_t>(kMid));
    }
  }

  static void dequantize_row_ref(ConstRowPlanes in, std::size_t k, float* y, FloatType t) noexcept {
    const std::size_t nb = n_blocks(k);
    std::uint8_t codes[Block];
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t k0 = b * Block;
      const std::size_t len = std::min(Block, k - k0);
      const float s = load_float(t, in.p[1] + b * float_type_bytes(t));
      const int zp = Sym ? kMid : get_zp(in.p[2], b);
      unpack_bits(in.p[0] + b * blob_bytes, len, Bits, codes);
      for (std::size_t i = 0; i < len; ++i) {
        y[k0 + i] = static_cast<float>(static_cast<int>(codes[i]) - zp) * s;
      }
    }
  }

  static void set_zp(std::uint8_t* row, std::size_t b, std::uint8_t zp) noexcept {
    const std::size_t shift = (b % kPack) * Bits;
    row[b / kPack] =
        static_cast<std::uint8_t>((row[b / kPack] & ~(kQMax << shift)) | (zp << shift));
  }
  static int get_zp(const std::uint8_t* row, std::size_t b) noexcept {
    return (row[b / kPack] >> ((b % kPack) * Bits)) & kQMax;
  }
};

}  // namespace edgequant

EDGEQUANT_FP_STRICT_END
