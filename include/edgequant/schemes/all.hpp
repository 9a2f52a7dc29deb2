// Every scheme header, and the lists registries iterate over. Adding a scheme:
// its header here, its -inl.hpp in kernels/all-inl.hpp, its type in the list.
#pragma once

#include "edgequant/schemes/float_types.hpp"
#include "edgequant/schemes/q2_k.hpp"
#include "edgequant/schemes/q3_k.hpp"
#include "edgequant/schemes/iq4_nl.hpp"
#include "edgequant/schemes/iq4_xs.hpp"
#include "edgequant/schemes/mxfp4.hpp"
#include "edgequant/schemes/nvfp4.hpp"
#include "edgequant/schemes/q1_0.hpp"
#include "edgequant/schemes/q2_0.hpp"
#include "edgequant/schemes/iq1_m.hpp"
#include "edgequant/schemes/iq1_s.hpp"
#include "edgequant/schemes/iq2_s.hpp"
#include "edgequant/schemes/iq2_xs.hpp"
#include "edgequant/schemes/iq2_xxs.hpp"
#include "edgequant/schemes/iq3_s.hpp"
#include "edgequant/schemes/iq3_xxs.hpp"
#include "edgequant/schemes/q4_0.hpp"
#include "edgequant/schemes/q4_1.hpp"
#include "edgequant/schemes/q5_0.hpp"
#include "edgequant/schemes/q5_1.hpp"
#include "edgequant/schemes/q4_k.hpp"
#include "edgequant/schemes/q5_k.hpp"
#include "edgequant/schemes/q6_k.hpp"
#include "edgequant/schemes/q8_0.hpp"
#include "edgequant/schemes/q8_1.hpp"
#include "edgequant/schemes/q8_k.hpp"
#include "edgequant/schemes/scheme.hpp"
#include "edgequant/schemes/tq1_0.hpp"
#include "edgequant/schemes/tq2_0.hpp"

namespace edgequant {

// ggml weight types, in ggml type-id order.
using GgmlSchemes = SchemeList<F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
                               IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ4_NL, IQ3_S, IQ2_S, IQ4_XS,
                               IQ1_M, BF16, TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0, Q2_0>;

// ggml activation-only types (not accepted by ggml_quantize_chunk): the
// vec_dot types the CPU backend quantizes activations to. Activation
// quantizers (HasActivation) are looked up in both lists.
using ActivationSchemes = SchemeList<Q8_1, Q8_K>;

}  // namespace edgequant
