// Every GGUF validation rule (specs/gguf.md §5 plus edgequant's limits) with a
// hand-made bad file: typed error, offset, field named, no crash or allocation.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_gguf_validation_test {

using namespace edgequant;
namespace gg = edgequant::gguf;
using eqtest::GgufBytes;

namespace {

constexpr std::uint64_t kAny = kNoOffset;

void expect_error(const GgufBytes& b, Errc code, std::uint64_t offset, std::string_view text,
                  gg::Limits limits = {}) {
  auto r = eqtest::parse(b.bytes(), limits);
  REQUIRE_FALSE(r);
  const Error& e = r.error();
  INFO(e.message());
  CHECK(errc_name(e.code) == errc_name(code));
  if (offset != kAny) CHECK(e.offset == offset);
  CHECK(e.file == "test.gguf");
  CHECK(e.what.find(text) != std::string::npos);
}

void expect_ok(const GgufBytes& b, gg::Limits limits = {}) {
  auto r = eqtest::parse(b.bytes(), limits);
  CHECK_MESSAGE(r, (r ? std::string() : r.error().message()));
}

// header(0 tensors, 1 KV) + key `k` of type `type`: the caller appends the value.
GgufBytes one_kv(std::uint32_t type, std::string_view key = "k") {
  GgufBytes b;
  b.header(0, 1).key(key, type);
  return b;
}

// One tensor `w` with the given dims/type/offset and enough zero data after it.
GgufBytes one_tensor(std::initializer_list<std::int64_t> ne, std::uint32_t type,
                     std::uint64_t offset = 0, std::size_t data = 64) {
  GgufBytes b;
  b.header(1, 0).tensor("w", ne, type, offset).pad(32).zeros(data);
  return b;
}

gg::Limits unlimited() {
  gg::Limits l;
  l.max_kv = l.max_tensors = l.max_string_bytes = l.max_array_elements = l.max_key_bytes =
      std::numeric_limits<std::uint64_t>::max();
  l.max_metadata_bytes = std::numeric_limits<std::uint64_t>::max();
  return l;
}

}  // namespace

TEST_CASE("gguf rule 01: the minimal hand-made file is valid (baseline for every rule)") {
  auto b = eqtest::minimal_gguf();
  CHECK(b.size() == 160);
  auto r = eqtest::parse(b.bytes());
  REQUIRE_MESSAGE(r, eqtest::why(r));
  CHECK(r->metadata_end() == 101);
  CHECK(r->data_offset() == 128);
  CHECK(r->tensors()[0].nbytes == 16);
}

TEST_CASE("gguf rule 02: magic must be GGUF") {
  GgufBytes b;
  b.raw("GGML").u32(3).i64(0).i64(0);
  expect_error(b, Errc::kBadMagic, 0, "magic");
  for (std::size_t n = 0; n < 4; ++n) {  // shorter than the magic
    GgufBytes s;
    s.raw(std::string_view("GGUF", n));
    expect_error(s, Errc::kBadMagic, 0, "");
  }
}

TEST_CASE("gguf rule 03: a header shorter than 24 bytes is truncated") {
  for (std::size_t n = 4; n < 24; ++n) {
    GgufBytes b = eqtest::minimal_gguf();
    b.bytes().resize(n);
    expect_error(b, Errc::kTruncated, 0, "header");
  }
}

TEST_CASE("gguf rule 04: big-endian files are detected and reported (version and magic)") {
  GgufBytes b;
  b.raw("GGUF").u32(0x03000000u).i64(0).i64(0);  // version 3 stored big-endian
  expect_error(b, Errc::kUnsupported, 4, "big-endian");
  GgufBytes c;
  c.raw("FUGG").u32(3).i64(0).i64(0);  // magic written as a big-endian uint32
  expect_error(c, Errc::kBadMagic, 0, "big-endian");
}

TEST_CASE("gguf rule 05: versions 0, 1 and > 3 are rejected; 2 is read (configurable)") {
  for (std::uint32_t v : {0u, 1u, 4u, 0xffffu}) {
    CAPTURE(v);
    GgufBytes b;
    b.header(0, 0, v);
    expect_error(b, v == 0 ? Errc::kInvalid : Errc::kUnsupported, 4, "version");
  }
  GgufBytes v1;
  v1.header(0, 0, 1);
  expect_error(v1, Errc::kUnsupported, 4, "GGUFv1");
  GgufBytes v2;
  v2.header(0, 0, 2);
  auto r = eqtest::parse(v2.bytes());
  REQUIRE(r);
  CHECK(r->version() == 2);
  gg::Limits strict;
  strict.accept_v2 = false;
  expect_error(v2, Errc::kUnsupported, 4, "GGUFv2", strict);
}

