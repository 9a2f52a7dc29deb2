// libFuzzer target: the zip reader (end records, ZIP64, central directory,
// local headers) and .npz member loading (CRC, bounded inflate, npy parse).
#include <cstddef>
#include <cstdint>
#include <span>

#include "edgequant/formats/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgequant;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  npz::Limits limits;
  limits.zip.max_entries = 256;
  limits.zip.max_member_bytes = 1u << 22;
  limits.verify_crc = (size & 1) == 0;  // half the inputs skip the CRC to reach the npy parser
  auto f = npz::File::from_mapped(MappedFile::from_bytes(bytes, "fuzz.npz"), limits);
  if (!f) return 0;
  for (const auto& e : f->entries()) {
    if (e.data_offset + e.compressed_size > size) __builtin_trap();
    auto a = f->read(e);
    if (a && a->data().size() != a->header().nbytes) __builtin_trap();
  }
  return 0;
}
