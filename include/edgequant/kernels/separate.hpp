// Separately compiled kernels (EDGEQUANT_SEPARATE_KERNELS; docs/separate_kernels.md):
// what every translation unit and the four kernel parts (kernels_part.hpp) agree on.
// The public inline functions read the same in every translation unit of such a
// program; only the parts compile the per-target code and the tables.
#pragma once

#include <array>
#include <cstddef>

#include "edgequant/kernels/isa.hpp"

#if defined(EDGEQUANT_SEPARATE_KERNELS)
#define EDGEQUANT_SEPARATE_KERNELS_ 1
#else
#define EDGEQUANT_SEPARATE_KERNELS_ 0
#endif

#if defined(EDGEQUANT_KERNELS_PART)
#if !EDGEQUANT_SEPARATE_KERNELS_
#error "EDGEQUANT_KERNELS_PART needs EDGEQUANT_SEPARATE_KERNELS (in every translation unit)"
#endif
#if EDGEQUANT_KERNELS_PART < 0 || EDGEQUANT_KERNELS_PART > 3
#error "EDGEQUANT_KERNELS_PART must be 0, 1, 2 or 3"
#endif
#endif

// Whether this translation unit compiles the per-target kernels: always in a
// header-only program, else only in the kernel parts.
#if !EDGEQUANT_SEPARATE_KERNELS_ || defined(EDGEQUANT_KERNELS_PART)
#define EDGEQUANT_KERNELS_COMPILED 1
#else
#define EDGEQUANT_KERNELS_COMPILED 0
#endif

#define EDGEQUANT_KERNEL_CAT2_(a, b) a##b
#define EDGEQUANT_KERNEL_CAT_(a, b) EDGEQUANT_KERNEL_CAT2_(a, b)
// base##<this part>
#define EDGEQUANT_KERNEL_PART_NAME_(base) EDGEQUANT_KERNEL_CAT_(base, EDGEQUANT_KERNELS_PART)
// One table getter per part: scheme i of a list lives in part i % kKernelParts.
#define EDGEQUANT_DECLARE_KERNEL_PARTS_(Ret, base) \
  Ret base##0(std::size_t index);                  \
  Ret base##1(std::size_t index);                  \
  Ret base##2(std::size_t index);                  \
  Ret base##3(std::size_t index);
#define EDGEQUANT_DISPATCH_KERNEL_PARTS_(base, i) \
  switch ((i) % kKernelParts) {                   \
    case 0: return base##0(i);                    \
    case 1: return base##1(i);                    \
    case 2: return base##2(i);                    \
    default: return base##3(i);                   \
  }

namespace edgequant::detail {

inline constexpr std::size_t kKernelParts = 4;

using NonFiniteScanFn = std::size_t (*)(const float* x, std::size_t n);

#if EDGEQUANT_SEPARATE_KERNELS_
// Defined in part 0.
IsaMask separate_compiled_isas() noexcept;
NonFiniteScanFn separate_non_finite_scan(Isa isa) noexcept;
#endif

// In a kernel part: the table of scheme `index` of List, for the schemes this
// part owns (index % kKernelParts == Part). `get` is a generic lambda
// returning the compiled table of its template argument.
template <class List, class Table, std::size_t Part, class Get>
const Table& separate_part_table(std::size_t index, Get get) {
  static const std::array<const Table*, List::size> tables = [&] {
    std::array<const Table*, List::size> t{};
    List::for_each([&]<class S>() {
      constexpr std::size_t i = List::template index_of<S>;
      if constexpr (i % kKernelParts == Part) t[i] = &get.template operator()<S>();
    });
    return t;
  }();
  return *tables[index];
}

}  // namespace edgequant::detail
