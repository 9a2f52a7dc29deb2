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
  // The formats: a safetensors file and an npz member, in memory.
  namespace st = edgequant::safetensors;
  const st::TensorData t[] = {{"y", st::Dtype::kF32, {y.size()}, std::as_bytes(std::span(y))}};
  auto file = st::serialize(t, st::Metadata::of({{"format", "pt"}}));
  if (!file || !st::parse_header(*file)) return 1;
  edgequant::MemorySink sink;
  edgequant::npz::Writer<edgequant::MemorySink> npz(sink, {edgequant::zip::deflate_available()});
  const std::uint64_t shape[] = {y.size()};
  if (!npz.add("y", edgequant::npy::Descr::of(edgequant::npy::Kind::kFloat, 4), shape, std::as_bytes(std::span(y))) ||
      !npz.finish()) {
    return 1;
  }
  auto z = edgequant::npz::File::from_mapped(edgequant::MappedFile::from_bytes(sink.bytes()));
  if (!z || !z->read("y")) return 1;
  std::printf("consumer: safetensors %zu bytes, npz %zu bytes (deflate %s)\n", file->size(), sink.bytes().size(),
              edgequant::zip::deflate_available() ? "on" : "off");
  return worst < 0.01f ? 0 : 1;
}
