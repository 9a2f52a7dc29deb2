// TensorView and BlockView: shapes, strides, slices, checked construction.
#include <doctest/doctest.h>

#include <cstddef>
#include <numeric>
#include <span>
#include <vector>

#include "edgequant/core/tensor_view.hpp"
#include "edgequant/schemes/q4_0.hpp"

using namespace edgequant;

TEST_CASE("TensorView indexes, slices and transposes without copying") {
  std::vector<float> v(2 * 3 * 4);
  std::iota(v.begin(), v.end(), 0.f);
  TensorView<float, 3> t(v.data(), {2, 3, 4});
  CHECK(t.numel() == 24);
  CHECK(t.is_contiguous());
  CHECK(t(1, 2, 3) == 23.f);
  CHECK(t(0, 1, 0) == 4.f);
  auto m = t[1];  // (3, 4)
  CHECK(m(0, 0) == 12.f);
  CHECK(m.row(2)[1] == 21.f);
  auto s = t.slice(2, 1, 3);  // (2, 3, 2)
  CHECK(s.size(2) == 2);
  CHECK(s(1, 0, 0) == 13.f);
  CHECK_FALSE(s.is_contiguous());
  auto tr = m.transposed();  // (4, 3)
  CHECK(tr.size(0) == 4);
  CHECK(tr(3, 2) == m(2, 3));
  TensorView<const float, 3> c = t;
  CHECK(c(0, 0, 1) == 1.f);
  m(0, 0) = -1.f;
  CHECK(v[12] == -1.f);
}

TEST_CASE("TensorView::over_bytes checks size and alignment") {
  alignas(4) std::byte buf[64] = {};
  auto ok = TensorView<const float, 2>::over_bytes(std::span<const std::byte>(buf, 64), {4, 4});
  REQUIRE(ok);
  CHECK(ok->numel() == 16);
  auto short_range = TensorView<const float, 2>::over_bytes(std::span<const std::byte>(buf, 60), {4, 4});
  REQUIRE_FALSE(short_range);
  CHECK(short_range.error().code == Errc::kTruncated);
  auto unaligned = TensorView<const float, 1>::over_bytes(std::span<const std::byte>(buf + 1, 32), {4});
  REQUIRE_FALSE(unaligned);
  auto huge = TensorView<const float, 2>::over_bytes(std::span<const std::byte>(buf, 64),
                                                     {std::size_t{1} << 62, 8});
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code == Errc::kOverflow);
}

TEST_CASE("BlockView views rows of quantized blocks") {
  std::vector<std::byte> bytes(3 * 2 * sizeof(Q4_0::Block));
  auto v = BlockView<Q4_0>::over_bytes(bytes, 3, 64);
  REQUIRE(v);
  CHECK(v->blocks_per_row() == 2);
  CHECK(v->row_bytes() == 36);
  CHECK(v->row(2).data() == reinterpret_cast<const Q4_0::Block*>(bytes.data()) + 4);
  CHECK(v->rows_slice(1, 3).rows() == 2);
  auto bad_cols = BlockView<Q4_0>::over_bytes(bytes, 3, 48);
  REQUIRE_FALSE(bad_cols);
  CHECK(bad_cols.error().what.find("not a multiple of the block size 32") != std::string::npos);
  auto too_many = BlockView<Q4_0>::over_bytes(bytes, 4, 64);
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().code == Errc::kTruncated);
}
