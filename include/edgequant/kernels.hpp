// SIMD entry: compiles every per-target kernel (kernels/all-inl.hpp) for each
// Highway target with foreach_target.h, and selects among them at run time
// with edgequant's own CPU check, so nothing links against libhwy.
//
// Highway configuration (must be the same in every translation unit of a
// program; the CMake target sets none of it, these defaults apply):
//   HWY_WANT_AVX3_DL        compile the AVX-512 VNNI target (on by default here)
//   HWY_DISABLED_TARGETS    on Arm, the SVE targets (not supported yet; see below)
//   HWY_IS_DEBUG_BUILD = 0  Highway's debug asserts call hwy::Abort from libhwy
// Toolchain notes (Highway 1.0.3): with -march=native define HWY_WANT_AVX3_DL
// (done here); -march=x86-64-v3 needs -mpclmul -maes or Highway silently picks
// its SSSE3 target as the baseline.
//
// Separately compiled kernels (docs/separate_kernels.md): every translation
// unit that includes this header compiles all kernels for every target
// (about 1.5 min at -O3, 6 min under ASan). A program with many translation
// units may instead define EDGEQUANT_SEPARATE_KERNELS in all of them and
// compile kernels_part.hpp in four more (EDGEQUANT_KERNELS_PART 0..3); the
// others then only declare the kernel tables and look them up there.
#pragma once

#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL 1
#endif
// Arm: NEON only for now. The kernels keep vectors in arrays and fixed-size
// structures, which sizeless SVE vector types do not allow, so the SVE
// targets are left out unless the program configures Highway itself (or
// defines EDGEQUANT_ENABLE_SVE, for work on an SVE port).
#if (defined(__aarch64__) || defined(_M_ARM64)) && !defined(HWY_DISABLED_TARGETS) && \
    !defined(EDGEQUANT_ENABLE_SVE)
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#endif
#ifndef HWY_IS_DEBUG_BUILD
#define HWY_IS_DEBUG_BUILD 0
#endif

#include <array>
#include <cmath>
#include <cstddef>

#include "edgequant/kernels/isa.hpp"
#include "edgequant/kernels/row_kernels.hpp"
#include "edgequant/kernels/separate.hpp"
#include "edgequant/schemes/all.hpp"

// amalgamate: begin-modular-only
#if EDGEQUANT_KERNELS_COMPILED
// amalgamate: end-modular-only
// amalgamate: begin-foreach (scripts/amalgamate rewrites this block)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "edgequant/kernels/all-inl.hpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "edgequant/kernels/all-inl.hpp"
// amalgamate: end-foreach
// amalgamate: begin-modular-only
#endif  // EDGEQUANT_KERNELS_COMPILED
// amalgamate: end-modular-only

#ifndef EDGEQUANT_KERNELS_ONCE
#if EDGEQUANT_KERNELS_COMPILED
#define EDGEQUANT_KERNELS_ONCE HWY_ONCE
#else
#define EDGEQUANT_KERNELS_ONCE 1
#endif
#endif

