// Shared machinery of ggml's grid-based I-quants (IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S, IQ1_S, IQ1_M): the quantizer grids, maps and neighbour lists
// derived from the dequantization grids (specs/ggml-quants.md §3.1), the
// neighbour searches, make_qp_quants (§2.5) and the sign helpers. Scalar
// reference code in ggml's float operation order.
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "edgequant/core/config.hpp"
#include "edgequant/schemes/ggml_common.hpp"
#include "edgequant/schemes/iq_tables.hpp"

EDGEQUANT_FP_STRICT_BEGIN

namespace edgequant::iq {

// Stored as the fp16 scale of a super-block that ggml cannot quantize: its
// asserts fail (a NaN sub-block scale, or no neighbour closer than FLT_MAX;
// both need arithmetic that overflowed on huge inputs or weights). A NaN scale
// makes first_invalid_block, like ggml's validator, refuse the block, so the
// public API reports an error instead of writing garbage.
inline constexpr std::uint16_t kAbortScale = 0x7e00;

// Epsilons of the I-quants (§0.2).
inline constexpr float kEpsIQ3XXS = 1e-8f;
inline constexpr float kEpsIQ2S = 1e-8f;
inline constexpr float kEpsIQ1M = 1e-7f;
inline constexpr float kEpsIQ1S = 1e-12f;
inline constexpr float kIQ1Delta = 0.125f;  // IQ1S_DELTA = IQ1M_DELTA (§3)

// Importance 1 for every element: what the SIMD kernels use when a type's
// weights need importance and none was given (ggml requires it there).
inline constexpr std::array<float, 256> kUnitWeights = [] {
  std::array<float, 256> a{};
  for (float& v : a) v = 1.0f;
  return a;
}();

// The six quantizer grids; IQ1_S and IQ1_M share one (§3.1).
enum class GridId : std::uint8_t { kIQ2XXS, kIQ2XS, kIQ2S, kIQ1S, kIQ3XXS, kIQ3S };
inline constexpr int kGridCount = 6;

// Search structures of one grid (ggml's iq2xs_init_impl / iq3xs_init_impl),
// derived from the dequantization grid; see GridSearch::get.
//
// A group of `nel` levels (each 0..levels-1) packs into the code
// u = Σ L[j] << (bits*j). map[u] says what the quantizer does with u:
//   >= 0           u is grid point map[u]
//   kUnreachable   u holds a field the quantizers never produce (2-bit fields
//                  equal to 3; their neighbour lists are never built)
//   otherwise      u is off the grid; its neighbour list starts at
//                  neighbours[-map[u] - 1]: a count n, then n grid indices
//                  (ascending by distance, then index). The same offsets in
//                  neighbour_codes hold the candidates' codes (SIMD searches
//                  read their levels from them without touching the grid).
struct GridSearch {
  static constexpr std::int32_t kUnreachable = INT32_MIN;
  static constexpr std::size_t kCodePadding = 64;  // lanes of the widest vector, and more

  int ngrid = 0;     // grid points
  int nel = 0;       // elements per group: 8 (2-bit fields) or 4 (3-bit fields)
  int bits = 0;      // bits per packed level
  int nwant = 0;     // distinct distances kept per neighbour list
  int map_size = 0;  // 43692 or 4096 (ggml's kmap_size)
  std::vector<std::uint16_t> code;             // [ngrid] packed levels of each point
  std::vector<std::int32_t> map;               // [map_size]
  std::vector<std::uint16_t> neighbours;       // count-prefixed lists
  std::vector<std::uint16_t> neighbour_codes;  // parallel to neighbours

  // Level of element j of grid point g (0-based rank; quant grid value 2*L+1).
  int level(int g, int j) const noexcept { return (code[g] >> (bits * j)) & ((1 << bits) - 1); }
  const std::uint16_t* list(int u) const noexcept { return neighbours.data() + (-map[u] - 1); }
  const std::uint16_t* list_codes(int u) const noexcept {
    return neighbour_codes.data() + (-map[u] - 1);
  }

  // The structures of one grid, built on first use (thread-safe: a
  // function-local static per grid), freed at exit.
  static const GridSearch& get(GridId id);

