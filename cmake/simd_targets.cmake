# EDGEQUANT_SIMD_TARGETS: which Highway targets our own tests, bench and CLI
# compile. "all" (default) is what a distributable build needs. The others
# shorten a test build: a target this machine cannot run is never tested here.
#   native  the targets this machine runs, plus the portable one (emu128)
#   best    this machine's best target, plus the portable one
# Applied as HWY_DISABLED_TARGETS to every target below the top directory; not
# for -march builds (Highway cannot disable its baseline target).
set(EDGEQUANT_SIMD_TARGETS "all" CACHE STRING "SIMD targets compiled into our tests, bench and CLI: all, native or best")
set_property(CACHE EDGEQUANT_SIMD_TARGETS PROPERTY STRINGS all native best)

if(NOT EDGEQUANT_SIMD_TARGETS STREQUAL "all")
  if(NOT EDGEQUANT_SIMD_TARGETS MATCHES "^(native|best)$")
    message(FATAL_ERROR "EDGEQUANT_SIMD_TARGETS must be all, native or best (got '${EDGEQUANT_SIMD_TARGETS}')")
  endif()
  if(EDGEQUANT_NATIVE)
    message(FATAL_ERROR "EDGEQUANT_SIMD_TARGETS=${EDGEQUANT_SIMD_TARGETS} cannot be combined with EDGEQUANT_NATIVE")
  endif()
  try_run(_eq_probe_run _eq_probe_compile
    ${PROJECT_BINARY_DIR}/isa_probe ${PROJECT_SOURCE_DIR}/cmake/isa_probe.cpp
    CMAKE_FLAGS "-DINCLUDE_DIRECTORIES=${PROJECT_SOURCE_DIR}/include"
    CXX_STANDARD 20
    COMPILE_OUTPUT_VARIABLE _eq_probe_log
    RUN_OUTPUT_VARIABLE _eq_runnable)
  if(NOT _eq_probe_compile OR NOT _eq_probe_run EQUAL 0)
    message(FATAL_ERROR "EDGEQUANT_SIMD_TARGETS: the CPU probe failed:\n${_eq_probe_log}")
  endif()
  # Best first, as kernels/isa.hpp prefers them; edgequant name -> Highway macro.
  set(_eq_isas avx512_vnni avx512 avx2 sse4 ssse3 sve2 sve neon)
  set(_eq_hwy HWY_AVX3_DL HWY_AVX3 HWY_AVX2 HWY_SSE4 HWY_SSSE3 HWY_SVE2 HWY_SVE HWY_NEON)
  set(_eq_keep)
  foreach(_isa IN LISTS _eq_isas)
    if(_isa IN_LIST _eq_runnable)
      list(APPEND _eq_keep ${_isa})
      if(EDGEQUANT_SIMD_TARGETS STREQUAL "best")
        break()
      endif()
    endif()
  endforeach()
  set(_eq_disabled)
  foreach(_isa _macro IN ZIP_LISTS _eq_isas _eq_hwy)
    if(NOT _isa IN_LIST _eq_keep)
      list(APPEND _eq_disabled ${_macro})
    endif()
  endforeach()
  list(JOIN _eq_disabled "|" _eq_mask)
  message(STATUS "edgequant: SIMD targets ${EDGEQUANT_SIMD_TARGETS}: ${_eq_keep} + emu128 (disabled: ${_eq_mask})")
  add_compile_definitions("HWY_DISABLED_TARGETS=(${_eq_mask})" EDGEQUANT_REDUCED_TARGETS=1)
endif()
