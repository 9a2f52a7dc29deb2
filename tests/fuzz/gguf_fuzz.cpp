// libFuzzer target for the GGUF reader: parse under default and tight limits,
// walk every value and tensor view, print (text + JSON), and check that a
// rewrite of anything accepted is accepted again and is a fixed point.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cli/gguf_print.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/schemes/all.hpp"

namespace {

namespace gg = edgequant::gguf;
using SpanReader = gg::Reader<gg::SpanSource>;

[[noreturn]] void die(const char* what, const edgequant::Error* e = nullptr) {
  std::fprintf(stderr, "gguf_fuzz: %s%s%s\n", what, e ? ": " : "", e ? e->message().c_str() : "");
  std::abort();
}

volatile std::uint64_t g_sink;
void keep(std::uint64_t v) { g_sink = g_sink + v; }  // results must be used

void walk(const gg::ValueView& v) {
  switch (v.type()) {
    case gg::Type::kString:
      keep(v.string().size());
      break;
    case gg::Type::kArray: {
      const gg::ArrayView a = v.array();
      std::uint64_t n = 0;
      for (gg::ValueView e : a) {
        walk(e);
        ++n;
      }
      if (n != a.size()) die("array iteration count differs from its size");
      if (a.element_type() == gg::Type::kUint32 && !a.empty())
        keep(a.at<std::uint32_t>(a.size() - 1));
      break;
    }
    default:
      keep(v.encoded().size());
      break;
  }
}

void touch_tensors(const SpanReader& r) {
  for (const auto& t : r.tensors()) {
    auto tensor = r.tensor(t.name);
    if (!tensor) die("listed tensor not found by name");
    const auto bytes = tensor->bytes();
    if (bytes.size() != t.nbytes) die("tensor view size differs from its info");
    if (!bytes.empty())
      keep(std::to_integer<unsigned>(bytes.front()) + std::to_integer<unsigned>(bytes.back()));
    if (t.type == edgequant::GgmlType::kF32) {
      if (auto v = tensor->view<float, 4>()) keep(v->numel());
    }
    if (t.type == edgequant::GgmlType::kQ4_0) {
      if (auto b = tensor->blocks<edgequant::Q4_0>(); b && b->rows())
        keep(b->row(b->rows() - 1).size());
    }
  }
}

std::vector<std::byte> rewrite(const SpanReader& r) {
  edgequant::MemorySink sink;
  gg::WriterOptions opt;
  opt.allow_nested_arrays = true;
  auto st = gg::write_copy(r, sink, opt);
  if (!st) die("writer refused a file the reader accepted", &st.error());
  return sink.take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  // Tight limits reach the limit paths with small inputs.
  gg::Limits tight;
  tight.max_metadata_bytes = 4096;
  tight.max_kv = 16;
  tight.max_tensors = 8;
  tight.max_string_bytes = 256;
  tight.max_array_elements = 64;
  tight.max_key_bytes = 64;
  tight.max_array_depth = 2;
  tight.require_contiguous = false;
  if (auto t = SpanReader::open(gg::SpanSource(in, "fuzz"), tight)) touch_tensors(*t);

  auto r = SpanReader::open(gg::SpanSource(in, "fuzz"));
  if (!r) {
    if (r.error().what.empty()) die("error without a reason");
    return 0;
  }
  for (const auto& kv : r->metadata()) {
    if (r->find(kv.key) != &kv) die("key lookup does not find the record");
    walk(kv.value);
  }
  touch_tensors(*r);
  eqcli::InspectOptions opt;
  opt.tensors = true;
  keep(eqcli::gguf_print::json(*r, "fuzz", opt).size() +
       eqcli::gguf_print::text(*r, "fuzz", opt).size());

  // Anything accepted rewrites to a file that is accepted and is a fixed point.
  const auto once = rewrite(*r);
  auto r2 = SpanReader::open(gg::SpanSource(once, "rewrite"));
  if (!r2) die("rewrite of an accepted file is rejected", &r2.error());
  if (r2->metadata().size() != r->metadata().size() ||
      r2->tensors().size() != r->tensors().size()) {
    die("rewrite changed the number of keys or tensors");
  }
  const auto twice = rewrite(*r2);
  if (once != twice) die("rewrite is not a fixed point");
  return 0;
}
