// Translation unit A of the two-TU dispatch test: includes the kernels too.
#include <vector>

#include "edgequant/quantize.hpp"

std::vector<unsigned char> quantize_in_tu_a(const std::vector<float>& x, std::size_t cols) {
  std::vector<edgequant::Q4_0::Block> out(x.size() / 32);
  (void)edgequant::quantize<edgequant::Q4_0>(x, cols, out);
  const auto* p = reinterpret_cast<const unsigned char*>(out.data());
  return {p, p + out.size() * sizeof(edgequant::Q4_0::Block)};
}

edgequant::Isa active_isa_in_tu_a() { return edgequant::active_isa(); }
