// Every plane scheme (ORT, NNCF, MLX) through the public API: identical bytes
// and floats on every SIMD target and thread count, raw layout = planes,
// errors for bad input, loose error bounds.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgequant/planes.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

constexpr std::size_t kCols = 256;

// Rows that catch the usual mistakes: zeros, signed zeros, constants, spikes,
// tiny and huge values, ties, negative-dominant and outlier rows.
std::vector<float> edge_rows(std::size_t cols, unsigned seed) {
  std::vector<float> x;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  auto add = [&](auto gen) {
    for (std::size_t i = 0; i < cols; ++i) x.push_back(gen(i));
  };
  add([](std::size_t) { return 0.0f; });
  add([](std::size_t i) { return i % 3 ? -0.0f : 0.0f; });
  add([](std::size_t) { return -0.0f; });
  add([](std::size_t) { return 0.75f; });
  add([](std::size_t) { return -3.25f; });
  add([](std::size_t i) { return i == 77 % 64 ? 5.0f : 0.0f; });
  add([](std::size_t i) { return i % 40 == 3 ? -1e-3f : 0.0f; });
  add([&](std::size_t) { return nd(rng) * 1e-20f; });
  add([&](std::size_t) { return nd(rng) * 1e-7f; });
  add([&](std::size_t) { return nd(rng) * 3e3f; });
  add([](std::size_t i) { return (i % 2 ? -1.f : 1.f) * (1.f + static_cast<float>(i) / 256); });
  add([&](std::size_t) { return static_cast<float>(static_cast<int>(nd(rng) * 8)) * 0.25f; });
  add([](std::size_t i) { return static_cast<float>(i % 31) * 0.5f; });
  add([](std::size_t i) { return -1.0f - static_cast<float>(i % 32) / 31; });
  add([&](std::size_t) { return -std::fabs(nd(rng)); });
  add([&](std::size_t) { return nd(rng); });
  add([&](std::size_t i) { return i % 64 == 5 ? nd(rng) * 40.f : nd(rng) * 0.02f; });
  add([](std::size_t) { return 0.49999997f; });
  return x;
}

std::vector<FloatType> dtypes_of(const PlaneSchemeInfo& s) {
  if (s.family == "nncf") return {FloatType::kF32};
  if (s.family == "ort") return {FloatType::kF32, FloatType::kF16};
  return {FloatType::kF32, FloatType::kF16, FloatType::kBF16};
}

std::vector<std::size_t> cols_of(const PlaneSchemeInfo& s) {
  if (s.group == 1) return {kCols, 200, 37};  // ORT: partial last blocks, odd K
  return {kCols};
}

}  // namespace

TEST_CASE("planes: registry names are unique and parse back") {
  const auto all = plane_schemes();
  CHECK(all.size() >= 90);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(find_plane_scheme(all[i]->name) == all[i]);
    for (std::size_t j = i + 1; j < all.size(); ++j) CHECK(all[i]->name != all[j]->name);
  }
  CHECK(find_plane_scheme("MLX:Q4:G64") == &plane_scheme_info<MlxAffine<4, 64>>());
  CHECK(find_plane_scheme("ort:nbits4:b32:asym") == &plane_scheme_info<OrtNBits<4, 32, false>>());
  CHECK(find_plane_scheme("nncf:int4_sym:g128") == &plane_scheme_info<NncfInt<4, true, 128>>());
  CHECK(find_plane_scheme("nncf:int4_sym:g-1") == &plane_scheme_info<NncfInt<4, true, 0>>());
  CHECK(find_plane_scheme("mlx:q4:g64:metal") ==
        &plane_scheme_info<MlxAffine<4, 64, MlxBackend::kMetal>>());
  CHECK(find_plane_scheme("mlx:q7:g64") == nullptr);
}

TEST_CASE("planes: identical bytes and floats on every SIMD target and thread count") {
  for (const PlaneSchemeInfo* s : plane_schemes()) {
    for (std::size_t cols : cols_of(*s)) {
      for (FloatType t : dtypes_of(*s)) {
        CAPTURE(s->name);
        CAPTURE(cols);
        CAPTURE(float_type_name(t));
        std::vector<float> x = edge_rows(cols, 3);
        if (t == FloatType::kF16) {
          for (auto& v : x) v = std::fmax(std::fmin(v, 6e4f), -6e4f);
        }
        QuantizedPlanes ref;
        std::vector<float> yref(x.size());
        {
          ScopedIsa scalar(Isa::kScalar);
          auto q = quantize_planes(*s, x, cols, PlaneOptions{t, 1});
          REQUIRE_MESSAGE(q, (q ? std::string() : q.error().message()));
          ref = std::move(*q);
          REQUIRE(dequantize_planes(ref, yref));
        }
        eqtest::for_each_isa([&](Isa) {
          for (unsigned threads : {1u, 3u}) {
            auto q = quantize_planes(*s, x, cols, PlaneOptions{t, threads});
            REQUIRE(q);
            for (std::size_t p = 0; p < kMaxPlanes; ++p) REQUIRE(q->data[p] == ref.data[p]);
          }
          std::vector<float> y(x.size());
          REQUIRE(dequantize_planes(ref, y, 2));
          REQUIRE(std::memcmp(y.data(), yref.data(), y.size() * 4) == 0);
        });
        // Raw rows hold the planes' row buffers side by side.
        std::vector<std::uint8_t> raw(x.size() / cols * raw_row_bytes(*s, cols, t));
        REQUIRE(quantize_raw(*s, x, cols, raw, PlaneOptions{t, 2}));
        const PlaneSpecs sp = ref.specs;
        std::size_t off = 0;
        for (std::size_t p = 0; p < kMaxPlanes; ++p) {
          if (!sp[p].row_bytes) continue;
          std::vector<std::uint8_t> elems;
          if (sp[p].flat) {
            elems.resize(ref.rows * sp[p].row_elems);
            unpack_bits(ref.data[p].data(), elems.size(), sp[p].elem_bits, elems.data());
          }
          const std::uint8_t* plane = sp[p].flat ? elems.data() : ref.data[p].data();
          for (std::size_t r = 0; r < ref.rows; ++r) {
            REQUIRE(std::memcmp(raw.data() + r * raw_row_bytes(*s, cols, t) + off,
                                plane + r * sp[p].row_bytes, sp[p].row_bytes) == 0);
          }
          off += sp[p].row_bytes;
        }
        std::vector<float> yraw(x.size());
        REQUIRE(dequantize_raw(*s, raw, cols, yraw, PlaneOptions{t, 1}));
        REQUIRE(std::memcmp(yraw.data(), yref.data(), yraw.size() * 4) == 0);
        // Loose sanity bound: never further than the row's largest magnitude
        // (catches sign, scale and layout mistakes), zero rows decode to 0.
        for (std::size_t r = 0; r < ref.rows; ++r) {
          float amax = 0;
          for (std::size_t i = 0; i < cols; ++i) amax = std::fmax(amax, std::fabs(x[r * cols + i]));
          for (std::size_t i = 0; i < cols; ++i) {
            const float a = x[r * cols + i], b = yref[r * cols + i];
            REQUIRE(std::isfinite(b));
            REQUIRE(std::fabs(a - b) <= 1.01f * amax + 1e-30f);
            if (amax == 0.0f) REQUIRE(b == 0.0f);
          }
        }
      }
    }
  }
}

