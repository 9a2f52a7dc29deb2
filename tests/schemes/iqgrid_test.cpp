// Grid I-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M): the
// lookup tables against the spec's SHA-256, the derived search structures
// against a brute-force derivation and ggml's compressed grids, the one-time
// initialisation under concurrent first use, sort stability, the IQ3_S write
// cursor, and the refusal of blocks ggml cannot quantize.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "edgequant/quantize.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

// ---------------------------------------------------------------- SHA-256 --
// FIPS 180-4, enough for hashing the tables' byte images.
std::string sha256_hex(const std::vector<std::uint8_t>& msg) {
  static constexpr std::uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::vector<std::uint8_t> m = msg;
  const std::uint64_t bits = static_cast<std::uint64_t>(msg.size()) * 8;
  m.push_back(0x80);
  while (m.size() % 64 != 56) m.push_back(0);
  for (int i = 7; i >= 0; --i) m.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
  for (std::size_t off = 0; off < m.size(); off += 64) {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = static_cast<std::uint32_t>(m[off + 4 * i]) << 24 | m[off + 4 * i + 1] << 16 |
             m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
    }
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t t1 = hh + (std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25)) +
                               ((e & f) ^ (~e & g)) + k[i] + w[i];
      const std::uint32_t t2 =
          (std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
  std::string hex;
  for (std::uint32_t v : h) {
    for (int i = 7; i >= 0; --i) hex += "0123456789abcdef"[(v >> (4 * i)) & 15];
  }
  return hex;
}

// Little-endian byte image of a table.
template <class T, std::size_t N>
std::vector<std::uint8_t> le_bytes(const T (&table)[N]) {
  std::vector<std::uint8_t> out;
  for (T v : table) {
    for (std::size_t j = 0; j < sizeof(T); ++j) out.push_back(static_cast<std::uint8_t>(v >> (8 * j)));
  }
  return out;
}

// ------------------------------------------- independent grid derivation --
// A grid described as the spec does it (§3.1): entries of nel bytes, each
// byte replaced by its rank in the table's sorted value set.
struct RefGrid {
  int nel = 0, bits = 0, nwant = 0;
  std::vector<std::vector<int>> rank;  // [g][j]
};

template <class T, std::size_t N>
RefGrid ref_grid(const T (&table)[N], int nel, int bits, int nwant, bool signed_bytes) {
  RefGrid r{nel, bits, nwant, {}};
  std::vector<int> values;
  auto byte = [&](T e, int j) {
    const auto b = static_cast<std::uint8_t>(e >> (8 * j));
    return signed_bytes ? static_cast<int>(static_cast<std::int8_t>(b)) : static_cast<int>(b);
  };
  for (T e : table) {
    for (int j = 0; j < nel; ++j) values.push_back(byte(e, j));
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (T e : table) {
    std::vector<int> rk;
    for (int j = 0; j < nel; ++j) {
      rk.push_back(static_cast<int>(std::find(values.begin(), values.end(), byte(e, j)) - values.begin()));
    }
    r.rank.push_back(rk);
  }
  return r;
}

struct GridCase {
  const char* name;
  iq::GridId id;
  RefGrid ref;
  std::array<std::uint16_t, 4> kgrid_head;  // ggml's compressed grid (kgrid_*), first entries
  std::uint16_t kgrid_last;                 // and its last entry
};

std::vector<GridCase> grid_cases() {
  // kgrid_* heads and tails copied from ggml-quants.c (facts, not code).
  return {
      {"iq2xxs", iq::GridId::kIQ2XXS, ref_grid(iq::k_iq2xxs_grid, 8, 2, 2, false), {0, 2, 5, 8}, 43268},
      {"iq2xs", iq::GridId::kIQ2XS, ref_grid(iq::k_iq2xs_grid, 8, 2, 2, false), {0, 2, 5, 8}, 43690},
      {"iq2s", iq::GridId::kIQ2S, ref_grid(iq::k_iq2s_grid, 8, 2, 1, false), {0, 2, 5, 8}, 43690},
      {"iq1s", iq::GridId::kIQ1S, ref_grid(iq::k_iq1s_grid, 8, 2, 3, true), {0, 2, 5, 8}, 43690},
      {"iq3xxs", iq::GridId::kIQ3XXS, ref_grid(iq::k_iq3xxs_grid, 4, 3, 2, false), {0, 2, 4, 9}, 3992},
      {"iq3s", iq::GridId::kIQ3S, ref_grid(iq::k_iq3s_grid, 4, 3, 3, false), {0, 1, 2, 5}, 4032},
  };
}

std::vector<std::uint8_t> as_bytes(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  return std::vector<std::uint8_t>(b, b + n);
}

template <class S>
std::vector<std::uint8_t> quantize_bytes(const std::vector<float>& x, std::size_t cols,
                                         std::span<const float> imp, unsigned threads = 1) {
  std::vector<typename S::Block> q(x.size() / S::block_elems);
  QuantizeOptions opt;
  opt.importance = imp;
  opt.threads = threads;
  const auto st = quantize<S>(x, cols, q, opt);
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message()));
  return as_bytes(q.data(), q.size() * sizeof(typename S::Block));
}

