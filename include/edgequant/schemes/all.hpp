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
#include "edgequant/schemes/mlx_affine.hpp"
#include "edgequant/schemes/mlx_fp.hpp"
#include "edgequant/schemes/nncf.hpp"
#include "edgequant/schemes/ort_matmul_nbits.hpp"
#include "edgequant/schemes/plane.hpp"
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

// Plane schemes (ONNX Runtime, NNCF/OpenVINO, MLX), registry order; the
// names are the CLI's --type spellings.
template <int Bits, bool Sym>
using OrtNBitsBlocks =
    SchemeList<OrtNBits<Bits, 16, Sym>, OrtNBits<Bits, 32, Sym>, OrtNBits<Bits, 64, Sym>,
               OrtNBits<Bits, 128, Sym>, OrtNBits<Bits, 256, Sym>>;
template <int Bits, MlxBackend B>
using MlxAffineGroups =
    SchemeList<MlxAffine<Bits, 32, B>, MlxAffine<Bits, 64, B>, MlxAffine<Bits, 128, B>>;
template <template <std::size_t> class T>
using NncfGroups = SchemeList<T<32>, T<64>, T<128>, T<0>>;
template <std::size_t G>
using NncfInt4Sym = NncfInt<4, true, G>;
template <std::size_t G>
using NncfInt4Asym = NncfInt<4, false, G>;
template <std::size_t G>
using NncfNf4 = NncfFloat<nncf::FloatMode::kNf4, G>;
template <std::size_t G>
using NncfFp4 = NncfFloat<nncf::FloatMode::kFp4, G>;
template <std::size_t G>
using NncfFp8 = NncfFloat<nncf::FloatMode::kFp8E4M3, G>;
using NncfInt8Sym = NncfInt<8, true, 0>;
using NncfInt8Asym = NncfInt<8, false, 0>;
using NncfMxfp4 = NncfFloat<nncf::FloatMode::kMxfp4, 32>;
using NncfMxfp8 = NncfFloat<nncf::FloatMode::kMxfp8E4M3, 32>;

using PlaneSchemes =
    SchemeListCat<OrtNBitsBlocks<4, true>, OrtNBitsBlocks<4, false>, OrtNBitsBlocks<8, true>,
                  OrtNBitsBlocks<8, false>, OrtNBitsBlocks<2, true>, OrtNBitsBlocks<2, false>,
                  SchemeList<NncfInt8Sym, NncfInt8Asym>, NncfGroups<NncfInt4Sym>,
                  NncfGroups<NncfInt4Asym>, NncfGroups<NncfNf4>, NncfGroups<NncfFp4>,
                  NncfGroups<NncfFp8>, SchemeList<NncfMxfp4, NncfMxfp8>,
                  MlxAffineGroups<4, MlxBackend::kCpu>, MlxAffineGroups<8, MlxBackend::kCpu>,
                  MlxAffineGroups<2, MlxBackend::kCpu>, MlxAffineGroups<3, MlxBackend::kCpu>,
                  MlxAffineGroups<5, MlxBackend::kCpu>, MlxAffineGroups<6, MlxBackend::kCpu>,
                  SchemeList<MlxMxfp4, MlxMxfp8, MlxNvfp4>, MlxAffineGroups<4, MlxBackend::kMetal>,
                  MlxAffineGroups<8, MlxBackend::kMetal>, MlxAffineGroups<2, MlxBackend::kMetal>,
                  MlxAffineGroups<3, MlxBackend::kMetal>, MlxAffineGroups<5, MlxBackend::kMetal>,
                  MlxAffineGroups<6, MlxBackend::kMetal>>;

}  // namespace edgequant
