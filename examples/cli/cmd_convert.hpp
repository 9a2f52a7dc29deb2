// `convert`: a Hugging Face model folder → quantized GGUF in one streaming
// step (llama.cpp's mixes); a folder or a GGUF → mlx-lm, ONNX or OpenVINO IR; a GGUF →
// Hugging Face safetensors folder.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/common.hpp"
#include "edgequant/convert/gguf_to_hf.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/convert/gguf_to_mlx.hpp"
#include "edgequant/convert/hf_to_mlx.hpp"
#include "edgequant/convert/to_onnx.hpp"
#include "edgequant/convert/to_openvino.hpp"

namespace eqcli {

namespace convert_detail {

inline std::string shape_str(const edgequant::convert::PlannedTensor& t) {
  std::string s = "[";
  for (std::uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

inline void print_plan(const edgequant::convert::ConvertPlan& p, bool per_tensor) {
  if (per_tensor) {
    std::printf("%-34s %-16s %-8s %12s  %s\n", "tensor", "shape (ne)", "type", "bytes", "reason");
    for (const auto& t : p.tensors) {
      std::printf("%-34s %-16s %-8s %12llu  %s\n", t.name.c_str(), shape_str(t).c_str(),
                  std::string(edgequant::ggml_type_name(t.plan.type)).c_str(),
                  static_cast<unsigned long long>(t.bytes), t.plan.reason.c_str());
    }
  }
  std::printf("total: %zu tensors, %llu tensor bytes, file %llu bytes (%.2f MiB), %.4f bits per weight\n",
              p.tensors.size(), static_cast<unsigned long long>(p.tensor_bytes),
              static_cast<unsigned long long>(p.file_bytes), static_cast<double>(p.file_bytes) / (1 << 20), p.bpw());
  if (p.n_fallback) {
    std::printf("fallbacks: %zu tensors fell back to another type (rows not a multiple of the block size): "
                "%.4f bpw instead of %.4f\n",
                p.n_fallback, p.bpw(), p.bpw_without_fallback());
  } else {
    std::printf("fallbacks: 0 tensors\n");
  }
}

inline int to_gguf(const Args& a, const std::string& in, const std::string& out) {
  namespace cv = edgequant::convert;
  cv::Options opt;
  const std::string type = a.value("type").value_or("F16");
  auto ft = edgequant::llama::parse_ftype(type);
  if (!ft) {
    std::string names;
    for (const auto& i : edgequant::llama::kFtypes) (names += names.empty() ? "" : " ") += std::string(i.name);
    return fail_usage("unknown --type '" + type + "' (one of: " + names + ")");
  }
  opt.mix.ftype = *ft;
  for (const auto& tt : a.values("tensor-type")) {
    const auto eq = tt.rfind('=');
    if (eq == std::string::npos || eq == 0) return fail_usage("--tensor-type needs REGEX=TYPE, got '" + tt + "'");
    auto t = edgequant::parse_ggml_type(tt.substr(eq + 1));
    if (!t) return fail_usage("--tensor-type: unknown ggml type '" + tt.substr(eq + 1) + "'");
    opt.mix.tensor_types.emplace_back(tt.substr(0, eq), *t);
  }
  for (const auto& [flag, slot] : {std::pair{"output-tensor-type", &opt.mix.output_tensor_type},
                                   std::pair{"token-embedding-type", &opt.mix.token_embedding_type}}) {
    if (auto v = a.value(flag)) {
      auto t = edgequant::parse_ggml_type(*v);
      if (!t) return fail_usage(std::string("--") + flag + ": unknown ggml type '" + *v + "'");
      *slot = *t;
    }
  }
  opt.mix.pure = a.flag("pure");
  opt.mix.leave_output_tensor = a.flag("leave-output-tensor");
  auto th = a.uint_value("threads", 0);
  if (!th) return fail(th.error());
  opt.threads = static_cast<unsigned>(*th);
  if (auto n = a.value("name")) opt.name = *n;

  std::optional<edgequant::llama::Imatrix> imatrix;
  if (auto f = a.value("imatrix")) {
    auto im = edgequant::llama::load_imatrix(*f);
    if (!im) return fail(im.error());
    imatrix = std::move(*im);
    opt.imatrix = &*imatrix;
  }
  auto m = cv::HfModel::open(in);
  if (!m) return fail(m.error());
  auto p = cv::plan(*m, opt);
  if (!p) return fail(p.error());
  if (a.flag("dry-run")) {
    print_plan(*p, true);
    return 0;
  }
  if (out.empty()) return fail_usage("convert needs -o OUT.gguf (or --dry-run)");
  if (!a.flag("force") && std::filesystem::exists(out)) {
    std::fprintf(stderr, "edgequant: error: %s exists (use --force to replace it)\n", out.c_str());
    return 1;
  }
  Progress bar("convert", p->tensors.size());
  opt.progress = [&](std::size_t done, std::size_t, std::uint64_t bytes, const std::string& name) {
    bar.update(done, bytes, name);
  };
  auto st = cv::convert_file(*m, *p, out, opt);
  bar.finish();
  if (!st) return fail(st.error());
  std::printf("wrote %s (%s)\n", out.c_str(), std::string(edgequant::llama::ftype_info(*ft)->name).c_str());
  print_plan(*p, false);
  return 0;
}

// "[i/N] tensor" on stderr, redrawn in place, only when stderr is a terminal
// (the CLI's progress contract); end() finishes a line left open by a failure.
class TensorProgress {
 public:
  TensorProgress() : tty_(::isatty(2) == 1) {}
  void operator()(std::size_t done, std::size_t total, const std::string& name) {
    if (!tty_) return;
    std::fprintf(stderr, "\r[%zu/%zu] %-48s", done, total, name.c_str());
    open_ = done != total;
    if (!open_) std::fprintf(stderr, "\n");
  }
  void end() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }

 private:
  bool tty_;
  bool open_ = false;
};

inline int to_safetensors(const Args& a, const std::string& in, const std::string& out) {
  namespace cv = edgequant::convert;
  if (out.empty()) return fail_usage("convert --to safetensors needs -o OUT_DIR");
  cv::ReverseOptions opt;
  const std::string dt = a.value("dtype").value_or("bf16");
  if (dt == "bf16") {
    opt.dtype = edgequant::safetensors::Dtype::kBF16;
  } else if (dt == "f16") {
    opt.dtype = edgequant::safetensors::Dtype::kF16;
  } else if (dt == "f32") {
    opt.dtype = edgequant::safetensors::Dtype::kF32;
  } else {
    return fail_usage("--dtype must be bf16, f16 or f32");
  }
  auto th = a.uint_value("threads", 0);
  if (!th) return fail(th.error());
  opt.threads = static_cast<unsigned>(*th);
  if (!a.flag("force") && std::filesystem::exists(std::filesystem::path(out) / "config.json")) {
    std::fprintf(stderr, "edgequant: error: %s already holds a model (use --force to replace it)\n", out.c_str());
    return 1;
  }
  auto st = cv::gguf_to_hf(in, out, opt);
  if (!st) return fail(st.error());
  std::printf("wrote %s (%s safetensors, config.json, the tokenizer files the GGUF's vocabulary gives)\n",
              out.c_str(), dt.c_str());
  return 0;
}

inline int to_mlx(const Args& a, const std::string& in, const std::string& out) {
  namespace cv = edgequant::convert;
  if (out.empty()) return fail_usage("convert --to mlx needs -o OUT_DIR");
  const bool from_gguf = in.ends_with(".gguf");
  cv::MlxOptions opt;
  auto bits = a.uint_value("bits", 4);
  // From a GGUF, Q4_0/Q4_1/Q8_0 re-pack into groups of 32: make that the top level.
  auto group = a.uint_value("group", from_gguf ? 32 : 64);
  auto th = a.uint_value("threads", 0);
  if (!bits) return fail(bits.error());
  if (!group) return fail(group.error());
  if (!th) return fail(th.error());
  opt.bits = static_cast<int>(*bits);
  opt.group = static_cast<std::size_t>(*group);
  opt.threads = static_cast<unsigned>(*th);
  opt.quantize = !a.flag("no-quantize");
  if (auto r = a.value("recipe")) opt.recipe = *r;
  if (auto r = a.value("type")) {
    return fail_usage("--type picks a llama.cpp mix (GGUF); for --to mlx use --bits, --group and --recipe");
  }
  const std::string backend = a.value("mlx-backend").value_or("metal");
  if (backend == "metal") {
    opt.backend = edgequant::MlxBackend::kMetal;
  } else if (backend == "cpu") {
    opt.backend = edgequant::MlxBackend::kCpu;
  } else {
    return fail_usage("--mlx-backend must be metal or cpu");
  }
  if (auto dt = a.value("dtype")) {
    if (*dt == "bf16") {
      opt.dtype = edgequant::safetensors::Dtype::kBF16;
    } else if (*dt == "f16") {
      opt.dtype = edgequant::safetensors::Dtype::kF16;
    } else if (*dt == "f32") {
      opt.dtype = edgequant::safetensors::Dtype::kF32;
    } else {
      return fail_usage("--dtype must be bf16, f16 or f32");
    }
  }
  if (!a.flag("force") && std::filesystem::exists(std::filesystem::path(out) / "config.json")) {
    std::fprintf(stderr, "edgequant: error: %s already holds a model (use --force to replace it)\n", out.c_str());
    return 1;
  }
  if (from_gguf) {
    TensorProgress bar;
    auto g = cv::gguf_to_mlx(in, out, opt, [&](std::size_t done, std::size_t total, const std::string& name) {
      bar(done, total, name);
    });
    bar.end();
    if (!g) return fail(g.error());
    std::string tok;
    for (const auto& f : g->tokenizer_files) tok += (tok.empty() ? "" : ", ") + f;
    std::printf("wrote %s (mlx-lm folder: %zu re-packed without re-quantizing, %zu re-quantized, %zu cast; "
                "%.1f MiB of tensors; tokenizer: %s)\n",
                out.c_str(), g->repacked, g->requantized, g->kept, static_cast<double>(g->out_bytes) / (1 << 20),
                tok.empty() ? "none in the GGUF" : tok.c_str());
    return 0;
  }
  TensorProgress bar;
  auto p = cv::hf_to_mlx(in, out, opt, [&](std::size_t done, std::size_t total, const cv::MlxPlannedTensor& t) {
    bar(done, total, t.source);
  });
  bar.end();
  if (!p) return fail(p.error());
  std::printf("wrote %s (mlx-lm folder: %zu quantized, %zu kept tensors, %.1f MiB of tensors", out.c_str(),
              p->quantized, p->kept, static_cast<double>(p->out_bytes) / (1 << 20));
  if (opt.quantize) {
    std::printf("; affine %s g%zu, %s arithmetic", opt.recipe.empty() ? (std::to_string(opt.bits) + "-bit").c_str()
                                                                     : opt.recipe.c_str(),
                opt.group, backend.c_str());
  }
  std::printf(")\n");
  return 0;
}

inline int to_onnx(const Args& a, const std::string& in, const std::string& out) {
  namespace cv = edgequant::convert;
  if (out.empty()) return fail_usage("convert --to onnx needs -o OUT_DIR");
  cv::OnnxOptions opt;
  auto bits = a.uint_value("bits", 4);
  auto block = a.uint_value("block", 32);
  auto th = a.uint_value("threads", 0);
  if (!bits) return fail(bits.error());
  if (!block) return fail(block.error());
  if (!th) return fail(th.error());
  opt.bits = static_cast<int>(*bits);
  opt.block = static_cast<std::size_t>(*block);
  opt.threads = static_cast<unsigned>(*th);
  opt.quantize = !a.flag("no-quantize");
  opt.symmetric = !a.flag("asym");
  opt.kv_cache = a.flag("kv-cache");
  if (auto dt = a.value("dtype")) {
    if (*dt == "f32") {
      opt.float_type = edgequant::FloatType::kF32;
    } else if (*dt == "f16") {
      opt.float_type = edgequant::FloatType::kF16;
    } else {
      return fail_usage("--to onnx: --dtype must be f32 or f16");
    }
  }
  if (a.value("type")) return fail_usage("--type picks a llama.cpp mix (GGUF); for --to onnx use --bits and --block");
  if (!a.flag("force") && std::filesystem::exists(std::filesystem::path(out) / "model.onnx")) {
    std::fprintf(stderr, "edgequant: error: %s already holds a model (use --force to replace it)\n", out.c_str());
    return 1;
  }
  TensorProgress bar;
  auto r = cv::to_onnx(in, out, opt, [&](std::size_t done, std::size_t total, const std::string& name) {
    bar(done, total, name);
  });
  bar.end();
  if (!r) return fail(r.error());
  std::printf("wrote %s/model.onnx + model.onnx.data (%s, %zu nodes, IR %lld, opset %lld; %zu MatMulNBits re-packed "
              "without re-quantizing, %zu quantized%s, %zu float matrices; %.1f MiB of weights; also written:",
              out.c_str(), opt.kv_cache ? "KV cache" : "full sequence", r->nodes,
              static_cast<long long>(cv::kOnnxExportIrVersion),
              static_cast<long long>(cv::kOnnxExportOpset), r->repacked, r->quantized,
              opt.quantize ? (" (" + std::to_string(opt.bits) + "-bit block " + std::to_string(opt.block) +
                              (opt.symmetric ? " sym)" : " asym)")).c_str()
                           : "",
              r->float_weights, static_cast<double>(r->weight_bytes) / (1 << 20));
  for (const auto& f : r->copied) std::printf(" %s", f.c_str());
  std::printf(")\n");
  return 0;
}

inline int to_openvino(const Args& a, const std::string& in, const std::string& out) {
  namespace cv = edgequant::convert;
  if (out.empty()) return fail_usage("convert --to openvino needs -o OUT_DIR");
  cv::OpenVinoOptions opt;
  const std::string mode = a.value("compress").value_or("int8_asym");
  auto c = cv::parse_ov_compression(mode);
  if (!c) return fail_usage("--compress must be int8_asym, int8_sym, int4_asym, int4_sym or none");
  opt.compress = *c;
  const std::string group = a.value("group").value_or("128");
  if (group == "-1") {
    opt.group = -1;
  } else if (group == "32" || group == "64" || group == "128") {
    opt.group = std::stoi(group);
  } else {
    return fail_usage("--to openvino: --group must be 32, 64, 128 or -1 (one group per row)");
  }
  const std::string dt = a.value("dtype").value_or("f16");
  if (dt == "f16") {
    opt.dtype = edgequant::FloatType::kF16;
  } else if (dt == "f32") {
    opt.dtype = edgequant::FloatType::kF32;
  } else {
    return fail_usage("--to openvino: --dtype must be f16 or f32");
  }
  auto th = a.uint_value("threads", 0);
  if (!th) return fail(th.error());
  opt.threads = static_cast<unsigned>(*th);
  if (auto n = a.value("name")) opt.model_name = *n;
  if (a.value("type")) return fail_usage("--type picks a llama.cpp mix (GGUF); for --to openvino use --compress");
  if (!a.flag("force") && std::filesystem::exists(std::filesystem::path(out) / "openvino_model.xml")) {
    std::fprintf(stderr, "edgequant: error: %s already holds a model (use --force to replace it)\n", out.c_str());
    return 1;
  }
  TensorProgress bar;
  auto r = cv::to_openvino(in, out, opt, [&](std::size_t done, std::size_t total, const std::string& name) {
    bar(done, total, name);
  });
  bar.end();
  if (!r) return fail(r.error());
  // In the INT4 modes NNCF keeps the embedding and lm_head at INT8: say how many got INT4.
  const std::string int4 = mode.starts_with("int4") ? ", " + std::to_string(r->primary) + " of them INT4" : "";
  std::printf("wrote %s/openvino_model.xml + openvino_model.bin (IR v11, %zu layers; %s: %zu compressed weights%s, "
              "%zu float weights; %.1f MiB .bin)\n",
              out.c_str(), r->layers, mode.c_str(), r->compressed, int4.c_str(), r->float_weights,
              static_cast<double>(r->bin_bytes) / (1 << 20));
  return 0;
}

}  // namespace convert_detail

inline Command convert_command() {
  return {"convert",
          "HF_DIR -o OUT.gguf [--type Q4_K_M] [--dry-run] [--tensor-type REGEX=TYPE]... [--imatrix F] [--threads N]\n"
          "       edgequant convert HF_DIR|IN.gguf -o OUT_DIR --to mlx [--bits 4] [--group 64] [--recipe mixed_3_6]\n"
          "       edgequant convert IN.gguf -o OUT_DIR --to safetensors [--dtype bf16|f16|f32]\n"
          "       edgequant convert HF_DIR|IN.gguf -o OUT_DIR --to onnx [--bits 4|8] [--block 32] [--asym] [--no-quantize] "
          "[--dtype f32|f16] [--kv-cache]\n"
          "       edgequant convert HF_DIR|IN.gguf -o OUT_DIR --to openvino [--compress int8_asym|int8_sym|int4_asym|"
          "int4_sym|none] [--group 128] [--dtype f16|f32]",
          "convert a Hugging Face model folder to a (quantized) GGUF in one streaming step; a folder or a GGUF "
          "to an mlx-lm folder, a runnable ONNX decoder (MatMulNBits) or OpenVINO IR (NNCF compression); a "
          "GGUF back to safetensors (architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, "
          "Phi3ForCausalLM; --to onnx/openvino: the first three)",
          {{"output", true, "output file (GGUF) or folder (--to safetensors|mlx); -o"},
           {"type", true, "llama.cpp mix: F32 F16 BF16 Q8_0 Q4_K_M Q5_K_S Q3_K_L Q2_K IQ4_XS ... (default F16)"},
           {"dry-run", false, "print the per-tensor plan and totals, write nothing"},
           {"tensor-type", true, "REGEX=TYPE: ggml type for matching tensors (repeatable, first wins)"},
           {"output-tensor-type", true, "ggml type of output.weight"},
           {"token-embedding-type", true, "ggml type of token_embd.weight"},
           {"imatrix", true, "llama-imatrix GGUF file: importance weights (needed by IQ1/IQ2 mixes)"},
           {"pure", false, "the mix's base type everywhere (no per-tensor rules)"},
           {"leave-output-tensor", false, "do not quantize output.weight"},
           {"threads", true, "quantization threads (0 = all); -j"},
           {"name", true, "general.name (default: the folder's name)"},
           {"to", true, "'mlx', 'onnx', 'openvino' (from a model folder or a GGUF file) or 'safetensors' (from a GGUF "
                        "file); default: gguf"},
           {"dtype", true, "--to safetensors: bf16 (default), f16 or f32; --to mlx: the model dtype "
                           "(default: config.json's torch_dtype, else each tensor's own); --to onnx: float "
                           "weights f32 (default) or f16; --to openvino: uncompressed float constants f16 (default) or f32"},
           {"bits", true, "--to mlx: affine bits 2, 3, 4 (default), 5, 6 or 8; --to onnx: MatMulNBits 4 (default) or 8"},
           {"group", true, "--to mlx: group size 32, 64 (default; 32 from a GGUF) or 128; --to openvino: INT4 "
                           "group 32, 64, 128 (default) or -1 (per row)"},
           {"block", true, "--to onnx: MatMulNBits block size 32 (default), 64 or 128 (--bits: 4 (default) or 8; "
                           "GGUF Q4_0/Q8_0 weights are re-packed as 4/8-bit block 32 whatever these say)"},
           {"compress", true, "--to openvino: NNCF weight compression int8_asym (default, per channel), int8_sym, "
                              "int4_asym, int4_sym (--group 32, 64, 128 (default) or -1; embedding and lm_head "
                              "int8_asym as NNCF) or none (--dtype f16 (default) or f32 weights)"},
           {"asym", false, "--to onnx: MatMulNBits with zero points (default: symmetric)"},
           {"kv-cache", false, "--to onnx: past_key_values.N.key/value inputs and present.N.key/value "
                               "outputs (default: full-sequence graph)"},
           {"recipe", true, "--to mlx: mlx-lm mixed recipe mixed_2_6, mixed_3_4, mixed_3_6 or mixed_4_6"},
           {"mlx-backend", true, "--to mlx: whose arithmetic, metal (default: what mlx-lm on a Mac "
                                   "writes) or cpu (mlx[cpu] on Linux)"},
           {"no-quantize", false, "--to mlx: only cast to the model dtype (mlx_lm.convert without -q); "
                                  "--to onnx: float weights (--dtype f32 or f16)"},
           {"force", false, "replace an existing output"}},
          [](const Args& a) -> int {
            if (a.positional().size() != 1) return fail_usage("convert needs one input (a model folder or a .gguf)");
            const std::string& in = a.positional()[0];
            const std::string out = a.value("output").value_or("");
            if (auto to = a.value("to")) {
              if (*to == "mlx") return convert_detail::to_mlx(a, in, out);
              if (*to == "onnx") return convert_detail::to_onnx(a, in, out);
              if (*to == "openvino") return convert_detail::to_openvino(a, in, out);
              if (*to == "gguf") {
                if (in.ends_with(".gguf")) return fail_usage("input is already a GGUF file");
                return convert_detail::to_gguf(a, in, out);
              }
              if (*to != "safetensors") return fail_usage("--to supports gguf, mlx, onnx, openvino and safetensors");
              return convert_detail::to_safetensors(a, in, out);
            }
            if (in.ends_with(".gguf")) {
              return fail_usage("input is a GGUF file: use --to safetensors for the reverse conversion");
            }
            return convert_detail::to_gguf(a, in, out);
          }};
}

}  // namespace eqcli