TEST_CASE("planes: bad input is refused with a typed error naming the place") {
  for (const PlaneSchemeInfo* s : plane_schemes()) {
    CAPTURE(s->name);
    std::vector<float> x(2 * kCols, 1.0f);
    x[kCols + 5] = std::numeric_limits<float>::quiet_NaN();
    auto q = quantize_planes(*s, x, kCols);
    REQUIRE_FALSE(q);
    CHECK(q.error().code == Errc::kNonFinite);
    CHECK(q.error().offset == kCols + 5);
    CHECK(q.error().what.find("row 1, column 5") != std::string::npos);
    x[kCols + 5] = 1.0f;
    if (s->group > 1) {
      auto bad = quantize_planes(*s, std::span<const float>(x).first(s->group + 1), s->group + 1);
      REQUIRE_FALSE(bad);
      CHECK(bad.error().code == Errc::kBadArgument);
    }
    std::vector<float> odd(kCols + 1, 1.0f);
    auto q2 = quantize_planes(*s, odd, kCols);
    REQUIRE_FALSE(q2);
    CHECK(q2.error().code == Errc::kBadArgument);
    std::vector<std::uint8_t> raw(raw_row_bytes(*s, kCols, FloatType::kF32) + 1);
    std::vector<float> y(kCols);
    CHECK(dequantize_raw(*s, raw, kCols, y).error().code == Errc::kBadArgument);
  }
  // Inputs past f16 when the weight type is f16; scales overflowing f16.
  std::vector<float> big(64, 1.0f);
  big[40] = 1e6f;
  auto mf = quantize_planes<MlxAffine<4, 32>>(big, 64, PlaneOptions{FloatType::kF16, 1});
  REQUIRE_FALSE(mf);
  CHECK(mf.error().code == Errc::kOverflow);
  CHECK(mf.error().what.find("column 40") != std::string::npos);
  std::vector<float> huge(64, 1.0f);
  huge[3] = 3e9f;  // |max|/8 overflows the f16 scale NNCF stores
  auto nf = quantize_planes<NncfInt<4, true, 32>>(huge, 64);
  REQUIRE_FALSE(nf);
  CHECK(nf.error().code == Errc::kOverflow);
  CHECK(nf.error().what.find("row 0") != std::string::npos);
  auto bf = quantize_planes<OrtNBits<4, 32, true>>(huge, 64, PlaneOptions{FloatType::kBF16, 1});
  REQUIRE_FALSE(bf);
  CHECK(bf.error().code == Errc::kUnsupported);
  // Plane sizes are checked on dequantization.
  auto ok = quantize_planes<OrtNBits<4, 32, false>>(big, 64);
  REQUIRE(ok);
  ok->data[2].pop_back();
  std::vector<float> y(64);
  const auto st = dequantize_planes(*ok, y);
  REQUIRE_FALSE(st);
  CHECK(st.error().what.find("zero_points") != std::string::npos);
}

TEST_CASE("planes: the f16 rounding shortcut equals the f16 round trip for every float") {
  // Every 61st bit pattern (70 million floats): normal, subnormal, overflow, Inf.
  std::size_t bad = 0;
  for (std::uint64_t v = 0; v <= 0xffffffffull; v += 61) {
    const float x = f32_from_bits(static_cast<std::uint32_t>(v));
    if (std::isnan(x)) continue;
    bad += f32_bits(round_to_f16(x)) != f32_bits(f16_to_f32(f32_to_f16(x)));
  }
  for (float x : {65504.0f, 65519.99f, 65520.0f, 6.1035156e-05f, 6.1035153e-05f, 2.9802322e-08f,
                  2.9802326e-08f, -5.9604645e-08f, 1e-45f}) {
    bad += f32_bits(round_to_f16(x)) != f32_bits(f16_to_f32(f32_to_f16(x)));
  }
  CHECK(bad == 0);
  for (std::uint32_t b = 0; b < 256; ++b) {
    CHECK(eqtest::same_bits(e4m3fn_table()[b], e4m3fn_to_f32(static_cast<std::uint8_t>(b))));
  }
}
