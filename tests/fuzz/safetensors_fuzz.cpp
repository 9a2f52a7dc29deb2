// libFuzzer target: the safetensors header parser and validator, then the
// writer on whatever it accepted (a valid file must re-serialize and re-parse).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "edgequant/formats/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgequant::safetensors;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  Limits limits;
  limits.max_tensors = 4096;
  auto h = parse_header(bytes, limits, "fuzz");
  if (!h) return 0;
  // Every accepted tensor lies inside the buffer, and they tile it exactly.
  std::uint64_t sum = 0, expect_begin = 0;
  for (const auto& t : h->tensors) {
    if (t.begin != expect_begin || t.end > h->data_size || h->find(t.name) == nullptr)
      __builtin_trap();
    expect_begin = t.end;
    const auto d = bytes.subspan(static_cast<std::size_t>(h->data_offset + t.begin),
                                 static_cast<std::size_t>(t.nbytes()));
    for (std::byte b : d) sum += static_cast<std::uint8_t>(b);
    if (t.nbytes() <= 4096 && t.numel() <= 1024) {
      std::vector<float> out(static_cast<std::size_t>(t.numel()));
      (void)decode_to_f32(t.dtype, d, out);
    }
  }
  if (expect_begin != h->data_size || h->data_offset + h->data_size != size) __builtin_trap();
  // Round trip: what we accept, we can write, and read back the same.
  std::vector<TensorData> ts;
  for (const auto& t : h->tensors) {
    ts.push_back({t.name, t.dtype, t.shape,
                  bytes.subspan(static_cast<std::size_t>(h->data_offset + t.begin),
                                static_cast<std::size_t>(t.nbytes()))});
  }
  auto again = serialize(ts, h->metadata);
  if (!again) __builtin_trap();
  auto h2 = parse_header(*again, limits, "fuzz2");
  if (!h2 || h2->tensors.size() != h->tensors.size() || h2->data_size != h->data_size)
    __builtin_trap();
  return static_cast<int>(sum & 0);
}