  static GridSearch build(GridId id);
};

namespace detail {

// Rank of every byte of every grid entry in the sorted set of the table's
// byte values (§3.1): {8,25,43} -> 0..2, {-1,0,1} -> 0..2, iq3 tables -> 0..7.
template <class T, std::size_t N>
std::vector<std::uint16_t> grid_codes(const T (&table)[N], int nel, int bits, bool signed_bytes) {
  std::vector<int> values;
  for (T e : table) {
    for (int j = 0; j < nel; ++j) {
      const auto b = static_cast<std::uint8_t>(e >> (8 * j));
      values.push_back(signed_bytes ? static_cast<std::int8_t>(b) : b);
    }
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<std::uint16_t> codes(N);
  for (std::size_t g = 0; g < N; ++g) {
    unsigned u = 0;
    for (int j = 0; j < nel; ++j) {
      const auto b = static_cast<std::uint8_t>(table[g] >> (8 * j));
      const int v = signed_bytes ? static_cast<std::int8_t>(b) : b;
      const auto rank = std::lower_bound(values.begin(), values.end(), v) - values.begin();
      u |= static_cast<unsigned>(rank) << (bits * j);
    }
    codes[g] = static_cast<std::uint16_t>(u);
  }
  return codes;
}

}  // namespace detail

inline GridSearch GridSearch::build(GridId id) {
  GridSearch s;
  switch (id) {
    case GridId::kIQ2XXS: s.code = detail::grid_codes(k_iq2xxs_grid, 8, 2, false); s.nwant = 2; break;
    case GridId::kIQ2XS: s.code = detail::grid_codes(k_iq2xs_grid, 8, 2, false); s.nwant = 2; break;
    case GridId::kIQ2S: s.code = detail::grid_codes(k_iq2s_grid, 8, 2, false); s.nwant = 1; break;
    case GridId::kIQ1S: s.code = detail::grid_codes(k_iq1s_grid, 8, 2, true); s.nwant = 3; break;
    case GridId::kIQ3XXS: s.code = detail::grid_codes(k_iq3xxs_grid, 4, 3, false); s.nwant = 2; break;
    case GridId::kIQ3S: s.code = detail::grid_codes(k_iq3s_grid, 4, 3, false); s.nwant = 3; break;
  }
  const bool three_bit = id == GridId::kIQ3XXS || id == GridId::kIQ3S;
  s.ngrid = static_cast<int>(s.code.size());
  s.nel = three_bit ? 4 : 8;
  s.bits = three_bit ? 3 : 2;
  s.map_size = three_bit ? 4096 : 43692;  // ggml's kmap_size (§3.1)
  const int mask = (1 << s.bits) - 1;
  s.map.assign(static_cast<std::size_t>(s.map_size), -1);
  for (int g = 0; g < s.ngrid; ++g) s.map[s.code[g]] = g;

  // Squared distance between positions 2*level+1 splits into the distance of
  // the low half of the fields plus that of the high half: per u, two small
  // tables over half-codes, then one add per grid point.
  const int half_fields = s.nel / 2;
  const int half_bits = s.bits * half_fields;
  const int half_size = 1 << half_bits;
  std::vector<std::uint8_t> lo(static_cast<std::size_t>(s.ngrid)), hi(lo.size());
  for (int g = 0; g < s.ngrid; ++g) {
    lo[g] = static_cast<std::uint8_t>(s.code[g] & (half_size - 1));
    hi[g] = static_cast<std::uint8_t>(s.code[g] >> half_bits);
  }
  auto half_dist = [&](int a, int b) {
    int d = 0;
    for (int j = 0; j < half_fields; ++j) {
      const int diff = 2 * ((a >> (s.bits * j)) & mask) - 2 * ((b >> (s.bits * j)) & mask);
      d += diff * diff;
    }
    return d;
  };
  std::vector<std::uint16_t> half_table(static_cast<std::size_t>(half_size) * half_size);
  for (int a = 0; a < half_size; ++a) {
    for (int c = 0; c < half_size; ++c) half_table[static_cast<std::size_t>(a) * half_size + c] = static_cast<std::uint16_t>(half_dist(a, c));
  }
  // The points whose distance to u is among the nwant smallest distinct
  // distances, in (distance, index) order: bucket k holds distance best[k].
  std::vector<std::uint16_t> d2(static_cast<std::size_t>(s.ngrid));
  std::array<std::vector<std::uint16_t>, 3> bucket;
  for (int u = 0; u < s.map_size; ++u) {
    if (s.map[u] >= 0) continue;
    bool reachable = true;
    for (int j = 0; j < s.nel; ++j) reachable &= ((u >> (s.bits * j)) & mask) != 3 || s.bits == 3;
    if (!reachable) {
      s.map[u] = kUnreachable;
      continue;
    }
    const std::uint16_t* dl = half_table.data() + static_cast<std::size_t>(u & (half_size - 1)) * half_size;
    const std::uint16_t* dh = half_table.data() + static_cast<std::size_t>(u >> half_bits) * half_size;
    std::array<int, 3> best;  // nwant smallest distinct distances, ascending
    best.fill(INT32_MAX);
    for (int g = 0; g < s.ngrid; ++g) {
      const int v = d2[g] = static_cast<std::uint16_t>(dl[lo[g]] + dh[hi[g]]);
      if (v >= best[s.nwant - 1]) continue;
      int k = 0;
      while (v > best[k]) ++k;
      if (v == best[k]) continue;
      for (int m = s.nwant - 1; m > k; --m) best[m] = best[m - 1];
      best[k] = v;
    }
    for (auto& b : bucket) b.clear();
    for (int g = 0; g < s.ngrid; ++g) {
      if (d2[g] > best[s.nwant - 1]) continue;
      int k = 0;
      while (d2[g] != best[k]) ++k;
      bucket[k].push_back(static_cast<std::uint16_t>(g));
    }
    const std::size_t start = s.neighbours.size();
    s.map[u] = -static_cast<std::int32_t>(start) - 1;
    s.neighbours.push_back(0);
    s.neighbour_codes.push_back(0);
    for (int k = 0; k < s.nwant; ++k) {
      for (std::uint16_t g : bucket[k]) {
        s.neighbours.push_back(g);
        s.neighbour_codes.push_back(s.code[g]);
      }
    }
    s.neighbours[start] = static_cast<std::uint16_t>(s.neighbours.size() - start - 1);
  }
  // SIMD searches load whole vectors of candidate codes; padding keeps the
  // last list's over-read inside the array (the lanes are masked off).
  s.neighbour_codes.resize(s.neighbour_codes.size() + kCodePadding, 0);
  s.neighbours.shrink_to_fit();
  s.neighbour_codes.shrink_to_fit();
  return s;
}

inline const GridSearch& GridSearch::get(GridId id) {
  // One static per grid: a type only pays for its own grid.
  switch (id) {
    case GridId::kIQ2XXS: { static const GridSearch s = build(id); return s; }
    case GridId::kIQ2XS: { static const GridSearch s = build(id); return s; }
    case GridId::kIQ2S: { static const GridSearch s = build(id); return s; }
    case GridId::kIQ1S: { static const GridSearch s = build(id); return s; }
    case GridId::kIQ3XXS: { static const GridSearch s = build(id); return s; }
    case GridId::kIQ3S: break;
  }
  static const GridSearch s = build(GridId::kIQ3S);
  return s;
}

// Packed code of nel levels.
inline int pack_levels(const std::int8_t* L, int nel, int bits) noexcept {
  int u = 0;
  for (int j = 0; j < nel; ++j) u |= L[j] << (bits * j);
  return u;
}

// Grid index of the levels L[0..nel) for the final encoding. ggml aborts when
// they are off the grid ("Oops"), which needs a NaN scale; then `aborts` is
// set and index 0 used (the block is refused, see kAbortScale).
inline int grid_index_of(const GridSearch& gs, const std::int8_t* L, bool& aborts) noexcept {
  int u = 0;
  for (int j = 0; j < gs.nel; ++j) {
    if (L[j] < 0 || L[j] >= (1 << gs.bits)) {
      aborts = true;
      return 0;
    }
    u |= L[j] << (gs.bits * j);
  }
  if (gs.map[u] < 0) {
    aborts = true;
    return 0;
  }
  return gs.map[u];
}

// iq2_find_best_neighbour / iq3_find_best_neighbour (§3.1): the listed point
// with the smallest Σ wa*diff*diff, diff = scale*(2L+1) - xval (first on
// ties); writes its levels to L and returns its index. Returns the first
// candidate and sets `aborts` when no distance is below FLT_MAX (only with
// non-finite arithmetic, where ggml's assertion aborts).
inline int find_best_neighbour(const GridSearch& gs, int u, const float* xval, const float* wa,
                               float scale, std::int8_t* L, bool& aborts) noexcept {
  const std::uint16_t* nb = gs.list(u);
  const int n = nb[0];
  float best_d2 = FLT_MAX;
  int best = -1;
  for (int c = 1; c <= n; ++c) {
    float d2 = 0;
    for (int j = 0; j < gs.nel; ++j) {
      const float q = static_cast<float>(2 * gs.level(nb[c], j) + 1);
      const float diff = scale * q - xval[j];
      d2 += wa[j] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = nb[c];
    }
  }
  if (best < 0) {
    aborts = true;
    best = nb[1];
  }
  for (int j = 0; j < gs.nel; ++j) L[j] = static_cast<std::int8_t>(gs.level(best, j));
  return best;
}

// iq1_find_best_neighbour2 (§3.1): like find_best_neighbour with q = xg[L]
// (the shifted IQ1 level values) and the raw weights w. If no listed point
// scores below FLT_MAX (only with non-finite arithmetic), ggml scans the whole
// grid reading xval out of bounds; we set `aborts` instead (the block is then
// refused, see kAbortScale) and scan with xval[j] to stay deterministic.
inline int find_best_neighbour_iq1(const GridSearch& gs, int u, const float* xval, const float* w,
                                   float scale, const float* xg, std::int8_t* L,
                                   bool& aborts) noexcept {
  const std::uint16_t* nb = gs.list(u);
  const int n = nb[0];
  float best_d2 = FLT_MAX;
  int best = -1;
  auto score = [&](int g) {
    float d2 = 0;
    for (int j = 0; j < 8; ++j) {
      const float q = xg[gs.level(g, j)];
      const float diff = scale * q - xval[j];
      d2 += w[j] * diff * diff;
    }
    return d2;
  };
  for (int c = 1; c <= n; ++c) {
    const float d2 = score(nb[c]);
    if (d2 < best_d2) {
      best_d2 = d2;
      best = nb[c];
    }
  }
  if (best < 0) {
    aborts = true;
    for (int g = 0; g < gs.ngrid; ++g) {
      const float d2 = score(g);
      if (d2 < best_d2) {
        best_d2 = d2;
        best = g;
      }
    }
  }
  if (best < 0) best = nb[1];
  for (int j = 0; j < 8; ++j) L[j] = static_cast<std::int8_t>(gs.level(best, j));
  return best;
}

// make_qp_quants (§2.5): scale of non-negative-ish values with levels in
// [0, nmax]. L is uint8 and every read uses the stored byte: a negative level
// (IQ2_XXS's parity-flipped targets) wraps to 256 + l, as in ggml.
inline float make_qp_quants(int n, int nmax, const float* x, std::uint8_t* L,
                            const float* quant_weights) noexcept {
  using ggml::nearest_int;
  float max = 0;
  for (int i = 0; i < n; ++i) max = ggml::max_of(max, x[i]);
  if (max < ggml::kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<std::uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += quant_weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + fnmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = ggml::min_of(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * static_cast<float>(l);
      mse += quant_weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = ggml::min_of(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<std::uint8_t>(l);
    const float fl = static_cast<float>(l);  // the int, not the stored byte
    sumlx += quant_weights[i] * x[i] * fl;
    suml2 += quant_weights[i] * fl * fl;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = quant_weights[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0 && sl2 > 0) {
        const int new_l = ggml::min_of(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          const float fl = static_cast<float>(new_l);
          slx += w * x[i] * fl;
          sl2 += w * fl * fl;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Σ x² over a 256-element super-block, in element order.
inline float superblock_sumx2(const float* xbl) noexcept {
  float sumx2 = 0;
  for (int i = 0; i < ggml::kQK_K; ++i) sumx2 += xbl[i] * xbl[i];
  return sumx2;
}

// Signs with even parity (IQ2_XXS, IQ2_XS, IQ3_XXS; §4.16 step 2) for the
// groups of 8 of xb: xval = |x| (x >= 0 counts -0.0 as positive); an odd
// number of negatives flips the element with the smallest w*x*x (first on
// ties) to -|x| and toggles its sign bit. Returns the 7-bit sign field.
inline std::uint8_t parity_signs8(const float* xb, const float* weight, float* xval) noexcept {
  int nflip = 0;
  unsigned s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      ++nflip;
      s |= 1u << i;
    }
  }
  if (nflip % 2) {
    int imin = 0;
    float min = weight[0] * xb[0] * xb[0];
    for (int i = 1; i < 8; ++i) {
      const float ax = weight[i] * xb[i] * xb[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s ^= 1u << imin;
  }
  return static_cast<std::uint8_t>(s & 127);
}

// Explicit signs (IQ2_S, IQ3_S): xval = |x|, bit i set when x < 0.
inline std::uint8_t plain_signs8(const float* xb, float* xval) noexcept {
  unsigned s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      s |= 1u << i;
    }
  }
  return static_cast<std::uint8_t>(s);
}

// 4-bit sub-block scale: clamp(nearest_int(0.5*(id*scale - 1)), 0, nmax).
inline int scale_nibble(float id, float scale, int nmax) noexcept {
  const int l = ggml::nearest_int(0.5f * (id * scale - 1));
  return ggml::max_of(0, ggml::min_of(nmax, l));
}

}  // namespace edgequant::iq

EDGEQUANT_FP_STRICT_END