TEST_CASE("gguf rule 06: negative counts are invalid") {
  GgufBytes t;
  t.header(-1, 0);
  expect_error(t, Errc::kInvalid, 8, "n_tensors");
  GgufBytes k;
  k.header(0, std::numeric_limits<std::int64_t>::min());
  expect_error(k, Errc::kInvalid, 16, "n_kv");
}

TEST_CASE("gguf rule 07: counts above the configured limits") {
  gg::Limits l;
  l.max_tensors = 2;
  l.max_kv = 3;
  GgufBytes t;
  t.header(3, 0).zeros(200);
  expect_error(t, Errc::kLimit, 8, "n_tensors", l);
  GgufBytes k;
  k.header(0, 4).zeros(200);
  expect_error(k, Errc::kLimit, 16, "n_kv", l);
}

TEST_CASE("gguf rule 08: counts are bounded by the bytes present before anything is allocated") {
  // 2^40 records would need terabytes of index; the file has 24 bytes.
  GgufBytes k;
  k.header(0, std::int64_t{1} << 40);
  expect_error(k, Errc::kTruncated, 16, "n_kv", unlimited());
  GgufBytes t;
  t.header(std::numeric_limits<std::int64_t>::max(), 0);
  expect_error(t, Errc::kTruncated, 8, "n_tensors", unlimited());
  // Re-checked after the KVs consumed most of the file.
  GgufBytes t2;
  t2.header(3, 1).kv_str("k", std::string(100, 'x')).zeros(40);
  expect_error(t2, Errc::kTruncated, 8, "n_tensors");
}

TEST_CASE("gguf rule 09: a key running past the end of the file") {
  GgufBytes b;
  b.header(0, 1).u64(1000).raw("abcdefgh");
  expect_error(b, Errc::kTruncated, 24, "kv[0].key: length 1000 runs past the end");
  // Even the length is cut (after a first KV long enough for the count bound).
  GgufBytes c;
  c.header(0, 2).kv_str("a", std::string(30, 'x')).u32(5);
  expect_error(c, Errc::kTruncated, 75, "kv[1].key length");
}

TEST_CASE("gguf rule 10: key length limit (and a 2^64-1 length does not overflow)") {
  gg::Limits l;
  l.max_key_bytes = 8;
  GgufBytes b = one_kv(4, "a.long.key.name");
  b.u32(1);
  expect_error(b, Errc::kLimit, 24, "kv[0].key", l);
  GgufBytes c;
  c.header(0, 1).u64(std::numeric_limits<std::uint64_t>::max()).raw("k").zeros(8);
  expect_error(c, Errc::kLimit, 24, "kv[0].key");
  expect_error(c, Errc::kTruncated, 24, "kv[0].key", unlimited());
}

TEST_CASE("gguf rule 11: empty key") {
  GgufBytes b;
  b.header(0, 1).key("", 4).u32(1);
  expect_error(b, Errc::kInvalid, 24, "empty key");
}

TEST_CASE("gguf rule 12: duplicate key names both records") {
  GgufBytes b;
  b.header(0, 2).kv_u32("a", 1).kv_u32("a", 2);
  expect_error(b, Errc::kInvalid, 41, "duplicate key (first at offset 24)");
}

TEST_CASE("gguf rule 13: unknown value type id") {
  for (std::uint32_t t : {13u, 100u, 0xffffffffu}) {
    GgufBytes b = one_kv(t);
    b.u64(0);
    expect_error(b, Errc::kInvalid, 33, "unknown value type id");
  }
}

TEST_CASE("gguf rule 14: scalar value cut by the end of the file") {
  GgufBytes b = one_kv(10);  // u64, only 3 bytes follow
  b.raw("abc");
  expect_error(b, Errc::kTruncated, 37, "kv[0] 'k'");
}

TEST_CASE("gguf rule 15: string value length past the end, and above the limit") {
  GgufBytes b = one_kv(8);
  b.u64(50).raw("short");
  expect_error(b, Errc::kTruncated, 37, "runs past the end");
  gg::Limits l;
  l.max_string_bytes = 4;
  GgufBytes c = one_kv(8);
  c.str("hello");
  expect_error(c, Errc::kLimit, 37, "exceeds the limit", l);
}

