// Umbrella header: the whole edgequant library.
#pragma once

#include "edgequant/core/checked.hpp"
#include "edgequant/core/config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/core/parallel.hpp"
#include "edgequant/core/tensor_view.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"
#include "edgequant/kernels.hpp"
#include "edgequant/planes.hpp"
#include "edgequant/quantize.hpp"
#include "edgequant/schemes/all.hpp"
#include "edgequant/schemes/onnx_calibrate.hpp"
#include "edgequant/schemes/onnx_qdq.hpp"
#include "edgequant/transcode.hpp"
