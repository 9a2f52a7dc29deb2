// One of the four kernel parts of a program built with EDGEQUANT_SEPARATE_KERNELS
// (docs/separate_kernels.md). Compile four translation units, n = 0..3:
//
//   #define EDGEQUANT_KERNELS_PART n   // EDGEQUANT_SEPARATE_KERNELS defined as everywhere
//   #include <edgequant/kernels_part.hpp>
//
// Each compiles a quarter of the kernel tables (row kernels, dots, plane
// kernels) for every SIMD target, so the four build in parallel.
#pragma once

#if !defined(EDGEQUANT_SEPARATE_KERNELS) || !defined(EDGEQUANT_KERNELS_PART)
#error "kernels_part.hpp: define EDGEQUANT_SEPARATE_KERNELS and EDGEQUANT_KERNELS_PART (0..3)"
#endif

#include "edgequant/compute/vec_dot.hpp"
#include "edgequant/kernels.hpp"
#include "edgequant/planes.hpp"