TEST_CASE("gguf rule 16: unknown array element type") {
  GgufBytes b = one_kv(9);
  b.u32(13).u64(0);
  expect_error(b, Errc::kInvalid, 37, "unknown array element type");
}

TEST_CASE("gguf rule 17: array element count above the limit") {
  gg::Limits l;
  l.max_array_elements = 3;
  GgufBytes b = one_kv(9);
  b.u32(0).u64(4).raw("abcd");
  expect_error(b, Errc::kLimit, 41, "exceed the limit", l);
  // Default limit: ggml's GGUF_MAX_ARRAY_ELEMENTS = 2^30.
  GgufBytes c = one_kv(9);
  c.u32(0).u64((std::uint64_t{1} << 30) + 1);
  expect_error(c, Errc::kLimit, 41, "exceed the limit");
}

TEST_CASE("gguf rule 18: array elements beyond the file (count x size checked without overflow)") {
  GgufBytes b = one_kv(9);
  b.u32(4).u64(3).u32(1).u32(2);  // 3 u32 announced, 2 present
  expect_error(b, Errc::kTruncated, 41, "cannot fit", unlimited());
  // 2^61 u64 elements: count * 8 wraps to 0 in 64 bits.
  GgufBytes c = one_kv(9);
  c.u32(10).u64(std::uint64_t{1} << 61);
  expect_error(c, Errc::kTruncated, 41, "cannot fit", unlimited());
  // Strings need at least 8 bytes each: 2^40 strings are refused at once.
  GgufBytes d = one_kv(9);
  d.u32(8).u64(std::uint64_t{1} << 40).str("a");
  expect_error(d, Errc::kTruncated, 41, "cannot fit", unlimited());
  // A string element cut in the middle names its index.
  GgufBytes e = one_kv(9);
  e.u32(8).u64(2).str("a").u64(10).raw("xy");
  expect_error(e, Errc::kTruncated, 58, "kv[0] 'k'[1]");
}

TEST_CASE("gguf rule 19: array nesting depth (ggml mode: flat arrays only)") {
  GgufBytes b = one_kv(9);
  b.u32(9).u64(1).u32(4).u64(1).u32(7);  // [[7u32]]
  expect_ok(b);
  gg::Limits flat;
  flat.max_array_depth = 1;
  expect_error(b, Errc::kLimit, 37, "ggml reads flat arrays only", flat);
  // Even an empty array of arrays is refused in ggml mode.
  GgufBytes e = one_kv(9);
  e.u32(9).u64(0);
  expect_error(e, Errc::kLimit, 37, "nested", flat);
}

TEST_CASE("gguf rule 20: a nesting bomb stops at the depth limit, never the stack") {
  GgufBytes b = one_kv(9);
  for (int i = 0; i < 100000; ++i) b.u32(9).u64(1);
  b.u32(0).u64(0);
  expect_error(b, Errc::kLimit, kAny, "nested deeper than the limit of 4");
  gg::Limits huge;
  huge.max_array_depth = 1u << 30;  // capped internally at 64
  expect_error(b, Errc::kLimit, kAny, "limit of 64", huge);
}

TEST_CASE("gguf rule 21: metadata size limit") {
  gg::Limits l;
  l.max_metadata_bytes = 100;
  GgufBytes b;
  b.header(0, 2).kv_str("a", std::string(40, 'x')).kv_str("b", std::string(40, 'y'));
  expect_ok(b);
  expect_error(b, Errc::kLimit, 85, "metadata exceeds the limit of 100", l);
}

TEST_CASE("gguf rule 22: general.alignment must be u32") {
  GgufBytes b;
  b.header(0, 1).key("general.alignment", 10).u64(32);
  expect_error(b, Errc::kTypeMismatch, 53, "must be u32");
}

TEST_CASE("gguf rule 23: general.alignment must be a non-zero power of two") {
  for (std::uint32_t a : {0u, 3u, 48u, 0x80000001u}) {
    GgufBytes b;
    b.header(0, 1).kv_u32("general.alignment", a);
    expect_error(b, Errc::kInvalid, 53, "not a power of two");
  }
  GgufBytes ok;
  ok.header(1, 1).kv_u32("general.alignment", 64).tensor("w", {4}, 0, 0).pad(64).zeros(64);
  auto r = eqtest::parse(ok.bytes());
  REQUIRE(r);
  CHECK(r->alignment() == 64);
  CHECK(r->data_offset() == 128);
}

