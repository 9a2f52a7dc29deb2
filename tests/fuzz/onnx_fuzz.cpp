// libFuzzer target: the ONNX reader (protobuf wire codec and every message of
// onnx.proto), then the writer on whatever parsed. Checks beyond "no crash":
// what edgequant writes must parse again, and writing is a fixed point after
// one round (write(read(write(read(x)))) == write(read(x))).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "edgequant/formats/onnx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgequant::onnx;
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = parse_model(in);
  if (!m) {
    (void)m.error().message();
    return 0;
  }
  (void)validate(*m);
  // Decode small numeric payloads (sub-byte unpacking, minifloats).
  for_each_tensor(*m, [](const Tensor& t, TensorRole) {
    auto n = t.numel();
    if (n && *n <= 4096 && t.has_bytes() && is_real_numeric(t.data_type)) (void)to_floats(t);
  });
  auto out = serialize_to_bytes(*m);
  if (!out) std::abort();  // a parsed model always serializes
  auto m2 = parse_model(*out);
  if (!m2) std::abort();  // the writer produced bytes the reader refuses
  auto out2 = serialize_to_bytes(*m2);
  if (!out2 || *out2 != *out) std::abort();  // not a fixed point
  return 0;
}
