// ONNX: protobuf codec, model reader/writer with external data, validation and
// graph rewriting (specs/onnx.md).
#pragma once

#include "edgequant/formats/onnx/build.hpp"
#include "edgequant/formats/onnx/file.hpp"
#include "edgequant/formats/onnx/model.hpp"
#include "edgequant/formats/onnx/protobuf.hpp"
#include "edgequant/formats/onnx/reader.hpp"
#include "edgequant/formats/onnx/rewrite.hpp"
#include "edgequant/formats/onnx/tensor_data.hpp"
#include "edgequant/formats/onnx/validate.hpp"
#include "edgequant/formats/onnx/writer.hpp"
