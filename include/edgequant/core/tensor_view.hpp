// Non-owning tensor views: TensorView<T, Rank> (strided elements) and
// BlockView<S> (rows of quantized blocks of scheme S). Trivially copyable.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"

namespace edgequant {

// Shape and strides are in elements; dimension 0 is the outermost (slowest),
// dimension Rank-1 the innermost, as in numpy/safetensors (GGUF's ne[] is the
// reverse: ne[0] is the row length).
template <class T, std::size_t Rank>
class TensorView {
  static_assert(Rank >= 1, "a tensor view has at least one dimension");

 public:
  using element_type = T;
  using Shape = std::array<std::size_t, Rank>;
  static constexpr std::size_t rank = Rank;

  constexpr TensorView() = default;
  // Contiguous, row-major.
  constexpr TensorView(T* data, Shape shape) noexcept : data_(data), shape_(shape) {
    std::size_t s = 1;
    for (std::size_t i = Rank; i-- > 0;) {
      stride_[i] = s;
      s *= shape_[i];
    }
  }
  constexpr TensorView(T* data, Shape shape, Shape stride) noexcept
      : data_(data), shape_(shape), stride_(stride) {}

  // Checked construction over a byte range (e.g. a mapped file): the range
  // must hold the whole contiguous tensor and be suitably aligned.
  static Expected<TensorView> over_bytes(std::span<std::conditional_t<std::is_const_v<T>,
                                                                      const std::byte, std::byte>>
                                             bytes,
                                         Shape shape) {
    auto n = checked_product<std::uint64_t>(shape);
    if (!n) return make_error(Errc::kOverflow, "tensor element count overflows");
    auto nbytes = checked_mul<std::uint64_t>(*n, sizeof(T));
    if (!nbytes || *nbytes > bytes.size()) {
      return make_error(Errc::kTruncated, "tensor needs " + std::to_string(nbytes.value_or(0)) +
                                              " bytes, range has " +
                                              std::to_string(bytes.size()));
    }
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(T) != 0) {
      return make_error(Errc::kInvalid, "tensor data is not aligned for its element type");
    }
    return TensorView(reinterpret_cast<T*>(bytes.data()), shape);
  }

  constexpr T* data() const noexcept { return data_; }
  constexpr const Shape& shape() const noexcept { return shape_; }
  constexpr const Shape& strides() const noexcept { return stride_; }
  constexpr std::size_t size(std::size_t dim) const noexcept { return shape_[dim]; }
  constexpr std::size_t stride(std::size_t dim) const noexcept { return stride_[dim]; }
  constexpr std::size_t numel() const noexcept {
    std::size_t n = 1;
    for (auto s : shape_) n *= s;
    return n;
  }
  constexpr bool is_contiguous() const noexcept {
    std::size_t s = 1;
    for (std::size_t i = Rank; i-- > 0;) {
      if (shape_[i] != 1 && stride_[i] != s) return false;
      s *= shape_[i];
    }
    return true;
  }

  // Element access. Precondition: every index < its dimension.
  template <class... I>
  constexpr T& operator()(I... idx) const noexcept {
    static_assert(sizeof...(I) == Rank);
    const std::size_t ix[] = {static_cast<std::size_t>(idx)...};
    std::size_t off = 0;
    for (std::size_t d = 0; d < Rank; ++d) {
      EDGEQUANT_ASSERT(ix[d] < shape_[d]);
      off += ix[d] * stride_[d];
    }
    return data_[off];
  }

  // The i-th slice along dimension 0. Precondition: i < size(0).
  constexpr auto operator[](std::size_t i) const noexcept {
    EDGEQUANT_ASSERT(i < shape_[0]);
    if constexpr (Rank == 1) {
      return data_[i * stride_[0]];
    } else {
      std::array<std::size_t, Rank - 1> sh{}, st{};
      for (std::size_t d = 1; d < Rank; ++d) {
        sh[d - 1] = shape_[d];
        st[d - 1] = stride_[d];
      }
      return TensorView<T, Rank - 1>(data_ + i * stride_[0], sh, st);
    }
  }

