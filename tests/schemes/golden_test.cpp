// Conformance against ../shared/golden (made by ggml itself): byte equality of
// quantized rows with and without importance, bit equality of dequantized
// floats, on every runnable SIMD target.
#include <doctest/doctest.h>

#include <cctype>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "edgequant/quantize.hpp"
#include "test_util.hpp"

using namespace edgequant;

namespace {

constexpr std::size_t kRows = 64, kCols = 4096;

std::string upper(std::string_view s) {
  std::string u(s);
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

struct Golden {
  std::vector<float> input, imatrix;
};

const Golden* golden_inputs() {
  static const Golden g = [] {
    Golden r;
    if (auto p = eqtest::golden_file("input.f32")) r.input = eqtest::read_file<float>(*p);
    if (auto p = eqtest::golden_file("imatrix.f32")) r.imatrix = eqtest::read_file<float>(*p);
    return r;
  }();
  return g.input.size() == kRows * kCols && g.imatrix.size() == kCols ? &g : nullptr;
}

// Counts the rows equal to the golden file; reports the first differing row.
template <class S>
std::size_t matching_rows(const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& want) {
  const std::size_t row_bytes = kCols / S::block_elems * S::block_bytes;
  std::size_t ok = 0;
  for (std::size_t r = 0; r < kRows; ++r) {
    if (std::memcmp(got.data() + r * row_bytes, want.data() + r * row_bytes, row_bytes) == 0) {
      ++ok;
    } else if (ok == r) {
      MESSAGE("first differing row: " << r);
    }
  }
  return ok;
}

template <class S>
void check_quantize_golden(bool with_imatrix) {
  const Golden* g = golden_inputs();
  if (!g) return;
  const std::string name = upper(S::name) + (with_imatrix ? ".imat.q" : ".q");
  auto path = eqtest::golden_file(name);
  if (!path) return;
  const auto want = eqtest::read_file(*path);
  const std::size_t row_bytes = kCols / S::block_elems * S::block_bytes;
  REQUIRE(want.size() == kRows * row_bytes);
  eqtest::for_each_isa([&](Isa) {
    std::vector<typename S::Block> out(kRows * kCols / S::block_elems);
    QuantizeOptions opt;
    if (with_imatrix) opt.importance = g->imatrix;
    REQUIRE(quantize<S>(g->input, kCols, out, opt));
    std::vector<std::uint8_t> got(want.size());
    std::memcpy(got.data(), out.data(), got.size());
    const std::size_t ok = matching_rows<S>(got, want);
    MESSAGE(name << ": " << ok << "/" << kRows << " rows byte-exact");
    CHECK(ok == kRows);
  });
}

template <class S>
void check_dequantize_golden() {
  const bool needs_imat = ggml_type_info(S::ggml_type).requires_imatrix;
  auto qpath = eqtest::golden_file(upper(S::name) + (needs_imat ? ".imat.q" : ".q"));
  auto dpath = eqtest::golden_file(upper(S::name) + ".deq.f32");
  if (!qpath || !dpath) return;
  const auto q = eqtest::read_file(*qpath);
  const auto want = eqtest::read_file<float>(*dpath);
  REQUIRE(want.size() == 4 * kCols);
  const std::size_t row_bytes = kCols / S::block_elems * S::block_bytes;
  std::vector<typename S::Block> blocks(4 * kCols / S::block_elems);
  std::memcpy(blocks.data(), q.data(), 4 * row_bytes);
  eqtest::for_each_isa([&](Isa) {
    std::vector<float> got(4 * kCols);
    REQUIRE(dequantize<S>(blocks, kCols, got));
    std::size_t same = 0;
    for (std::size_t i = 0; i < got.size(); ++i) same += eqtest::same_bits(got[i], want[i]);
    CHECK(same == got.size());
  });
}

}  // namespace

TEST_CASE_TEMPLATE_DEFINE("golden: quantize without importance", S, golden_plain) {
  if constexpr (S::ggml_type != GgmlType::kF32) {
    if (!ggml_type_info(S::ggml_type).requires_imatrix) check_quantize_golden<S>(false);
  }
}
TEST_CASE_TEMPLATE_DEFINE("golden: quantize with importance", S, golden_imat) {
  if constexpr (S::ggml_type != GgmlType::kF32) check_quantize_golden<S>(true);
}
TEST_CASE_TEMPLATE_DEFINE("golden: dequantize", S, golden_deq) {
  if constexpr (S::ggml_type != GgmlType::kF32) check_dequantize_golden<S>();
}
TEST_CASE_TEMPLATE_APPLY(golden_plain, GgmlSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(golden_imat, GgmlSchemes::tuple);
TEST_CASE_TEMPLATE_APPLY(golden_deq, GgmlSchemes::tuple);

TEST_CASE("golden: F32 'quantization' is a copy") {
  const Golden* g = golden_inputs();
  if (!g) return;
  std::vector<F32::Block> out(g->input.size());
  REQUIRE(quantize<F32>(g->input, kCols, out));
  CHECK(std::memcmp(out.data(), g->input.data(), g->input.size() * 4) == 0);
}
