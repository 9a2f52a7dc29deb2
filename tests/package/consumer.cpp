// Uses the installed headers: quantize a row, dequantize it, check the error.
#include <edgequant/edgequant.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  std::vector<float> x(256);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.1f * static_cast<float>(i));
  std::vector<edgequant::Q8_0::Block> q(x.size() / 32);
  if (auto st = edgequant::quantize<edgequant::Q8_0>(x, x.size(), q); !st) {
    std::fprintf(stderr, "quantize failed: %s\n", st.error().message().c_str());
    return 1;
  }
  std::vector<float> y(x.size());
  if (!edgequant::dequantize<edgequant::Q8_0>(q, x.size(), y)) return 1;
  float worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::fmax(worst, std::fabs(x[i] - y[i]));
  std::printf("consumer: max error %g on %s\n", worst,
              std::string(edgequant::isa_name(edgequant::active_isa())).c_str());
  return worst < 0.01f ? 0 : 1;
}