std::vector<float> random_rows(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> td(4.f);
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = td(rng) * 0.03f;
  return x;
}

std::vector<float> importance(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.5f, 6.f);
  std::vector<float> w(n);
  for (auto& v : w) v = u(rng);
  return w;
}

using GridSchemes = std::tuple<IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M>;

}  // namespace

// First in this binary on purpose: nothing has touched the search
// structures yet, so the threads race on their one-time construction.
TEST_CASE("iq grids: concurrent first use builds each structure once, identically") {
  const std::size_t cols = 512;
  const auto x = random_rows(6, cols, 11);
  const auto w = importance(cols, 12);
  constexpr int kThreads = 8;
  std::vector<std::vector<std::uint8_t>> out(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      // Pairs of threads per type; IQ1_S and IQ1_M share one grid.
      std::vector<typename IQ1_S::Block> q1(x.size() / 256);
      std::vector<typename IQ1_M::Block> q2(x.size() / 256);
      std::vector<typename IQ3_S::Block> q3(x.size() / 256);
      std::vector<typename IQ2_XS::Block> q4(x.size() / 256);
      QuantizeOptions opt;
      opt.importance = w;
      switch (t % 4) {
        case 0: (void)quantize<IQ1_S>(x, cols, q1, opt); out[t] = as_bytes(q1.data(), q1.size() * 50); break;
        case 1: (void)quantize<IQ1_M>(x, cols, q2, opt); out[t] = as_bytes(q2.data(), q2.size() * 56); break;
        case 2: (void)quantize<IQ3_S>(x, cols, q3, opt); out[t] = as_bytes(q3.data(), q3.size() * 110); break;
        default: (void)quantize<IQ2_XS>(x, cols, q4, opt); out[t] = as_bytes(q4.data(), q4.size() * 74); break;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 4; t < kThreads; ++t) CHECK(out[t] == out[t - 4]);
  // One instance per grid, whoever asked first.
  CHECK(&iq::GridSearch::get(iq::GridId::kIQ1S) == &iq::GridSearch::get(iq::GridId::kIQ1S));
  // The same bytes as a single-threaded scalar run.
  ScopedIsa scalar(Isa::kScalar);
  CHECK(quantize_bytes<IQ1_S>(x, cols, w) == out[0]);
  CHECK(quantize_bytes<IQ1_M>(x, cols, w) == out[1]);
  CHECK(quantize_bytes<IQ3_S>(x, cols, w) == out[2]);
  CHECK(quantize_bytes<IQ2_XS>(x, cols, w) == out[3]);
}

TEST_CASE("iq tables: byte images match the spec's SHA-256 (§3)") {
  CHECK(sha256_hex({}) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex(le_bytes(iq::k_iq2xxs_grid)) ==
        "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54");
  CHECK(sha256_hex(le_bytes(iq::k_iq2xs_grid)) ==
        "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de");
  CHECK(sha256_hex(le_bytes(iq::k_iq2s_grid)) ==
        "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88");
  CHECK(sha256_hex(le_bytes(iq::k_iq3xxs_grid)) ==
        "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d");
  CHECK(sha256_hex(le_bytes(iq::k_iq3s_grid)) ==
        "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f");
  CHECK(sha256_hex(le_bytes(iq::k_iq1s_grid)) ==
        "07540ffc1aeaf6ad4d97e96b0fcc765aae39671d4ae4a27bbd0e796fde167c6a");
  // The spec lists these two by prefix only; their content is also checked below.
  CHECK(sha256_hex(le_bytes(iq::k_kmask_iq2xs)).substr(0, 8) == "5ac9831b");
  CHECK(sha256_hex(le_bytes(iq::k_ksigns_iq2xs)).substr(0, 8) == "a76742a6");
  for (int j = 0; j < 8; ++j) CHECK(iq::k_kmask_iq2xs[j] == 1 << j);
  for (int i = 0; i < 128; ++i) {
    CHECK(iq::k_ksigns_iq2xs[i] == (i | (std::popcount(static_cast<unsigned>(i)) & 1) << 7));
  }
}

TEST_CASE("iq grids: derived codes are ggml's compressed grids; every point maps to itself") {
  for (const auto& gc : grid_cases()) {
    CAPTURE(gc.name);
    const iq::GridSearch& gs = iq::GridSearch::get(gc.id);
    const auto& ref = gc.ref;
    REQUIRE(gs.ngrid == static_cast<int>(ref.rank.size()));
    REQUIRE(gs.nel == ref.nel);
    CHECK(gs.map_size == (ref.nel == 8 ? 43692 : 4096));
    for (int g = 0; g < gs.ngrid; ++g) {
      int code = 0;
      for (int j = 0; j < ref.nel; ++j) code |= ref.rank[g][j] << (ref.bits * j);
      CHECK(gs.code[g] == code);
      CHECK(gs.map[code] == g);
      for (int j = 0; j < ref.nel; ++j) CHECK(gs.level(g, j) == ref.rank[g][j]);
    }
    for (int k = 0; k < 4; ++k) CHECK(gs.code[k] == gc.kgrid_head[k]);
    CHECK(gs.code[gs.ngrid - 1] == gc.kgrid_last);
    // Codes ascend, as in ggml's tables (so the map is a bijection on them).
    CHECK(std::is_sorted(gs.code.begin(), gs.code.end()));
    CHECK(std::adjacent_find(gs.code.begin(), gs.code.end()) == gs.code.end());
  }
}

TEST_CASE("iq grids: neighbour lists hold the nwant nearest distinct distances (brute force)") {
  for (const auto& gc : grid_cases()) {
    CAPTURE(gc.name);
    const iq::GridSearch& gs = iq::GridSearch::get(gc.id);
    const auto& ref = gc.ref;
    const int mask = (1 << ref.bits) - 1;
    std::size_t lists = 0;
    std::vector<std::pair<int, int>> d2g(ref.rank.size());
    std::vector<bool> on_grid(static_cast<std::size_t>(gs.map_size));
    for (const auto& rk : ref.rank) {
      int c = 0;
      for (int j = 0; j < ref.nel; ++j) c |= rk[j] << (ref.bits * j);
      on_grid[c] = true;
    }
    for (int u = 0; u < gs.map_size; ++u) {
      if (on_grid[u]) continue;
      bool reachable = true;  // levels the quantizers produce: 0..2 (2-bit), 0..7 (3-bit)
      for (int j = 0; j < ref.nel; ++j) reachable &= ((u >> (ref.bits * j)) & mask) <= (ref.bits == 2 ? 2 : 7);
      CAPTURE(u);
      if (!reachable) {
        CHECK(gs.map[u] == iq::GridSearch::kUnreachable);
        continue;
      }
      REQUIRE(gs.map[u] < 0);
      REQUIRE(gs.map[u] != iq::GridSearch::kUnreachable);
      // Sort (d2, g) over the quant grid positions 2*rank+1, keep the prefix
      // whose d2 is among the nwant smallest distinct values.
      for (std::size_t g = 0; g < ref.rank.size(); ++g) {
        int d2 = 0;
        for (int j = 0; j < ref.nel; ++j) {
          const int diff = (2 * ref.rank[g][j] + 1) - (2 * ((u >> (ref.bits * j)) & mask) + 1);
          d2 += diff * diff;
        }
        d2g[g] = {d2, static_cast<int>(g)};
      }
      std::sort(d2g.begin(), d2g.end());
      std::vector<int> want;
      int distinct = 0, last = -1;
      for (const auto& [d2, g] : d2g) {
        if (d2 != last) {
          if (++distinct > ref.nwant) break;
          last = d2;
        }
        want.push_back(g);
      }
      const std::uint16_t* list = gs.list(u);
      const std::uint16_t* codes = gs.list_codes(u);
      REQUIRE(list[0] == want.size());
      for (std::size_t c = 0; c < want.size(); ++c) {
        REQUIRE(list[1 + c] == want[c]);
        REQUIRE(codes[1 + c] == gs.code[want[c]]);
      }
      ++lists;
    }
    MESSAGE(gc.name << ": " << lists << " neighbour lists checked");
    CHECK(lists > 0);
  }
}

TEST_CASE("iq1: the partition sort is stable (ties keep index order, -0 == +0)") {
  const float x[8] = {0.5f, -1.f, 0.5f, 0.f, -0.f, -1.f, 2.f, 0.5f};
  int idx[8];
  iq::stable_argsort(x, 8, idx);
  const int want[8] = {1, 5, 3, 4, 0, 2, 7, 6};
  for (int i = 0; i < 8; ++i) CHECK(idx[i] == want[i]);
}

TEST_CASE("iq1: golden rows whose bytes depend on the order of equal values") {
  // Golden README: an anti-stable sort changes IQ1_S.imat.q row 37 and IQ1_M
  // rows 37 (imat), 42, 43, 44, 46, 47. Row 37 is constant: every value ties.
  auto in = eqtest::golden_file("input.f32");
  auto im = eqtest::golden_file("imatrix.f32");
  auto s_imat = eqtest::golden_file("IQ1_S.imat.q");
  auto m_plain = eqtest::golden_file("IQ1_M.q");
  if (!in || !im || !s_imat || !m_plain) return;
  const auto x = eqtest::read_file<float>(*in);
  const auto w = eqtest::read_file<float>(*im);
  const auto gs = eqtest::read_file(*s_imat);
  const auto gm = eqtest::read_file(*m_plain);
  constexpr std::size_t kCols = 4096;
  eqtest::for_each_isa([&](Isa) {
    for (int row : {37, 42, 43, 44, 46, 47}) {
      CAPTURE(row);
      const std::vector<float> xr(x.begin() + row * kCols, x.begin() + (row + 1) * kCols);
      const auto qm = quantize_bytes<IQ1_M>(xr, kCols, {});
      CHECK(std::equal(qm.begin(), qm.end(), gm.begin() + row * qm.size()));
      if (row == 37) {
        const auto qs = quantize_bytes<IQ1_S>(xr, kCols, w);
        CHECK(std::equal(qs.begin(), qs.end(), gs.begin() + row * qs.size()));
      }
    }
  });
}

TEST_CASE("iq3_s: skipped all-zero sub-blocks shift the qs/signs write cursor (§4.20)") {
  // Row 38 of the golden input: ±0 everywhere except x[1234] = 3. Super-block
  // 4 holds it in sub-block 6 (1234 = 4*256 + 6*32 + 18); sub-blocks 0..5 are
  // skipped, so ggml writes sub-block 6's grid bytes to qs[0..7] and its sign
  // bytes to signs[0..3], while qh and the scale nibble use the true index 6.
  std::vector<float> x(256, 0.0f);
  for (std::size_t i = 1; i < x.size(); i += 2) x[i] = -0.0f;
  x[6 * 32 + 18] = 3.0f;
  eqtest::for_each_isa([&](Isa) {
    const auto q = quantize_bytes<IQ3_S>(x, 256, {});
    IQ3_S::Block b;
    std::memcpy(&b, q.data(), sizeof(b));
    // Element 18 of its sub-block is element 2 of group 4: qs[4] holds it.
    CHECK(b.qs[4] != 0);
    for (int i = 8; i < 64; ++i) CHECK(b.qs[i] == 0);
    for (int i = 1; i < 32; ++i) CHECK(b.signs[i] == 0);  // x > 0: no sign bits
    // Sub-block 6 (even: low nibble of scales[3]) has the largest scale:
    // nearest_int(0.5*(31 - 1)) = 15. The skipped ones have 0.
    CHECK((b.scales[3] & 0xf) == 15);
    CHECK((b.scales[0] | b.scales[1] | b.scales[2] | (b.scales[3] >> 4)) == 0);
    for (int i = 0; i < 8; ++i) {
      if (i != 6) CHECK(b.qh[i] == 0);
    }
  });
  auto in = eqtest::golden_file("input.f32");
  auto gq = eqtest::golden_file("IQ3_S.q");
  if (!in || !gq) return;
  const auto xg = eqtest::read_file<float>(*in);
  const auto want = eqtest::read_file(*gq);
  const std::vector<float> row(xg.begin() + 38 * 4096, xg.begin() + 39 * 4096);
  const auto got = quantize_bytes<IQ3_S>(row, 4096, {});
  CHECK(std::equal(got.begin(), got.end(), want.begin() + 38 * got.size()));
  // The block of the test above is the golden row's super-block 4.
  const auto mine = quantize_bytes<IQ3_S>(x, 256, {});
  CHECK(std::equal(mine.begin(), mine.end(), want.begin() + 38 * got.size() + 4 * 110));
}

TEST_CASE_TEMPLATE("iq: blocks ggml cannot quantize are refused, not written as garbage", S,
                   IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) {
  // Importance weights so large that the weights overflow: ggml's asserts
  // fail (NaN scales); we report an overflow naming the block.
  const std::size_t cols = 512;
  auto x = random_rows(2, cols, 21);
  for (auto& v : x) v *= 100;  // |x| ~ 3: weights qw*sqrt(sigma2 + x²) > qw
  auto w = importance(cols, 22);
  w[300] = 3.4e38f;  // its weight overflows to Inf; the scales stay small
  QuantizeOptions opt;
  opt.importance = w;
  eqtest::for_each_isa([&](Isa) {
    std::vector<typename S::Block> q(x.size() / 256);
    const auto st = quantize<S>(x, cols, q, opt);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kOverflow);
    CHECK(st.error().offset == 256);  // row 0, the block holding column 300
  });
}

