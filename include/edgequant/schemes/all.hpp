// Every scheme header, and the lists registries iterate over. Adding a scheme:
// its header here, its -inl.hpp in kernels/all-inl.hpp, its type in the list.
#pragma once

#include "edgequant/schemes/float_types.hpp"
#include "edgequant/schemes/iq1_m.hpp"
#include "edgequant/schemes/iq1_s.hpp"
#include "edgequant/schemes/iq2_s.hpp"
#include "edgequant/schemes/iq2_xs.hpp"
#include "edgequant/schemes/iq2_xxs.hpp"
#include "edgequant/schemes/iq3_s.hpp"
#include "edgequant/schemes/iq3_xxs.hpp"
#include "edgequant/schemes/q4_0.hpp"
#include "edgequant/schemes/q8_0.hpp"
#include "edgequant/schemes/scheme.hpp"

namespace edgequant {

// ggml weight types, in ggml type-id order.
using GgmlSchemes = SchemeList<F32, F16, Q4_0, Q8_0, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ3_S,
                               IQ2_S, IQ1_M, BF16>;

}  // namespace edgequant
