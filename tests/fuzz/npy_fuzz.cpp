// libFuzzer target: the .npy header parser (Python-literal subset), and the
// C-order conversion (byte swap, Fortran transpose) of what it accepts.
#include <cstddef>
#include <cstdint>
#include <span>

#include "edgequant/formats/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgequant::npy;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  Limits limits;
  limits.allow_trailing_bytes = (size & 1) != 0;
  auto a = read_array(bytes, limits, "fuzz");
  if (!a) return 0;
  if (a->header.data_offset + a->header.nbytes > size) __builtin_trap();
  if (a->data.size() <= (1u << 20)) {
    const auto c = to_c_order(*a);
    if (c.size() != a->data.size()) __builtin_trap();
  }
  // The writer produces a header that parses back to the same array.
  const auto h = header_bytes(a->header.descr, a->header.shape, a->header.fortran_order);
  auto b = parse_header_only(std::as_bytes(std::span(h)));
  if (!b || b->shape != a->header.shape || !(b->descr == a->header.descr) ||
      b->fortran_order != a->header.fortran_order || b->data_offset != h.size()) {
    __builtin_trap();
  }
  return 0;
}