  // Row `i` of the innermost dimension as a span (Rank 2, unit inner stride).
  constexpr std::span<T> row(std::size_t i) const noexcept requires(Rank == 2) {
    EDGEQUANT_ASSERT(i < shape_[0] && (stride_[1] == 1 || shape_[1] <= 1));
    return {data_ + i * stride_[0], shape_[1]};
  }

  // [begin, end) along `dim`. Precondition: begin <= end <= size(dim).
  constexpr TensorView slice(std::size_t dim, std::size_t begin, std::size_t end) const noexcept {
    EDGEQUANT_ASSERT(dim < Rank && begin <= end && end <= shape_[dim]);
    Shape sh = shape_;
    sh[dim] = end - begin;
    return TensorView(data_ + begin * stride_[dim], sh, stride_);
  }

  // Swaps two dimensions (no copy).
  constexpr TensorView transposed(std::size_t a = 0, std::size_t b = Rank - 1) const noexcept {
    Shape sh = shape_, st = stride_;
    std::swap(sh[a], sh[b]);
    std::swap(st[a], st[b]);
    return TensorView(data_, sh, st);
  }

  constexpr operator TensorView<const T, Rank>() const noexcept requires(!std::is_const_v<T>) {
    return TensorView<const T, Rank>(data_, shape_, stride_);
  }

 private:
  T* data_ = nullptr;
  Shape shape_{};
  Shape stride_{};
};

// Rows of quantized blocks: `rows` rows of `cols` elements each, every row
// `cols / S::block_elems` blocks, consecutive rows `row_stride` blocks apart.
template <class S>
class BlockView {
 public:
  using Block = typename S::Block;

  constexpr BlockView() = default;
  constexpr BlockView(const Block* data, std::size_t rows, std::size_t cols,
                      std::size_t row_stride_blocks) noexcept
      : data_(data), rows_(rows), cols_(cols), stride_(row_stride_blocks) {}

  // Checked construction over raw bytes (GGUF tensor data, a .bin file).
  static Expected<BlockView> over_bytes(std::span<const std::byte> bytes, std::size_t rows,
                                        std::size_t cols) {
    if (cols % S::block_elems != 0) {
      return make_error(Errc::kInvalid, "row length " + std::to_string(cols) +
                                            " is not a multiple of the block size " +
                                            std::to_string(S::block_elems) + " of " +
                                            std::string(S::name));
    }
    const std::size_t nb = cols / S::block_elems;
    auto blocks = checked_mul<std::uint64_t>(nb, rows);
    auto need = blocks ? checked_mul<std::uint64_t>(*blocks, sizeof(Block)) : std::nullopt;
    if (!need) return make_error(Errc::kOverflow, "quantized tensor size overflows");
    if (*need > bytes.size()) {
      return make_error(Errc::kTruncated, "quantized tensor needs " + std::to_string(*need) +
                                              " bytes, range has " +
                                              std::to_string(bytes.size()));
    }
    static_assert(alignof(Block) <= 4);
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(Block) != 0) {
      return make_error(Errc::kInvalid, "quantized data is not aligned for its block type");
    }
    return BlockView(reinterpret_cast<const Block*>(bytes.data()), rows, cols, nb);
  }

  constexpr std::size_t rows() const noexcept { return rows_; }
  constexpr std::size_t cols() const noexcept { return cols_; }  // (rows, cols)
  constexpr std::size_t blocks_per_row() const noexcept { return cols_ / S::block_elems; }
  constexpr std::size_t row_bytes() const noexcept { return blocks_per_row() * sizeof(Block); }
  constexpr const Block* data() const noexcept { return data_; }

  // (cols / S::block_elems) blocks of row i. Precondition: i < rows().
  constexpr std::span<const Block> row(std::size_t i) const noexcept {
    EDGEQUANT_ASSERT(i < rows_);
    return {data_ + i * stride_, blocks_per_row()};
  }
  constexpr BlockView rows_slice(std::size_t begin, std::size_t end) const noexcept {
    EDGEQUANT_ASSERT(begin <= end && end <= rows_);
    return BlockView(data_ + begin * stride_, end - begin, cols_, stride_);
  }

 private:
  const Block* data_ = nullptr;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t stride_ = 0;
};

}  // namespace edgequant