#if EDGEQUANT_KERNELS_ONCE
namespace edgequant {
namespace detail {

// Per-target function pointers, null where the target was not compiled.
// Isa::kEmu128 is Highway's portable fallback: EMU128, or SCALAR where the
// compiler breaks EMU128 (GCC < 12.3).
#if HWY_TARGETS & HWY_EMU128
#define EDGEQUANT_CHOOSE_EMU128(f) &N_EMU128::f
#elif HWY_TARGETS & HWY_SCALAR
#define EDGEQUANT_CHOOSE_EMU128(f) &N_SCALAR::f
#else
#define EDGEQUANT_CHOOSE_EMU128(f) nullptr
#endif

#if EDGEQUANT_KERNELS_COMPILED
// Isa -> what Highway compiled in this translation unit.
inline constexpr IsaMask kCompiledIsas =
    isa_bit(Isa::kScalar) |
    ((HWY_TARGETS & (HWY_EMU128 | HWY_SCALAR)) ? isa_bit(Isa::kEmu128) : 0) |
    ((HWY_TARGETS & HWY_SSSE3) ? isa_bit(Isa::kSsse3) : 0) |
    ((HWY_TARGETS & HWY_SSE4) ? isa_bit(Isa::kSse4) : 0) |
    ((HWY_TARGETS & HWY_AVX2) ? isa_bit(Isa::kAvx2) : 0) |
    ((HWY_TARGETS & HWY_AVX3) ? isa_bit(Isa::kAvx512) : 0) |
    ((HWY_TARGETS & HWY_AVX3_DL) ? isa_bit(Isa::kAvx512Vnni) : 0) |
    ((HWY_TARGETS & HWY_NEON) ? isa_bit(Isa::kNeon) : 0) |
    ((HWY_TARGETS & HWY_SVE) ? isa_bit(Isa::kSve) : 0) |
    ((HWY_TARGETS & HWY_SVE2) ? isa_bit(Isa::kSve2) : 0);
#endif

// Expands `MACRO(Isa, pointer-to-per-target-function)` for every target.
#define EDGEQUANT_FOR_EACH_TARGET(MACRO, f)        \
  MACRO(Isa::kEmu128, EDGEQUANT_CHOOSE_EMU128(f)) \
  MACRO(Isa::kSsse3, HWY_CHOOSE_SSSE3(f))         \
  MACRO(Isa::kSse4, HWY_CHOOSE_SSE4(f))           \
  MACRO(Isa::kAvx2, HWY_CHOOSE_AVX2(f))           \
  MACRO(Isa::kAvx512, HWY_CHOOSE_AVX3(f))         \
  MACRO(Isa::kAvx512Vnni, HWY_CHOOSE_AVX3_DL(f))  \
  MACRO(Isa::kNeon, HWY_CHOOSE_NEON(f))           \
  MACRO(Isa::kSve, HWY_CHOOSE_SVE(f))             \
  MACRO(Isa::kSve2, HWY_CHOOSE_SVE2(f))

template <class S>
void scalar_quantize(const float* x, void* y, std::size_t n, const float* w) {
  S::quantize_row_ref(x, static_cast<typename S::Block*>(y), n, w);
}
template <class S>
void scalar_dequantize(const void* x, float* y, std::size_t n) {
  S::dequantize_row_ref(static_cast<const typename S::Block*>(x), y, n);
}
template <class S>
void scalar_activation(const float* x, void* y, std::size_t n) {
  S::quantize_activation_ref(x, static_cast<typename S::Block*>(y), n);
}
template <class S>
std::size_t scalar_validate(const void* x, std::size_t nblocks) {
  return S::first_invalid_block(static_cast<const typename S::Block*>(x), nblocks);
}

using RowKernelTable = std::array<RowKernels, kIsaCount>;

#if EDGEQUANT_KERNELS_COMPILED
// RowKernels of S for every Isa; targets without a SIMD kernel (or not
// compiled) use the scalar reference.
template <class S>
const RowKernelTable& compiled_row_kernel_table() {
  static const std::array<RowKernels, kIsaCount> table = [] {
    std::array<RowKernels, kIsaCount> t{};
    RowKernels ref{&scalar_quantize<S>, &scalar_dequantize<S>, nullptr};
    if constexpr (HasValidate<S>) ref.validate = &scalar_validate<S>;
    if constexpr (HasActivation<S>) ref.activation = &scalar_activation<S>;
    for (auto& k : t) k = ref;
    using Getter = RowKernels (*)();
    auto fill = [&](Isa isa, Getter get) {
      if (get == nullptr) return;
      const RowKernels k = get();
      auto& slot = t[static_cast<std::size_t>(isa)];
      if (k.quantize) slot.quantize = k.quantize;
      if (k.dequantize) slot.dequantize = k.dequantize;
      if (k.activation) slot.activation = k.activation;
      if (k.dequantize_stream) slot.dequantize_stream = k.dequantize_stream;
    };
#define EDGEQUANT_FILL_(isa, ptr) fill(isa, ptr);
    EDGEQUANT_FOR_EACH_TARGET(EDGEQUANT_FILL_, row_kernels<S>)
#undef EDGEQUANT_FILL_
    return t;
  }();
  return table;
}

// Index of the first NaN/Inf in x[0..n), or n, on `isa`.
inline std::size_t scalar_first_non_finite(const float* x, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return i;
  }
  return n;
}
inline NonFiniteScanFn compiled_non_finite_scan(Isa isa) noexcept {
  static const std::array<NonFiniteScanFn, kIsaCount> table = [] {
    std::array<NonFiniteScanFn, kIsaCount> t{};
    t.fill(&scalar_first_non_finite);
    auto fill = [&](Isa isa, NonFiniteScanFn f) {
      if (f != nullptr) t[static_cast<std::size_t>(isa)] = f;
    };
#define EDGEQUANT_FILL_(isa, ptr) fill(isa, ptr);
    EDGEQUANT_FOR_EACH_TARGET(EDGEQUANT_FILL_, FirstNonFinite)
#undef EDGEQUANT_FILL_
    return t;
  }();
  return table[static_cast<std::size_t>(isa)];
}
#endif  // EDGEQUANT_KERNELS_COMPILED

#if EDGEQUANT_SEPARATE_KERNELS_
// Ggml and activation schemes: their tables are in the kernel parts.
using SeparateRowSchemes = SchemeListCat<GgmlSchemes, ActivationSchemes>;
EDGEQUANT_DECLARE_KERNEL_PARTS_(const RowKernelTable&, separate_row_kernels_)
#if defined(EDGEQUANT_KERNELS_PART)
const RowKernelTable& EDGEQUANT_KERNEL_PART_NAME_(separate_row_kernels_)(std::size_t index) {
  return separate_part_table<SeparateRowSchemes, RowKernelTable, EDGEQUANT_KERNELS_PART>(
      index, []<class S>() -> const RowKernelTable& { return compiled_row_kernel_table<S>(); });
}
#if EDGEQUANT_KERNELS_PART == 0
IsaMask separate_compiled_isas() noexcept { return kCompiledIsas; }
NonFiniteScanFn separate_non_finite_scan(Isa isa) noexcept { return compiled_non_finite_scan(isa); }
#endif
#endif
#endif

template <class S>
const RowKernelTable& row_kernel_table() {
#if EDGEQUANT_SEPARATE_KERNELS_
  constexpr std::size_t i = SeparateRowSchemes::index_of<S>;
  static_assert(i < SeparateRowSchemes::size,
                "EDGEQUANT_SEPARATE_KERNELS: only ggml and activation schemes have row kernels in "
                "the kernel parts; use this scheme in a header-only program");
  EDGEQUANT_DISPATCH_KERNEL_PARTS_(separate_row_kernels_, i);
#else
  return compiled_row_kernel_table<S>();
#endif
}

inline NonFiniteScanFn non_finite_scan(Isa isa) noexcept {
#if EDGEQUANT_SEPARATE_KERNELS_
  return separate_non_finite_scan(isa);
#else
  return compiled_non_finite_scan(isa);
#endif
}

inline IsaMask compiled_isa_mask() noexcept {
#if EDGEQUANT_SEPARATE_KERNELS_
  return separate_compiled_isas();
#else
  return kCompiledIsas;
#endif
}

}  // namespace detail

