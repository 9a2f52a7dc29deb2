// Every per-target kernel header. Included once per Highway target by
// kernels.hpp through foreach_target.h; include nothing else per target.
#if defined(EDGEQUANT_KERNELS_ALL_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_KERNELS_ALL_INL_
#undef EDGEQUANT_KERNELS_ALL_INL_
#else
#define EDGEQUANT_KERNELS_ALL_INL_
#endif

#include "edgequant/kernels/common-inl.hpp"
#include "edgequant/schemes/float_types-inl.hpp"
#include "edgequant/schemes/q2_k-inl.hpp"
#include "edgequant/schemes/q3_k-inl.hpp"
#include "edgequant/schemes/iq4_nl-inl.hpp"
#include "edgequant/schemes/iq4_xs-inl.hpp"
#include "edgequant/schemes/mxfp4-inl.hpp"
#include "edgequant/schemes/nvfp4-inl.hpp"
#include "edgequant/schemes/q1_0-inl.hpp"
#include "edgequant/schemes/q2_0-inl.hpp"
#include "edgequant/schemes/iq1_m-inl.hpp"
#include "edgequant/schemes/iq1_s-inl.hpp"
#include "edgequant/schemes/iq2_s-inl.hpp"
#include "edgequant/schemes/iq2_xs-inl.hpp"
#include "edgequant/schemes/iq2_xxs-inl.hpp"
#include "edgequant/schemes/iq3_s-inl.hpp"
#include "edgequant/schemes/iq3_xxs-inl.hpp"
#include "edgequant/schemes/mlx_affine-inl.hpp"
#include "edgequant/schemes/mlx_fp-inl.hpp"
#include "edgequant/schemes/nncf-inl.hpp"
#include "edgequant/schemes/ort_matmul_nbits-inl.hpp"
#include "edgequant/schemes/plane-inl.hpp"
#include "edgequant/schemes/q4_0-inl.hpp"
#include "edgequant/schemes/q4_1-inl.hpp"
#include "edgequant/schemes/q5_0-inl.hpp"
#include "edgequant/schemes/q5_1-inl.hpp"
#include "edgequant/schemes/q4_k-inl.hpp"
#include "edgequant/schemes/q5_k-inl.hpp"
#include "edgequant/schemes/q6_k-inl.hpp"
#include "edgequant/schemes/q8_0-inl.hpp"
#include "edgequant/schemes/q8_1-inl.hpp"
#include "edgequant/schemes/q8_k-inl.hpp"
#include "edgequant/schemes/tq1_0-inl.hpp"
#include "edgequant/schemes/tq2_0-inl.hpp"
#include "edgequant/compute/vec_dot-inl.hpp"

#endif  // per-target include guard
