// Fuzzes the plane-scheme decoders (ORT MatMulNBits, NNCF, MLX) and ONNX
// DequantizeLinear on arbitrary bytes, as a model reader feeds them: every
// size is checked, any bit pattern decodes without crashing, and quantizing
// the decoded floats back never fails on finite input.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "edgequant/planes.hpp"
#include "edgequant/schemes/onnx_qdq.hpp"

namespace {

using namespace edgequant;

const PlaneSchemeInfo* pick(std::uint8_t b) {
  static const PlaneSchemeInfo* const kSchemes[] = {
      &plane_scheme_info<OrtNBits<4, 16, false>>(),
      &plane_scheme_info<OrtNBits<2, 16, false>>(),
      &plane_scheme_info<OrtNBits<8, 32, true>>(),
      &plane_scheme_info<NncfInt<4, false, 32>>(),
      &plane_scheme_info<NncfInt<8, true, 0>>(),
      &plane_scheme_info<NncfFloat<nncf::FloatMode::kNf4, 32>>(),
      &plane_scheme_info<NncfMxfp4>(),
      &plane_scheme_info<MlxAffine<3, 32>>(),
      &plane_scheme_info<MlxAffine<5, 32>>(),
      &plane_scheme_info<MlxMxfp4>(),
      &plane_scheme_info<MlxNvfp4>(),
      &plane_scheme_info<MlxMxfp8>(),
  };
  return kSchemes[b % (sizeof(kSchemes) / sizeof(kSchemes[0]))];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const PlaneSchemeInfo* s = pick(data[0]);
  const FloatType t = static_cast<FloatType>(data[1] % 3);
  const std::size_t cols =
      std::size_t{data[2]} + 1;  // 1..256: many are invalid, which must be refused
  const std::span<const std::uint8_t> body(data + 3, size - 3);
  if (auto st = s->check(cols, t); st) {
    const std::size_t rb = raw_row_bytes(*s, cols, t);
    if (body.size() >= rb) {
      const std::size_t rows = body.size() / rb;
      std::vector<float> y(rows * cols);
      if (dequantize_raw(*s, body.first(rows * rb), cols, y, PlaneOptions{t, 1})) {
        for (auto& v : y) {
          if (!std::isfinite(v)) v = 0.0f;
        }
        std::vector<std::uint8_t> again(rows * rb);
        (void)quantize_raw(*s, y, cols, again, PlaneOptions{t, 1});
      }
    }
  } else {
    std::vector<float> y(cols);
    (void)dequantize_raw(*s, body, cols, y, PlaneOptions{t, 1});
  }
  // ONNX DequantizeLinear, blocked int4 on axis 0: shape [rows, 4], block 2.
  const std::size_t rows = body.size() / 2 % 16 + 1;
  const std::size_t shape[2] = {rows, 4};
  std::vector<float> scale((rows + 1) / 2 * 4, 0.5f);
  std::vector<std::int32_t> zp(scale.size(), 3);
  std::vector<float> y(rows * 4);
  const onnx::QdqParams p{onnx::QType::kInt4, 0, 2, true};
  if (body.size() >= onnx::packed_bytes(p.type, y.size())) {
    (void)onnx::dequantize_linear(body.first(onnx::packed_bytes(p.type, y.size())), shape, scale,
                                  zp, p, y);
  }
  return 0;
}