TEST_CASE_TEMPLATE("iq: SIMD kernels equal the scalar reference on random data", S, IQ2_XXS, IQ2_XS,
                   IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) {
  const std::size_t cols = 1024;
  auto x = random_rows(8, cols, 31);
  for (std::size_t i = 0; i < cols; ++i) x[3 * cols + i] = std::round(x[3 * cols + i] * 64) / 64;  // ties
  const auto w = importance(cols, 32);
  const bool req = ggml_type_info(S::ggml_type).requires_imatrix;
  std::vector<std::uint8_t> ref_w, ref_plain;
  {
    ScopedIsa scalar(Isa::kScalar);
    ref_w = quantize_bytes<S>(x, cols, w);
    if (!req) ref_plain = quantize_bytes<S>(x, cols, {});
  }
  eqtest::for_each_isa([&](Isa) {
    CHECK(quantize_bytes<S>(x, cols, w, 3) == ref_w);
    if (!req) CHECK(quantize_bytes<S>(x, cols, {}) == ref_plain);
  });
}

// IQ1_M's SIMD kernel proves the outcome of the (i1, i2, shift) search from
// error bounds when one candidate clearly wins and runs the reference's
// sequential scan otherwise. Rows built to sit on either side of that line:
// near-ties (the top two scores within the bounds' slack), exact ties,
// zero and huge weights, large and tiny magnitudes, and plain random rows.
TEST_CASE("iq1_m: the bounded partition search decides as the sequential scan, near ties included") {
  const std::size_t cols = 1024;
  std::mt19937 rng(41);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x;
  const auto add_row = [&](auto gen) {
    for (std::size_t i = 0; i < cols; ++i) x.push_back(gen(i));
  };
  add_row([&](std::size_t) { return 0.02f * nd(rng); });                                 // plain
  add_row([&](std::size_t) { return 0.5f + 1e-6f * nd(rng); });                          // near-constant
  add_row([&](std::size_t i) { return (i % 2 ? 1.f : -1.f) * (0.3f + 1e-7f * nd(rng)); });  // +-c
  add_row([&](std::size_t i) { return static_cast<float>(static_cast<int>(i % 5) - 2) * 0.01f; });  // exact ties
  add_row([&](std::size_t i) { return i % 16 < 8 ? 0.02f * nd(rng) : 0.f; });            // zero halves
  add_row([&](std::size_t) { return 2e3f * nd(rng); });                                   // large
  add_row([&](std::size_t) { return 1e-6f * nd(rng); });                                  // tiny
  add_row([&](std::size_t i) {  // two clusters a hair apart: many candidates nearly equal
    return (i % 3 ? 0.1f : -0.1f) + 1e-5f * nd(rng);
  });
  const std::size_t rows = x.size() / cols;
  std::vector<float> w(cols);
  for (std::size_t i = 0; i < cols; ++i) {
    w[i] = i % 7 == 0 || (i >= 32 && i < 48) ? 0.f : 0.5f + static_cast<float>(i % 13);  // (a zero sub-block)
  }
  for (std::size_t i = 64; i < 80; ++i) w[i] = 1e30f;  // sums beyond the bounded search's range
  std::vector<std::uint8_t> ref_w, ref_plain;
  {
    ScopedIsa scalar(Isa::kScalar);
    ref_w = quantize_bytes<IQ1_M>(x, cols, w);
    ref_plain = quantize_bytes<IQ1_M>(x, cols, {});
  }
  REQUIRE(ref_w.size() == rows * (cols / 256) * sizeof(IQ1_M::Block));
  eqtest::for_each_isa([&](Isa) {
    CHECK(quantize_bytes<IQ1_M>(x, cols, w) == ref_w);
    CHECK(quantize_bytes<IQ1_M>(x, cols, {}) == ref_plain);
  });
}

TEST_CASE("iq: importance rules follow ggml (required for IQ2_XXS, IQ2_XS, IQ1_S)") {
  CHECK(ggml_type_info(GgmlType::kIQ2_XXS).requires_imatrix);
  CHECK(ggml_type_info(GgmlType::kIQ2_XS).requires_imatrix);
  CHECK(ggml_type_info(GgmlType::kIQ1_S).requires_imatrix);
  for (GgmlType t : {GgmlType::kIQ2_S, GgmlType::kIQ3_XXS, GgmlType::kIQ3_S, GgmlType::kIQ1_M}) {
    CHECK_FALSE(ggml_type_info(t).requires_imatrix);
  }
  const auto x = random_rows(1, 256, 41);
  std::vector<std::byte> out(ggml_row_bytes(GgmlType::kIQ1_S, 256));
  const auto st = quantize(GgmlType::kIQ1_S, x, 256, out);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kNeedsImportance);
}
