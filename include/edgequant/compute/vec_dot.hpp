// Dot products of quantized weight rows with quantized activation rows (ggml's vec_dot),
// dispatched to the best SIMD target: the building block of GEMV/GEMM (compute/gemv.hpp).
#pragma once

#include <array>
#include <cstddef>

#include "edgequant/compute/vec_dot_ref.hpp"
#include "edgequant/kernels.hpp"

#if EDGEQUANT_KERNELS_ONCE
namespace edgequant {
namespace detail {

using VecDotTable = std::array<VecDotFn, kIsaCount>;

#if EDGEQUANT_KERNELS_COMPILED
template <class S>
const VecDotTable& compiled_vec_dot_table() {
  static const VecDotTable table = [] {
    std::array<VecDotFn, kIsaCount> t{};
    t.fill(&vec_dot_ref_erased<S>);
    using Getter = VecDotFn (*)();
    auto fill = [&](Isa isa, Getter get) {
      if (get == nullptr) return;
      if (const VecDotFn f = get()) t[static_cast<std::size_t>(isa)] = f;
    };
#define EDGEQUANT_FILL_(isa, ptr) fill(isa, ptr);
    EDGEQUANT_FOR_EACH_TARGET(EDGEQUANT_FILL_, dot_kernel<S>)
#undef EDGEQUANT_FILL_
    return t;
  }();
  return table;
}
#endif

#if EDGEQUANT_SEPARATE_KERNELS_
// The dots of the ggml weight types are in the kernel parts.
EDGEQUANT_DECLARE_KERNEL_PARTS_(const VecDotTable&, separate_vec_dot_)
#if defined(EDGEQUANT_KERNELS_PART)
const VecDotTable& EDGEQUANT_KERNEL_PART_NAME_(separate_vec_dot_)(std::size_t index) {
  return separate_part_table<GgmlSchemes, VecDotTable, EDGEQUANT_KERNELS_PART>(
      index, []<class S>() -> const VecDotTable& { return compiled_vec_dot_table<S>(); });
}
#endif
#endif

template <class S>
const VecDotTable& vec_dot_table() {
#if EDGEQUANT_SEPARATE_KERNELS_
  constexpr std::size_t i = GgmlSchemes::index_of<S>;
  static_assert(i < GgmlSchemes::size,
                "EDGEQUANT_SEPARATE_KERNELS: the kernel parts hold the dots of ggml schemes only");
  EDGEQUANT_DISPATCH_KERNEL_PARTS_(separate_vec_dot_, i);
#else
  return compiled_vec_dot_table<S>();
#endif
}

}  // namespace detail

// Dot product of scheme S on `isa` (default: the active target). Same value
// on every target up to float rounding (docs/compute.md gives the bounds).
template <class S>
VecDotFn vec_dot_kernel(Isa isa) noexcept {
  return detail::vec_dot_table<S>()[static_cast<std::size_t>(isa)];
}
template <class S>
VecDotFn vec_dot_kernel() noexcept {
  return vec_dot_kernel<S>(active_isa());
}

// Σ x·y over n elements (a multiple of S::block_elems): x holds n/S::block_elems
// weight blocks, y the same row quantized to DotActivation<S>.
template <class S>
float vec_dot(std::size_t n, const typename S::Block* x,
              const typename DotActivation<S>::Block* y) noexcept {
  return vec_dot_kernel<S>()(n, x, y);
}

// Quantizes n activations (finite floats) to S's companion type on the active
// target: ggml's from_float for Q8_0/Q8_1/Q8_K, the plain conversion for
// F32/F16/BF16.
template <class S>
void quantize_dot_activation(const float* x, typename DotActivation<S>::Block* y,
                             std::size_t n) noexcept {
  using A = DotActivation<S>;
  if constexpr (HasActivation<A>) {
    row_kernels_for<A>().activation(x, y, n);
  } else {
    row_kernels_for<A>().quantize(x, y, n, nullptr);
  }
}

// Type-erased: the dot of a ggml weight type on `isa`; null for types
// without one (activation-only and integer types).
inline VecDotFn ggml_vec_dot(GgmlType type, Isa isa) noexcept {
  static const std::array<std::array<VecDotFn, kIsaCount>, kGgmlTypeCount> table = [] {
    std::array<std::array<VecDotFn, kIsaCount>, kGgmlTypeCount> t{};
    GgmlSchemes::for_each(
        [&]<class S>() { t[static_cast<std::size_t>(S::ggml_type)] = detail::vec_dot_table<S>(); });
    return t;
  }();
  if (static_cast<std::uint32_t>(type) >= kGgmlTypeCount) return nullptr;
  return table[static_cast<std::size_t>(type)][static_cast<std::size_t>(isa)];
}
inline VecDotFn ggml_vec_dot(GgmlType type) noexcept { return ggml_vec_dot(type, active_isa()); }

}  // namespace edgequant
#endif  // EDGEQUANT_KERNELS_ONCE