// Targets compiled into this program (scalar reference always included).
inline IsaMask compiled_isas() noexcept { return detail::compiled_isa_mask(); }

// The target kernels run on now: EDGEQUANT_ISA / set_isa_override, else the
// best compiled target this CPU supports.
inline Isa active_isa() noexcept { return select_isa(detail::compiled_isa_mask()); }

// Targets that are both compiled and supported here (tests iterate over them).
inline IsaMask runnable_isas() noexcept {
  return (detail::compiled_isa_mask() & cpu_isas()) | isa_bit(Isa::kScalar);
}

// Row kernels of scheme S on `isa` (default: the active target).
template <Scheme S>
const RowKernels& row_kernels_for(Isa isa) noexcept {
  return detail::row_kernel_table<S>()[static_cast<std::size_t>(isa)];
}
template <Scheme S>
const RowKernels& row_kernels_for() noexcept {
  return row_kernels_for<S>(active_isa());
}

// Row kernels of a ggml type by id; null members for types without kernels.
inline const RowKernels& ggml_row_kernels(GgmlType type, Isa isa) noexcept {
  static const std::array<std::array<RowKernels, kIsaCount>, kGgmlTypeCount> table = [] {
    std::array<std::array<RowKernels, kIsaCount>, kGgmlTypeCount> t{};
    GgmlSchemes::for_each([&]<class S>() {
      t[static_cast<std::size_t>(S::ggml_type)] = detail::row_kernel_table<S>();
    });
    return t;
  }();
  return table[static_cast<std::size_t>(type)][static_cast<std::size_t>(isa)];
}

// The activation quantizer of the CPU dot products for a vec_dot type (Q8_0,
// Q8_1, Q8_K; see ggml_type_info(t).vec_dot_type) on `isa`; null for types
// without one. Same bytes on every target.
inline QuantizeActivationFn ggml_activation_quantizer(GgmlType type, Isa isa) noexcept {
  static const std::array<std::array<QuantizeActivationFn, kIsaCount>, kGgmlTypeCount> table = [] {
    std::array<std::array<QuantizeActivationFn, kIsaCount>, kGgmlTypeCount> t{};
    auto add = [&]<class S>() {
      if constexpr (HasActivation<S>) {
        const auto& k = detail::row_kernel_table<S>();
        for (std::size_t i = 0; i < kIsaCount; ++i) t[static_cast<std::size_t>(S::ggml_type)][i] = k[i].activation;
      }
    };
    GgmlSchemes::for_each(add);
    ActivationSchemes::for_each(add);
    return t;
  }();
  if (static_cast<std::uint32_t>(type) >= kGgmlTypeCount) return nullptr;
  return table[static_cast<std::size_t>(type)][static_cast<std::size_t>(isa)];
}
inline QuantizeActivationFn ggml_activation_quantizer(GgmlType type) noexcept {
  return ggml_activation_quantizer(type, active_isa());
}

// True when edgequant can quantize to / dequantize from this ggml type.
inline bool ggml_type_supported(GgmlType type) noexcept {
  return static_cast<std::uint32_t>(type) < kGgmlTypeCount &&
         ggml_row_kernels(type, Isa::kScalar).quantize != nullptr;
}

}  // namespace edgequant
#endif  // EDGEQUANT_KERNELS_ONCE