TEST_CASE("gguf rule 24: general.alignment above the limit") {
  GgufBytes b;
  b.header(0, 1).kv_u32("general.alignment", 1u << 30);
  expect_error(b, Errc::kLimit, 53, "exceeds the limit");
}

TEST_CASE("gguf rule 25: tensor name longer than 63 bytes (GGML_MAX_NAME)") {
  GgufBytes ok;
  ok.header(1, 0).tensor(std::string(63, 'n'), {4}, 0, 0).pad(32).zeros(32);
  expect_ok(ok);
  GgufBytes b;
  b.header(1, 0).tensor(std::string(64, 'n'), {4}, 0, 0).pad(32).zeros(32);
  expect_error(b, Errc::kInvalid, 24, "name is 64 bytes");
}

TEST_CASE("gguf rule 26: duplicate tensor name") {
  GgufBytes b;
  b.header(2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad(32).zeros(64);
  expect_error(b, Errc::kInvalid, 57, "duplicate tensor name (first at offset 24)");
}

TEST_CASE("gguf rule 27: more than 4 dimensions") {
  GgufBytes b;
  b.header(1, 0).str("w").u32(5);
  for (int i = 0; i < 5; ++i) b.i64(1);
  b.u32(0).u64(0).pad(32).zeros(32);
  expect_error(b, Errc::kInvalid, 33, "n_dims: 5 exceeds 4");
}

TEST_CASE("gguf rule 28: every dimension must be positive") {
  expect_error(one_tensor({4, 0}, 0), Errc::kInvalid, 45, "ne[1]: dimension 0");
  expect_error(one_tensor({-4}, 0), Errc::kInvalid, 37, "ne[0]: dimension -4");
  expect_error(one_tensor({4, 1, 1, std::numeric_limits<std::int64_t>::min()}, 0), Errc::kInvalid,
               61, "ne[3]");
}

TEST_CASE("gguf rule 29: element count overflowing int64") {
  expect_error(one_tensor({std::int64_t{1} << 32, std::int64_t{1} << 32}, 0), Errc::kOverflow, 24,
               "element count overflows");
  // 2^62 * 2 = 2^63 > INT64_MAX although it fits uint64.
  expect_error(one_tensor({std::int64_t{1} << 62, 2}, 24), Errc::kOverflow, 24,
               "element count overflows");
}

TEST_CASE("gguf rule 30: unknown ggml type id") {
  expect_error(one_tensor({4}, 43), Errc::kUnsupported, 45, "unknown ggml type id 43");
  expect_error(one_tensor({4}, 0xffffffffu), Errc::kUnsupported, 45, "unknown ggml type id -1");
}

TEST_CASE("gguf rule 31: removed ggml type ids (block size 0)") {
  for (std::uint32_t t : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) {
    CAPTURE(t);
    expect_error(one_tensor({32}, t), Errc::kInvalid, 45, "removed");
  }
}

TEST_CASE("gguf rule 32: row length not a multiple of the block size") {
  expect_error(one_tensor({48, 2}, 2), Errc::kInvalid, 24,
               "not a multiple of the q4_0 block size 32");
  expect_error(one_tensor({512 + 128}, 12), Errc::kInvalid, 24, "q4_K block size 256");
}

TEST_CASE("gguf rule 33: byte size overflowing 64 bits") {
  // 2^62 i64 elements: the count fits int64, the 2^65 bytes do not.
  expect_error(one_tensor({std::int64_t{1} << 62}, 27), Errc::kOverflow, 24, "byte size overflows");
}

TEST_CASE("gguf rule 34: tensor offset must be a multiple of the alignment") {
  expect_error(one_tensor({4}, 0, 16), Errc::kInvalid, 49, "not a multiple of the alignment 32");
}

TEST_CASE("gguf rule 35: tensors must be back to back in info order (ggml's rule)") {
  GgufBytes gap;
  gap.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 64).pad(32).zeros(128);
  expect_error(gap, Errc::kInvalid, 82, "offset: 64, expected 32");
  GgufBytes swapped;
  swapped.header(2, 0).tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 0).pad(32).zeros(64);
  expect_error(swapped, Errc::kInvalid, 49, "offset: 32, expected 0");
  GgufBytes shared;
  shared.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 0).pad(32).zeros(64);
  expect_error(shared, Errc::kInvalid, 82, "offset: 0, expected 32");
}

