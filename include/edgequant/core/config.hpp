// Compiler portability macros shared by every edgequant header.
#pragma once

#include <cstdio>
#include <cstdlib>

#define EDGEQUANT_VERSION_MAJOR 0
#define EDGEQUANT_VERSION_MINOR 1
#define EDGEQUANT_VERSION_PATCH 0
#define EDGEQUANT_VERSION_STRING "0.1.0"

// Block structs and scalar decoders are shared with CUDA code.
#if defined(__CUDACC__) || defined(__HIPCC__)
#define EDGEQUANT_HOST_DEVICE __host__ __device__
#else
#define EDGEQUANT_HOST_DEVICE
#endif

#if defined(__GNUC__) || defined(__clang__)
#define EDGEQUANT_LIKELY(x) __builtin_expect(!!(x), 1)
#define EDGEQUANT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define EDGEQUANT_RESTRICT __restrict__
#else
#define EDGEQUANT_LIKELY(x) (x)
#define EDGEQUANT_UNLIKELY(x) (x)
#define EDGEQUANT_RESTRICT
#endif

// Quantizers must round every float operation separately: a fused multiply-add
// changes the bytes ggml produces (specs/ggml-quants.md §0.3). Every header that
// holds quantizer arithmetic is wrapped in these pragmas, so contraction stays
// off even when the including program uses -ffp-contract=fast or -march=native
// (GCC), or clang's default -ffp-contract=on. Clang's -ffp-contract=fast ignores
// pragmas by design; do not use it (fast-honor-pragmas is fine).
#if defined(__clang__)
#define EDGEQUANT_FP_STRICT_BEGIN \
  _Pragma("float_control(push)") _Pragma("clang fp contract(off)")
#define EDGEQUANT_FP_STRICT_END _Pragma("float_control(pop)")
#elif defined(__GNUC__)
#define EDGEQUANT_FP_STRICT_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\")")
#define EDGEQUANT_FP_STRICT_END _Pragma("GCC pop_options")
#elif defined(_MSC_VER)
#define EDGEQUANT_FP_STRICT_BEGIN \
  __pragma(float_control(push)) __pragma(fp_contract(off))
#define EDGEQUANT_FP_STRICT_END __pragma(float_control(pop))
#else
#define EDGEQUANT_FP_STRICT_BEGIN
#define EDGEQUANT_FP_STRICT_END
#endif

// Preconditions of internal functions (documented at each use). Input from
// files never reaches an assert: readers return errors instead.
#if !defined(NDEBUG) || defined(EDGEQUANT_ENABLE_ASSERTS)
#define EDGEQUANT_ASSERT(cond)                                          \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "%s:%d: edgequant assertion failed: %s\n", \
                   __FILE__, __LINE__, #cond);                          \
      std::abort();                                                     \
    }                                                                   \
  } while (0)
#else
#define EDGEQUANT_ASSERT(cond) ((void)0)
#endif
