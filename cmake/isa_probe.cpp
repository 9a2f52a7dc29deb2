// Configure-time probe (cmake/simd_targets.cmake): prints the SIMD targets this
// machine runs, by edgequant's own detection, as a CMake list.
#include <cstdio>

#include "edgequant/kernels/isa.hpp"

int main() {
  const edgequant::IsaMask m = edgequant::cpu_isas();
  for (std::size_t i = 0; i < edgequant::kIsaCount; ++i) {
    const auto isa = static_cast<edgequant::Isa>(i);
    if (m & edgequant::isa_bit(isa)) std::printf("%s;", std::string(edgequant::isa_name(isa)).c_str());
  }
  return 0;
}