TEST_CASE("gguf rule 36: with require_contiguous off: any aligned layout, but no overlap") {
  gg::Limits loose;
  loose.require_contiguous = false;
  GgufBytes gap;
  gap.header(2, 0).tensor("a", {8}, 0, 64).tensor("b", {8}, 0, 0).pad(32).zeros(128);
  expect_ok(gap, loose);
  GgufBytes overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad(32).zeros(128);
  expect_error(overlap, Errc::kInvalid, 57, "overlaps tensor 'a'", loose);
  GgufBytes same;
  same.header(2, 0).tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 32).pad(32).zeros(128);
  expect_error(same, Errc::kInvalid, kAny, "overlaps", loose);
}

TEST_CASE("gguf rule 37: tensor data past the end of the file") {
  GgufBytes b;
  b.header(1, 0).tensor("w", {64}, 0, 0).pad(32).zeros(255);  // 256 needed
  expect_error(b, Errc::kTruncated, 49, "runs past the end of the data section (255 bytes)");
  // An offset near 2^64 does not wrap around the range check.
  gg::Limits loose;
  loose.require_contiguous = false;
  expect_error(one_tensor({8}, 0, std::numeric_limits<std::uint64_t>::max() - 31), Errc::kTruncated,
               49, "runs past the end", loose);
}

TEST_CASE("gguf rule 38: data section starting beyond the end of the file") {
  GgufBytes b;
  b.header(1, 0).tensor("w", {4}, 0, 0);  // 57 bytes; data would start at 64
  expect_error(b, Errc::kTruncated, 57, "data section: starts at 64");
  // With no tensors, the padding may be missing (ggml does not seek then).
  GgufBytes m;
  m.header(0, 1).kv_u32("a", 1);
  expect_ok(m);
}

TEST_CASE("gguf rule 39: a tensor info cut in any field names that field and its offset") {
  // One tensor with a 40-byte name and 2 dims: its info (24..104) is longer
  // than the 24-byte minimum, so the count bound passes and each field's own
  // check fires: name length 24, name 32, n_dims 72, ne[0] 76, ne[1] 84,
  // type 92, offset 96.
  GgufBytes full;
  full.header(1, 0).tensor(std::string(40, 'n'), {4, 2}, 0, 0).pad(32).zeros(32);
  expect_ok(full);
  const std::string t = "tensor[0] '" + std::string(40, 'n') + "'";
  const struct {
    std::size_t cut;
    std::uint64_t offset;
    std::string field;
  } cuts[] = {{60, 32, "tensor[0].name: length 40 runs past"},
              {74, 72, t + ".n_dims"},
              {80, 76, t + ".ne[0]"},
              {90, 84, t + ".ne[1]"},
              {94, 92, t + ".type"},
              {100, 96, t + ".offset"}};
  for (const auto& c : cuts) {
    CAPTURE(c.field);
    GgufBytes b = full;
    b.bytes().resize(c.cut);
    expect_error(b, Errc::kTruncated, c.field == cuts[0].field ? 24 : c.offset, c.field);
  }
}

TEST_CASE(
    "gguf rule 40: every prefix of a valid file cut inside its data is rejected with a typed "
    "error") {
  std::vector<std::vector<std::byte>> files = {eqtest::minimal_gguf().bytes()};
  if (auto p = eqtest::golden_file("small_all_kv.gguf"))
    files.push_back(eqtest::as_bytes(eqtest::read_file(*p)));
  for (const auto& full : files) {
    // Readers accept a file whose last padding is missing (llama.cpp checks
    // only offset + size per tensor): every prefix up to the end of the last
    // tensor's bytes is rejected, the longer ones read.
    auto whole = eqtest::parse(full);
    REQUIRE(whole);
    const auto& last = whole->tensors().back();
    const std::size_t end =
        static_cast<std::size_t>(whole->data_offset() + last.offset + last.nbytes);
    CHECK(end < full.size());
    for (std::size_t n = end; n < full.size(); ++n) {
      std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK(eqtest::parse(cut));
    }
    for (std::size_t n = 0; n < end; ++n) {
      std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      auto r = eqtest::parse(cut);
      if (r) {
        FAIL_CHECK("prefix of " << n << " bytes accepted");
        continue;
      }
      const auto c = r.error().code;
      CHECK((c == Errc::kTruncated || c == Errc::kBadMagic));
      CHECK((r.error().offset == kNoOffset || r.error().offset <= n));
    }
  }
}

}  // namespace eqtest_formats_gguf_validation_test
