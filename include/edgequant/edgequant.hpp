// Umbrella header: the whole edgequant library.
#pragma once

#include "edgequant/core/checked.hpp"
#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/core/tensor_view.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/npy.hpp"
#include "edgequant/formats/npz.hpp"
#include "edgequant/formats/zip.hpp"
#if __has_include(<nlohmann/json.hpp>)  // safetensors headers and HF index files are JSON
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/formats/safetensors.hpp"
#endif
#include "edgequant/formats/onnx.hpp"
#include "edgequant/formats/onnx/quantize.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"
#include "edgequant/kernels.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"
#include "edgequant/schemes/all.hpp"
#include "edgequant/schemes/onnx_calibrate.hpp"
#include "edgequant/schemes/onnx_qdq.hpp"
#include "edgequant/transcode.hpp"

// Compute kernels (vec_dot, GEMV/GEMM): after the SIMD dispatch they build on.
#include "edgequant/compute/gemv.hpp"
#include "edgequant/compute/vec_dot.hpp"
