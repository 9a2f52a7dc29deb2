// `edgequant quantize-onnx` (weight-only quantization of an ONNX model into
// MatMulNBits or DequantizeLinear -> MatMul) and `gguf-to-matmulnbits` (one
// GGUF Q4_0/Q8_0 weight as a one-node MatMulNBits model, not re-quantized).
#pragma once

#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/onnx.hpp"
#include "edgequant/formats/onnx/quantize.hpp"

namespace eqcli {

namespace quantize_onnx_detail {

inline bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

inline std::string shape_text(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

inline edgequant::Expected<edgequant::onnx::WeightQuantOptions> options(const Args& a) {
  using namespace edgequant;
  onnx::WeightQuantOptions o;
  const std::string fmt = a.value("format").value_or("matmulnbits");
  if (fmt == "matmulnbits") {
    o.format = onnx::WeightFormat::kMatMulNBits;
  } else if (fmt == "qdq") {
    o.format = onnx::WeightFormat::kQdq;
  } else {
    return make_error(Errc::kBadArgument,
                      "--format must be matmulnbits or qdq (got '" + fmt + "')");
  }
  auto bits = a.uint_value("bits", 4);
  if (!bits) return std::move(bits).error();
  auto block = a.uint_value("block", 32);
  if (!block) return std::move(block).error();
  auto acc = a.uint_value("accuracy-level", 0);
  if (!acc) return std::move(acc).error();
  auto threads = a.uint_value("threads", 0);
  if (!threads) return std::move(threads).error();
  if (*bits > 64 || *block > (1u << 30) || *acc > 64 || *threads > 4096)
    return make_error(Errc::kBadArgument, "option value out of range");
  o.bits = static_cast<int>(*bits);
  o.block = static_cast<std::size_t>(*block);
  if (a.value("accuracy-level")) o.accuracy_level = static_cast<std::int64_t>(*acc);
  o.threads = static_cast<unsigned>(*threads);
  o.symmetric = !a.flag("asym");
  o.per_channel = a.flag("per-channel");
  o.nodes_to_exclude = a.values("exclude");
  o.gather = a.flag("gather");
  EDGEQUANT_TRY(onnx::check_options(o));
  return o;
}

inline void print_plan(const edgequant::onnx::WeightQuantReport& r, bool dry) {
  std::size_t skipped = 0;
  for (const auto& it : r.items) {
    if (!it.rewritten) ++skipped;
    std::printf("  %-10s %s %s", it.rewritten ? "rewrite" : "keep", it.op_type.c_str(),
                it.node.c_str());
    if (!it.weight.empty()) std::printf(" (B = %s", it.weight.c_str());
    if (!it.shape.empty()) std::printf(" %s", shape_text(it.shape).c_str());
    if (!it.weight.empty()) std::printf(")");
    std::printf(": %s", it.note.c_str());
    if (it.rewritten) {
      std::printf(", %llu -> %llu bytes", static_cast<unsigned long long>(it.bytes_before),
                  static_cast<unsigned long long>(it.bytes_after));
    }
    std::printf("\n");
  }
  std::printf("%s%zu nodes rewritten, %zu kept; weights %llu -> %llu bytes", dry ? "plan: " : "",
              r.rewrite.rewritten, skipped, static_cast<unsigned long long>(r.rewrite.weight_bytes),
              static_cast<unsigned long long>(r.rewrite.replacement_bytes));
  if (r.rewrite.weight_bytes) {
    std::printf(" (%.2fx smaller)", static_cast<double>(r.rewrite.weight_bytes) /
                                       static_cast<double>(std::max<std::uint64_t>(
                                           1, r.rewrite.replacement_bytes)));
  }
  std::printf("; %zu float weights removed\n", r.rewrite.removed.size());
}

// kAuto of write_model, said aloud: external when asked, when the input had
// external data, or when the model would pass the inline limit.
inline std::string external_reason(const edgequant::onnx::Model& m,
                                   const edgequant::onnx::WriteOptions& w, bool asked) {
  using namespace edgequant::onnx;
  if (asked) return "external data: yes (--external-data)";
  bool had = false;
  for_each_tensor(m, [&](const Tensor& t, auto) { had = had || t.is_external(); });
  auto size = serialized_size(m);
  if (size && *size > w.max_inline_bytes) {
    return "external data: yes (automatic: the model would be " + std::to_string(*size) +
           " bytes inline, over " + std::to_string(w.max_inline_bytes) + ")";
  }
  if (had) return "external data: yes (the input kept its tensors in external data)";
  return "external data: no (inline model of " + (size ? std::to_string(*size) : "?") + " bytes)";
}

}  // namespace quantize_onnx_detail

inline Command quantize_onnx_command() {
  return {
      "quantize-onnx",
      "IN.onnx -o OUT.onnx [--format matmulnbits|qdq] [--bits N] [--block N] [--asym] ...",
      "weight-only quantization of an ONNX model's MatMul weights (ORT MatMulNBits or QDQ)",
      {{"output", true, "output .onnx (-o)"},
       {"format", true, "matmulnbits (default: com.microsoft MatMulNBits) or qdq (DequantizeLinear)"},
       {"bits", true, "matmulnbits: 2, 4 (default), 8; qdq: 4 (default), 8"},
       {"block", true, "block size along K (default 32); matmulnbits: 16..256, powers of two"},
       {"asym", false, "asymmetric: zero points (default symmetric, as ORT's quantizer CLI)"},
       {"per-channel", false, "qdq: one scale per output column instead of blocks"},
       {"accuracy-level", true, "matmulnbits accuracy_level attribute 0..4 (written only when given)"},
       {"exclude", true, "node name to leave alone (repeatable)"},
       {"gather", false, "also Gather on constant tables (embeddings) -> GatherBlockQuantized (4-bit)"},
       {"external-data", false, "write initializers >= 1 KiB to OUT.onnx.data"},
       {"dry-run", false, "print the plan (nodes rewritten/kept, bytes) and write nothing"},
       {"force", false, "replace an existing output file"},
       {"threads", true, "quantizer threads (default: all; output bytes never depend on it)"}},
      [](const Args& a) -> int {
        using namespace edgequant;
        namespace qd = quantize_onnx_detail;
        if (a.positional().size() != 1) return fail_usage("quantize-onnx takes one IN.onnx");
        const bool dry = a.flag("dry-run");
        const auto out = a.value("output");
        if (!dry && !out) return fail_usage("quantize-onnx needs -o OUT.onnx (or --dry-run)");
        auto opt = qd::options(a);
        if (!opt) return fail(opt.error());
        if (!dry && qd::exists(*out) && !a.flag("force")) {
          return fail(make_error(Errc::kBadArgument,
                                 "output exists (use --force to replace it)", kNoOffset, *out));
        }
        const std::string& in = a.positional()[0];
        auto m = onnx::read_model(in);
        if (!m) return fail(m.error());
        const bool tty = ::isatty(2) == 1;
        std::size_t done = 0;
        opt->on_weight = [&](const std::string& w) {
          ++done;
          if (tty) std::fprintf(stderr, "\rquantizing %zu: %-50.50s", done, w.c_str());
        };
        auto r = onnx::quantize_weights(*m, *opt);
        if (!r) return fail(std::move(r).error().in_file(in));
        std::printf("%s: %s\n", in.c_str(), dry ? "dry run, nothing written" : "quantizing");
        qd::print_plan(*r, dry);
        if (r->rewrite.rewritten == 0) {
          return fail(make_error(Errc::kInvalid,
                                 "no MatMul with a constant 2-D float weight (or Gather table) to quantize; "
                                 "nothing written",
                                 kNoOffset, in));
        }
        onnx::WriteOptions w;
        const bool ext = a.flag("external-data");
        if (ext) w.external = onnx::WriteOptions::External::kExternal;
        std::printf("%s\n", qd::external_reason(*m, w, ext).c_str());
        if (dry) return 0;
        auto st = onnx::write_model(*m, *out, w);
        if (tty && done) std::fprintf(stderr, "\n");
        if (!st) return fail(st.error());
        std::printf("wrote %s\n", out->c_str());
        return 0;
      }};
}

inline Command gguf_to_matmulnbits_command() {
  return {
      "gguf-to-matmulnbits",
      "MODEL.gguf TENSOR -o OUT.onnx [--float16] [--force]",
      "one GGUF Q4_0/Q8_0 weight as a one-node MatMulNBits model, codes and scales carried over",
      {{"output", true, "output .onnx (-o)"},
       {"float16", false, "A, Y and scales in float16 (default float32; both exact)"},
       {"force", false, "replace an existing output file"}},
      [](const Args& a) -> int {
        using namespace edgequant;
        if (a.positional().size() != 2)
          return fail_usage("gguf-to-matmulnbits takes MODEL.gguf and a TENSOR name");
        const auto out = a.value("output");
        if (!out) return fail_usage("gguf-to-matmulnbits needs -o OUT.onnx");
        if (quantize_onnx_detail::exists(*out) && !a.flag("force")) {
          return fail(make_error(Errc::kBadArgument,
                                 "output exists (use --force to replace it)", kNoOffset, *out));
        }
        const std::string& path = a.positional()[0];
        const std::string& name = a.positional()[1];
        auto r = GgufReader<>::open_file(path);
        if (!r) return fail(r.error());
        const gguf::TensorInfo* ti = r->find_tensor(name);
        if (!ti) {
          return fail(make_error(Errc::kNotFound, "tensor '" + name + "' not found", kNoOffset,
                                 path));
        }
        if (ti->n_dims != 2) {
          return fail(make_error(Errc::kUnsupported,
                                 "tensor '" + name + "' is " + std::to_string(ti->n_dims) +
                                     "-D; a MatMul weight is 2-D",
                                 kNoOffset, path));
        }
        GgmlTensor g;
        g.type = ti->type;
        g.cols = static_cast<std::size_t>(ti->ne[0]);
        g.rows = static_cast<std::size_t>(ti->ne[1]);
        const auto bytes = r->tensor_data(*ti);
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
        g.data.assign(p, p + bytes.size());
        auto w = onnx::ggml_to_matmul_nbits(g, a.flag("float16") ? FloatType::kF16
                                                                 : FloatType::kF32);
        if (!w) return fail(std::move(w).error().in_file(path));
        const onnx::Model m = onnx::matmul_nbits_model(*w, name);
        if (auto st = onnx::write_model(m, *out); !st) return fail(st.error());
        std::printf("%s: %s [%lld x %lld] -> MatMulNBits bits=%d block=%lld K=%lld N=%lld (%s)\n",
                    out->c_str(), name.c_str(), static_cast<long long>(w->N),
                    static_cast<long long>(w->K), w->bits, static_cast<long long>(w->block),
                    static_cast<long long>(w->K), static_cast<long long>(w->N), w->how.c_str());
        return 0;
      }};
}

}  // namespace eqcli
