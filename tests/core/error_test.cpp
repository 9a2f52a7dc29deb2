// Expected<T>/Error behaviour and the checked-arithmetic helpers.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"

using namespace edgequant;

namespace {
Expected<int> parse_positive(int v) {
  if (v <= 0) return make_error(Errc::kInvalid, "not positive", 12, "x.bin");
  return v;
}
Expected<int> twice(int v) {
  auto p = parse_positive(v);
  if (!p) return std::move(p).error();
  return *p * 2;
}
Status chained(int v) {
  EDGEQUANT_TRY(parse_positive(v));
  return {};
}
}  // namespace

TEST_CASE("Expected carries a value or an Error naming file, offset and reason") {
  auto ok = twice(4);
  REQUIRE(ok);
  CHECK(*ok == 8);
  auto bad = twice(-1);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::kInvalid);
  CHECK(bad.error().message() == "x.bin: offset 12: not positive");
  CHECK(errc_name(bad.error().code) == "invalid");
  CHECK_FALSE(chained(-3));
  CHECK(chained(3));
  CHECK(bad.value_or(7) == 7);
}

TEST_CASE("Expected handles move-only and non-trivial payloads") {
  Expected<std::unique_ptr<int>> p = std::make_unique<int>(5);
  REQUIRE(p);
  auto moved = std::move(p);
  CHECK(**moved == 5);
  Expected<std::vector<std::string>> v = std::vector<std::string>{"a", "b"};
  Expected<std::vector<std::string>> w = v;
  CHECK(w->size() == 2);
  w = make_error(Errc::kIo, "gone");
  CHECK_FALSE(w);
  CHECK(w.error().message() == "gone");
  Error e = make_error(Errc::kTruncated, "short");
  Error named = std::move(e).in_file("model.gguf");
  CHECK(named.message() == "model.gguf: short");
}

TEST_CASE("checked arithmetic detects overflow") {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  CHECK(checked_add<std::uint64_t>(kMax, 0) == kMax);
  CHECK_FALSE(checked_add<std::uint64_t>(kMax, 1));
  CHECK_FALSE(checked_mul<std::uint64_t>(std::uint64_t{1} << 32, std::uint64_t{1} << 32));
  CHECK(checked_mul<std::uint64_t>(std::uint64_t{1} << 31, std::uint64_t{1} << 32) ==
        std::uint64_t{1} << 63);
  const std::uint64_t dims[] = {1u << 20, 1u << 20, 1u << 20, 1u << 5};
  CHECK_FALSE(checked_product<std::uint64_t>(dims));
  const std::uint64_t ok_dims[] = {4096, 4096, 2};
  CHECK(checked_product<std::uint64_t>(ok_dims) == 4096ull * 4096 * 2);
  CHECK(range_within(10, 5, 15));
  CHECK_FALSE(range_within(10, 6, 15));
  CHECK_FALSE(range_within(16, 0, 15));
  CHECK_FALSE(range_within(1, kMax, 15));  // len + offset would wrap
  CHECK(is_power_of_two(32));
  CHECK_FALSE(is_power_of_two(0));
  CHECK_FALSE(is_power_of_two(48));
  CHECK(align_up(33, 32) == 64);
}
