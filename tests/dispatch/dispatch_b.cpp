// Translation unit B of the two-TU dispatch test.
#include <vector>

#include "edgequant/quantize.hpp"

std::vector<unsigned char> quantize_in_tu_b(const std::vector<float>& x, std::size_t cols) {
  std::vector<std::byte> out(x.size() / 32 * sizeof(edgequant::Q4_0::Block));
  (void)edgequant::quantize(edgequant::GgmlType::kQ4_0, x, cols, out);
  const auto* p = reinterpret_cast<const unsigned char*>(out.data());
  return {p, p + out.size()};
}

edgequant::Isa active_isa_in_tu_b() { return edgequant::active_isa(); }
