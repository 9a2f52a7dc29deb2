// Translation unit B of the two-TU dispatch test.
#include <vector>

#include "edgequant/quantize.hpp"

// Through the raw row kernel (A goes through quantize<Q4_0>); the type-erased
// API would compile every scheme's kernels here, header-only.
std::vector<unsigned char> quantize_in_tu_b(const std::vector<float>& x, std::size_t cols) {
  std::vector<std::byte> out(x.size() / 32 * sizeof(edgequant::Q4_0::Block));
  const auto& k = edgequant::row_kernels_for<edgequant::Q4_0>();
  const std::size_t row_bytes = cols / 32 * sizeof(edgequant::Q4_0::Block);
  for (std::size_t r = 0; r < x.size() / cols; ++r) {
    k.quantize(x.data() + r * cols, out.data() + r * row_bytes, cols, nullptr);
  }
  const auto* p = reinterpret_cast<const unsigned char*>(out.data());
  return {p, p + out.size()};
}

edgequant::Isa active_isa_in_tu_b() { return edgequant::active_isa(); }
