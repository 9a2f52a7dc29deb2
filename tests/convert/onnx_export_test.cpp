// convert --to onnx: decoders exported from generated Hugging Face folders and
// from GGUF files run in onnxruntime-node; their logits are compared with
// llama.cpp (node-llama-cpp) on the GGUF our converter writes from the same
// folder and with the numpy float64 HF forward pass; GGUF Q4_0/Q8_0 weights
// re-packed into MatMulNBits decode to ggml's values exactly; errors; the CLI.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "convert/runtime_util.hpp"
#include "edgequant/convert/gguf_to_hf.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/convert/to_onnx.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/onnx.hpp"
#include "edgequant/quantize.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_convert_onnx_export_test {

namespace eq_onnx_export {

using namespace edgequant;
namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path& root() { return eqrt::tmp_root("eq_onnx_export"); }

fs::path model(const std::string& tag, const std::string& args) {
  return eqrt::hf_model(EQ_MAKE_HF_MODEL, root(), tag, args);
}

// The ordinary test model: llama, 2 layers, 4 query heads sharing 2 kv heads.
fs::path llama_model() {
  return model("llama_spm",
               "--arch llama --tokenizer spm --dtype f32 --layers 2 --heads 4 --kv-heads 2");
}

fs::path to_gguf(const fs::path& src, llama::Ftype f, const std::string& file) {
  auto m = convert::HfModel::open(src.string());
  REQUIRE_MESSAGE(m, (m ? "" : m.error().message()));
  convert::Options o;
  o.mix.ftype = f;
  o.threads = 2;
  auto p = convert::plan(*m, o);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
  const fs::path out = root() / file;
  auto st = convert::convert_file(*m, *p, out.string(), o);
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
  return out;
}

convert::OnnxExportResult export_onnx(const std::string& src, const std::string& out,
                                      const convert::OnnxOptions& o) {
  auto r = convert::to_onnx(src, (root() / out).string(), o);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

convert::OnnxOptions float_options(FloatType t = FloatType::kF32) {
  convert::OnnxOptions o;
  o.quantize = false;
  o.float_type = t;
  o.threads = 2;
  return o;
}
convert::OnnxOptions nbits_options(int bits, std::size_t block, bool sym) {
  convert::OnnxOptions o;
  o.bits = bits;
  o.block = block;
  o.symmetric = sym;
  o.threads = 2;
  return o;
}

std::string ort_dir() {
  static const std::string d = eqtest::node_dir_with("onnxruntime-node");
  return d;
}

// Runs the exported folder in onnxruntime (all graph optimizations).
eqrt::OrtLogits run_ort(const std::string& out, const std::vector<std::int64_t>& ids) {
  auto r = eqrt::ort_decoder(EQ_ORT_RUN, ort_dir(), root(), root() / out / "model.onnx", ids);
  REQUIRE_MESSAGE(r.ok, r.error);
  REQUIRE(r.dims.size() == 3);
  CHECK(r.dims[0] == 1);
  CHECK(r.dims[1] == static_cast<std::int64_t>(ids.size()));
  return r;
}

// Fixed token ids (inside every test vocabulary) when llama.cpp is not there to tokenize.
const std::vector<std::int64_t> kIds{1, 17, 42, 99, 7, 250, 3, 128};

// Reads an exported model back (external data loaded) and checks it.
onnx::Model read_back(const std::string& out) {
  auto m = onnx::read_model((root() / out / "model.onnx").string());
  REQUIRE_MESSAGE(m, (m ? "" : m.error().message()));
  const auto rep = onnx::validate(*m);
  for (const auto& f : rep.findings)
    MESSAGE((f.error ? "error: " : "warning: ") << f.where << ": " << f.what);
  CHECK(rep.ok());
  CHECK(m->ir_version == convert::kOnnxExportIrVersion);
  CHECK(m->opset_version("") == convert::kOnnxExportOpset);
  return std::move(*m);
}

std::vector<float> initializer_floats(const onnx::Model& m, const std::string& name) {
  const onnx::Tensor* t = m.graph->find_initializer(name);
  REQUIRE_MESSAGE(t, name);
  auto f = onnx::to_floats(*t);
  REQUIRE(f);
  return *f;
}

// MatMulNBits B / scales / zero points decoded by specs/onnx.md §6.3, written
// here from the spec: B [N, nb, blob] holds block b of row n, element k of a
// block in bits (k·bits) mod 8 of byte k·bits/8 (low nibble first); value =
// (q − zp)·scale, zp = 2^(bits−1) without zero points. Returns W [N, K].
std::vector<float> decode_nbits(const onnx::Model& m, const std::string& module, int bits,
                                std::int64_t N, std::int64_t K, std::int64_t block) {
  const onnx::Tensor* B = m.graph->find_initializer(module + ".weight_Q" + std::to_string(bits));
  REQUIRE_MESSAGE(B, module);
  const auto scales = initializer_floats(m, module + ".weight_scales");
  const onnx::Tensor* Z = m.graph->find_initializer(module + ".weight_zero_points");
  const std::int64_t nb = (K + block - 1) / block, blob = block * bits / 8;
  REQUIRE(B->dims == std::vector<std::int64_t>{N, nb, blob});
  REQUIRE(static_cast<std::int64_t>(scales.size()) == N * nb);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(B->data.data());
  std::vector<float> w(static_cast<std::size_t>(N * K));
  const std::int64_t zpb = (nb * bits + 7) / 8;  // zero-point bytes per row
  for (std::int64_t n = 0; n < N; ++n) {
    for (std::int64_t k = 0; k < K; ++k) {
      const std::int64_t b = k / block, e = k % block;
      const std::uint8_t byte = bytes[(n * nb + b) * blob + e * bits / 8];
      const int q = bits == 8 ? byte : (e % 2 ? byte >> 4 : byte & 15);
      int zp = 1 << (bits - 1);
      if (Z) {
        const std::uint8_t zb = static_cast<std::uint8_t>(Z->data.data()[n * zpb + b * bits / 8]);
        zp = bits == 8 ? zb : (b % 2 ? zb >> 4 : zb & 15);
      }
      w[static_cast<std::size_t>(n * K + k)] =
          static_cast<float>(q - zp) * scales[static_cast<std::size_t>(n * nb + b)];
    }
  }
  return w;
}

// A GGUF tensor dequantized by ggml's formula (our decoder, checked against
// ggml elsewhere) with llama.cpp's Q/K row permutation undone by hand:
// GGUF row r of head h holds HF row h·hd + (r mod hd mod 2)·hd/2 + (r mod hd)/2.
std::vector<float> gguf_rows_hf(const gguf::Reader<>& r, const std::string& name,
                                std::uint32_t heads) {
  const auto* t = r.find_tensor(name);
  REQUIRE_MESSAGE(t, name);
  const auto rows = static_cast<std::size_t>(t->ne[1]), cols = static_cast<std::size_t>(t->ne[0]);
  std::vector<float> v(rows * cols), out(rows * cols);
  REQUIRE(dequantize(t->type, r.tensor_data(*t), cols, v));
  const std::size_t hd = heads ? rows / heads : 0;
  for (std::size_t row = 0; row < rows; ++row) {
    std::size_t dst = row;
    if (heads) dst = row / hd * hd + (row % hd % 2) * (hd / 2) + (row % hd) / 2;
    std::memcpy(out.data() + dst * cols, v.data() + row * cols, cols * 4);
  }
  return out;
}

struct Cli {
  int rc = -1;
  std::string out;
};
Cli run_cli(const std::string& args) {
  Cli c;
#ifdef EQ_CLI_PATH
  const auto r = eqtest::run_command(std::string(EQ_CLI_PATH) + " " + args + " 2>&1");
  c.rc = r.rc;
  c.out = r.out;
#else
  (void)args;
#endif
  return c;
}

}  // namespace eq_onnx_export

using namespace eq_onnx_export;

TEST_CASE("onnx export: F32 decoder equals llama.cpp and the numpy forward pass") {
  const fs::path src = llama_model();
  const auto res = export_onnx(src.string(), "llama_f32", float_options());
  CHECK(res.repacked == 0);
  CHECK(res.quantized == 0);
  CHECK(res.float_weights == 2 * 7 + 2);  // 7 linears per layer, embedding, lm_head
  CHECK(fs::exists(root() / "llama_f32" / "model.onnx.data"));
  CHECK(fs::exists(root() / "llama_f32" / "tokenizer.model"));
  CHECK(fs::exists(root() / "llama_f32" / "config.json"));
  const onnx::Model m = read_back("llama_f32");
  // Graph interface: input_ids int64 [batch, sequence] → logits float [batch, sequence, 320].
  REQUIRE(m.graph->input.size() == 1);
  CHECK(m.graph->input[0].name == "input_ids");
  CHECK(m.graph->input[0].type->elem_type == static_cast<std::int32_t>(onnx::DataType::kInt64));
  REQUIRE(m.graph->output.size() == 1);
  CHECK(m.graph->output[0].name == "logits");
  CHECK(m.graph->output[0].type->shape->dims[2].value == 320);
  // Float weights are the source's values (q_proj transposed, rows in HF order).
  {
    auto w = safetensors::ShardedModel::open(src.string());
    REQUIRE(w);
    const auto* e = w->find("model.layers.1.self_attn.q_proj.weight");
    REQUIRE(e);
    std::vector<float> hf(static_cast<std::size_t>(e->info->numel()));
    REQUIRE(safetensors::decode_to_f32(e->info->dtype, w->data(*e), hf));
    const auto t = initializer_floats(m, "model.layers.1.self_attn.q_proj.weight_T");  // [K, N]
    const std::size_t N = e->info->shape[0], K = e->info->shape[1];
    REQUIRE(t.size() == N * K);
    bool same = true;
    for (std::size_t n = 0; n < N && same; ++n)
      for (std::size_t k = 0; k < K; ++k) same = same && t[k * N + n] == hf[n * K + k];
    CHECK(same);
  }

  if (ort_dir().empty()) return;
  std::vector<std::int64_t> ids = kIds;
  std::vector<double> llama_last;
  const std::string node = eqtest::node_dir_with("node-llama-cpp");
  if (!node.empty()) {
    const fs::path gguf = to_gguf(src, llama::Ftype::kAllF32, "llama_F32.gguf");
    const json res_l = eqrt::run_llama(
        node, root(),
        json::array({{{"model", gguf.string()}, {"prompt", "the model is on the edge"}}}));
    REQUIRE(res_l.size() == 1);
    ids = res_l[0]["tokens"].get<std::vector<std::int64_t>>();
    llama_last = res_l[0]["logits"].get<std::vector<double>>();
  }
  REQUIRE(ids.size() >= 3);
  const auto o = run_ort("llama_f32", ids);
  const auto& last = o.rows.back();
  const auto ref = eqrt::reference_logits(EQ_HF_REFERENCE, src, json(ids));
  const eqrt::Diff dr = eqrt::diff(last, ref);
  MESSAGE("F32 ONNX (ORT) vs numpy float64 HF: max |Δ| "
          << dr.max_abs << " (max |logit| " << dr.max_ref << ", relative " << dr.rel() << ")");
  CHECK(dr.max_abs <= 1e-5 * dr.max_ref + 1e-6);
  // Every position, not only the last: the causal mask keeps earlier rows
  // independent of later tokens (prefix run = same rows).
  const std::vector<std::int64_t> prefix(ids.begin(), ids.begin() + 3);
  const auto op = run_ort("llama_f32", prefix);
  for (std::size_t p = 0; p < prefix.size(); ++p) {
    const eqrt::Diff d = eqrt::diff(op.rows[p], o.rows[p]);
    CHECK(d.max_abs <= 1e-5 * d.max_ref + 1e-6);
  }
  // A batch of two sequences: each row as when run alone.
  std::vector<std::int64_t> two(ids.rbegin(), ids.rend());
  two.insert(two.begin(), ids.begin(), ids.end());
  const auto ob = eqrt::ort_decoder(EQ_ORT_RUN, ort_dir(), root(),
                                    root() / "llama_f32" / "model.onnx", two, "all", 2);
  REQUIRE_MESSAGE(ob.ok, ob.error);
  CHECK(ob.dims == std::vector<std::int64_t>{2, static_cast<std::int64_t>(ids.size()), 320});
  const auto orev = run_ort("llama_f32", std::vector<std::int64_t>(ids.rbegin(), ids.rend()));
  REQUIRE(ob.rows.size() == 2 * ids.size());
  for (std::size_t p = 0; p < ids.size(); ++p) {
    CHECK(eqrt::diff(ob.rows[p], o.rows[p]).max_abs <= 1e-5 * dr.max_ref);
    CHECK(eqrt::diff(ob.rows[ids.size() + p], orev.rows[p]).max_abs <= 1e-5 * dr.max_ref);
  }
  if (!llama_last.empty()) {
    const eqrt::Diff dl = eqrt::diff(last, llama_last);
    MESSAGE("F32 ONNX (ORT) vs llama.cpp F32 GGUF (F32 KV cache): max |Δ| "
            << dl.max_abs << " (max |logit| " << dl.max_ref << ", relative " << dl.rel() << ")");
    CHECK(dl.max_abs <= 1e-5 * dl.max_ref + 1e-6);
  }
}

TEST_CASE("onnx export: Qwen2 (q/k/v biases, tied embeddings, f16 source) and f16 weights") {
  const fs::path src =
      model("qwen2_bpe", "--arch qwen2 --tokenizer bpe --dtype f16 --layers 2 --tied");
  const auto res = export_onnx(src.string(), "qwen2_f32", float_options());
  CHECK(res.float_weights == 2 * 7 + 1);  // tied: the embedding table serves as lm_head
  CHECK(fs::exists(root() / "qwen2_f32" / "tokenizer.json"));
  read_back("qwen2_f32");
  export_onnx(src.string(), "qwen2_f16", float_options(FloatType::kF16));
  const onnx::Model m16 = read_back("qwen2_f16");
  CHECK(m16.graph->find_initializer("model.embed_tokens.weight")->data_type ==
        static_cast<std::int32_t>(onnx::DataType::kFloat16));
  if (ort_dir().empty()) return;
  const auto ref = eqrt::reference_logits(EQ_HF_REFERENCE, src, json(kIds));
  const auto o = run_ort("qwen2_f32", kIds);
  const eqrt::Diff d = eqrt::diff(o.rows.back(), ref);
  MESSAGE("Qwen2 F32 ONNX vs numpy HF: max |Δ| " << d.max_abs << " (max |logit| " << d.max_ref
                                                 << ")");
  CHECK(d.max_abs <= 1e-5 * d.max_ref + 1e-6);
  // The source is f16, so f16 weights hold it exactly: same logits up to float32 rounding.
  const auto o16 = run_ort("qwen2_f16", kIds);
  const eqrt::Diff d16 = eqrt::diff(o16.rows.back(), ref);
  MESSAGE("Qwen2 f16-weight ONNX vs numpy HF: max |Δ| " << d16.max_abs);
  CHECK(d16.max_abs <= 1e-5 * d16.max_ref + 1e-6);
}

TEST_CASE("onnx export: MatMulNBits 4-bit and 8-bit stay close to F32") {
  const fs::path src = llama_model();
  export_onnx(src.string(), "llama_f32", float_options());
  struct Case {
    int bits;
    std::size_t block;
    bool sym;
    double bound;  // max |Δ| / max |logit| against the F32 export
  };
  // Bounds from the measured errors of this random tiny model (weights ~0.02,
  // noise-like logits): 4-bit b32 sym ≈ 20 %, 4-bit b128 asym ≈ 28 %, 8-bit ≈ 1.5 %.
  const Case cases[] = {{4, 32, true, 0.30}, {4, 128, false, 0.40}, {8, 64, true, 0.03}};
  double rms4 = 0, rms8 = 0;
  std::vector<double> f32;
  if (!ort_dir().empty()) f32 = run_ort("llama_f32", kIds).rows.back();
  for (const auto& c : cases) {
    const std::string out =
        "llama_q" + std::to_string(c.bits) + "_b" + std::to_string(c.block) + (c.sym ? "s" : "a");
    CAPTURE(out);
    const auto res = export_onnx(src.string(), out, nbits_options(c.bits, c.block, c.sym));
    CHECK(res.quantized == 2 * 7);
    CHECK(res.float_weights == 2);  // embedding and lm_head stay float
    const onnx::Model m = read_back(out);
    CHECK(m.opset_version("com.microsoft") == 1);
    // The written planes decode to within one step of the source weight (half
    // a step of rounding; ORT's symmetric grid reaches -8·s but only +7·s, and
    // its asymmetric zero point is rounded: another half step at most).
    auto w = safetensors::ShardedModel::open(src.string());
    REQUIRE(w);
    const auto* e = w->find("model.layers.0.mlp.down_proj.weight");
    REQUIRE(e);
    std::vector<float> hf(static_cast<std::size_t>(e->info->numel()));
    REQUIRE(safetensors::decode_to_f32(e->info->dtype, w->data(*e), hf));
    const auto N = static_cast<std::int64_t>(e->info->shape[0]),
               K = static_cast<std::int64_t>(e->info->shape[1]);
    const auto dq = decode_nbits(m, "model.layers.0.mlp.down_proj", c.bits, N, K,
                                 static_cast<std::int64_t>(c.block));
    const auto scales = initializer_floats(m, "model.layers.0.mlp.down_proj.weight_scales");
    const std::int64_t nb = K / static_cast<std::int64_t>(c.block);
    double worst = 0;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t k = 0; k < K; ++k) {
        const double s = std::abs(
            scales[static_cast<std::size_t>(n * nb + k / static_cast<std::int64_t>(c.block))]);
        const double err = std::abs(dq[static_cast<std::size_t>(n * K + k)] -
                                    hf[static_cast<std::size_t>(n * K + k)]);
        worst = std::max(worst, s > 0 ? err / s : err);
      }
    CHECK(worst <= 1.0 + 1e-4);
    if (f32.empty()) continue;
    const auto o = run_ort(out, kIds);
    const eqrt::Diff d = eqrt::diff(o.rows.back(), f32);
    MESSAGE(out << " vs F32 ONNX: max |Δ| " << d.max_abs << " = " << d.rel() * 100
                << "% of max |logit|; RMS ratio " << d.rms_ratio * 100 << "%");
    CHECK(d.rel() <= c.bound);
    if (c.bits == 8) rms8 = d.rms_ratio;
    if (c.bits == 4 && c.sym) rms4 = d.rms_ratio;
  }
  if (!f32.empty()) CHECK(rms8 * 5 <= rms4);  // 8-bit error well below 4-bit's
}

TEST_CASE("onnx export: GGUF Q4_0 / Q8_0 weights are re-packed exactly, and run like llama.cpp") {
  const fs::path src = llama_model();
  struct Case {
    llama::Ftype ft;
    int bits;
    std::string tag;
  };
  for (const Case& c :
       {Case{llama::Ftype::kQ4_0, 4, "Q4_0"}, Case{llama::Ftype::kQ8_0, 8, "Q8_0"}}) {
    const llama::Ftype ft = c.ft;
    const int bits = c.bits;
    const std::string& tag = c.tag;  // not a structured binding: CAPTURE's lambda takes it
    CAPTURE(tag);
    const fs::path gguf = to_gguf(src, ft, "llama_" + tag + ".gguf");
    auto r = gguf::Reader<>::open_file(gguf.string());
    REQUIRE(r);
    std::size_t blocks = 0;
    for (const auto& t : r->tensors()) {
      const std::string n(t.name);
      if (t.n_dims == 2 && n.starts_with("blk.") &&
          (t.type == GgmlType::kQ4_0 || t.type == GgmlType::kQ8_0))
        ++blocks;
    }
    CHECK(blocks == 2 * 7);  // every layer linear is Q4_0 (Q8_0) in this mix
    const std::string out = "gguf_" + tag;
    // --bits/--block do not apply to re-packed weights.
    const auto res = export_onnx(gguf.string(), out, nbits_options(4, 128, false));
    CHECK(res.repacked == blocks);
    // The tokenizer is rebuilt from the GGUF's vocabulary (SentencePiece here).
    CHECK(fs::exists(root() / out / "tokenizer.model"));
    CHECK(fs::exists(root() / out / "tokenizer_config.json"));
    CHECK(res.quantized == 0);
    const onnx::Model m = read_back(out);
    // Every re-packed weight decodes to ggml's dequantized values, bit for bit,
    // in HF row order (Q/K permutation undone).
    const std::uint32_t nh = 4, nkv = 2;
    struct L {
      const char* gguf;
      const char* hf;
      std::uint32_t heads;
    };
    const L layers[] = {{"attn_q", "self_attn.q_proj", nh}, {"attn_k", "self_attn.k_proj", nkv},
                        {"attn_v", "self_attn.v_proj", 0},  {"attn_output", "self_attn.o_proj", 0},
                        {"ffn_gate", "mlp.gate_proj", 0},   {"ffn_up", "mlp.up_proj", 0},
                        {"ffn_down", "mlp.down_proj", 0}};
    std::size_t checked = 0, mismatches = 0;
    for (int l = 0; l < 2; ++l) {
      for (const auto& x : layers) {
        const std::string gn = "blk." + std::to_string(l) + "." + x.gguf + ".weight";
        const auto* t = r->find_tensor(gn);
        REQUIRE(t);
        const auto want = gguf_rows_hf(*r, gn, x.heads);
        const auto got = decode_nbits(m, "model.layers." + std::to_string(l) + "." + x.hf, bits,
                                      static_cast<std::int64_t>(t->ne[1]),
                                      static_cast<std::int64_t>(t->ne[0]), 32);
        REQUIRE(got.size() == want.size());
        for (std::size_t i = 0; i < got.size(); ++i)
          mismatches += got[i] != want[i];  // == : ±0 alike
        ++checked;
      }
    }
    CHECK(checked == 14);
    CHECK(mismatches == 0);

    if (ort_dir().empty()) continue;
    // The whole graph on exactly those weights: the numpy float64 forward pass
    // of the GGUF dequantized to an f32 safetensors folder (gguf_to_hf).
    const fs::path deq = root() / ("deq_" + tag);
    convert::ReverseOptions ro;
    ro.dtype = safetensors::Dtype::kF32;
    REQUIRE(convert::gguf_to_hf(gguf.string(), deq.string(), ro));
    const auto ref = eqrt::reference_logits(EQ_HF_REFERENCE, deq, json(kIds));
    const auto od = run_ort(out, kIds);
    const eqrt::Diff dd = eqrt::diff(od.rows.back(), ref);
    MESSAGE("GGUF " << tag << " → ONNX (ORT) vs numpy on the GGUF's dequantized weights: max |Δ| "
                    << dd.max_abs << " (max |logit| " << dd.max_ref << ")");
    CHECK(dd.max_abs <= 1e-5 * dd.max_ref + 1e-6);
    const std::string node = eqtest::node_dir_with("node-llama-cpp");
    if (node.empty()) continue;
    const json lr =
        eqrt::run_llama(node, root(), json::array({{{"model", gguf.string()}, {"tokens", kIds}}}));
    const auto llama_last = lr[0]["logits"].get<std::vector<double>>();
    const auto o = run_ort(out, kIds);
    const eqrt::Diff d = eqrt::diff(o.rows.back(), llama_last);
    // llama.cpp quantizes the activations to Q8_0 (Q8_K/Q8_1) for these
    // matmuls; ORT's MatMulNBits (accuracy_level unset) multiplies in float.
    MESSAGE("GGUF " << tag << " → ONNX (ORT) vs llama.cpp on the same GGUF: max |Δ| " << d.max_abs
                    << " = " << d.rel() * 100 << "% of max |logit|; RMS ratio " << d.rms_ratio * 100
                    << "%");
    CHECK(d.rel() <= 0.05);
    CHECK(d.rms_ratio <= 0.04);
  }
}

TEST_CASE("onnx export: Mistral (sharded bf16, BPE, tied) and a K-quant GGUF (re-quantized)") {
  const fs::path src = model(
      "mistral_bpe", "--arch mistral --tokenizer bpe --dtype bf16 --shards 3 --layers 2 --tied");
  const auto res = export_onnx(src.string(), "mistral_f32", float_options());
  CHECK(res.float_weights == 2 * 7 + 1);
  read_back("mistral_f32");
  // Q4_K_M: Q4_K / Q6_K weights cannot be carried over: dequantized, then
  // quantized to MatMulNBits 4-bit.
  const fs::path gguf = to_gguf(src, llama::Ftype::kQ4_K_M, "mistral_Q4_K_M.gguf");
  const auto rq = export_onnx(gguf.string(), "mistral_q4km", nbits_options(4, 32, true));
  CHECK(rq.repacked == 0);
  CHECK(rq.quantized == 2 * 7);
  read_back("mistral_q4km");
  if (ort_dir().empty()) return;
  const auto ref = eqrt::reference_logits(EQ_HF_REFERENCE, src, json(kIds));
  const eqrt::Diff d = eqrt::diff(run_ort("mistral_f32", kIds).rows.back(), ref);
  MESSAGE("Mistral F32 ONNX vs numpy HF: max |Δ| " << d.max_abs << " (max |logit| " << d.max_ref
                                                   << ")");
  CHECK(d.max_abs <= 1e-5 * d.max_ref + 1e-6);
  const eqrt::Diff dq = eqrt::diff(run_ort("mistral_q4km", kIds).rows.back(), ref);
  MESSAGE("Mistral Q4_K_M GGUF → 4-bit ONNX vs numpy HF: max |Δ| "
          << dq.max_abs << " = " << dq.rel() * 100 << "% of max |logit|");
  CHECK(dq.rel() <= 0.5);
}

TEST_CASE("onnx export: KV cache (--kv-cache): two steps equal one full-sequence run") {
  const fs::path src = llama_model();
  export_onnx(src.string(), "llama_f32", float_options());
  auto o = float_options();
  o.kv_cache = true;
  export_onnx(src.string(), "llama_kv", o);
  const onnx::Model m = read_back("llama_kv");
  REQUIRE(m.graph->input.size() == 1 + 2 * 2);
  REQUIRE(m.graph->output.size() == 1 + 2 * 2);
  CHECK(m.graph->input[1].name == "past_key_values.0.key");
  CHECK(m.graph->output[4].name == "present.1.value");
  if (ort_dir().empty()) return;
  const auto full = run_ort("llama_f32", kIds);
  const std::int64_t nkv = 2, hd = 64;
  // Step 1: 5 tokens, empty past. Step 2: the last 3 tokens on step 1's present.
  const std::size_t split = 5;
  std::vector<eqrt::OrtInput> in1{
      eqrt::ort_input("input_ids", "int64", {1, static_cast<std::int64_t>(split)},
                      std::vector<std::int64_t>(kIds.begin(), kIds.begin() + split))};
  const std::vector<float> none;
  for (int l = 0; l < 2; ++l)
    for (const char* w : {"key", "value"})
      in1.push_back(eqrt::ort_input("past_key_values." + std::to_string(l) + "." + w, "float32",
                                    {1, nkv, 0, hd}, none));
  const auto r1 =
      eqrt::ort_run(EQ_ORT_RUN, ort_dir(), root(), root() / "llama_kv" / "model.onnx", in1);
  REQUIRE_MESSAGE(r1.ok, r1.error);
  std::vector<eqrt::OrtInput> in2{
      eqrt::ort_input("input_ids", "int64", {1, static_cast<std::int64_t>(kIds.size() - split)},
                      std::vector<std::int64_t>(kIds.begin() + split, kIds.end()))};
  for (int l = 0; l < 2; ++l) {
    for (const char* w : {"key", "value"}) {
      const auto& p = r1.out.at("present." + std::to_string(l) + "." + w);
      CHECK(p.dims == std::vector<std::int64_t>{1, nkv, static_cast<std::int64_t>(split), hd});
      const std::vector<float> f(p.data.begin(), p.data.end());  // float32 values, exact
      in2.push_back(
          eqrt::ort_input("past_key_values." + std::to_string(l) + "." + w, "float32", p.dims, f));
    }
  }
  const auto r2 =
      eqrt::ort_run(EQ_ORT_RUN, ort_dir(), root(), root() / "llama_kv" / "model.onnx", in2);
  REQUIRE_MESSAGE(r2.ok, r2.error);
  CHECK(r2.out.at("present.1.key").dims ==
        std::vector<std::int64_t>{1, nkv, static_cast<std::int64_t>(kIds.size()), hd});
  auto rows = eqrt::logit_rows(r1.out.at("logits"));
  const auto rows2 = eqrt::logit_rows(r2.out.at("logits"));
  rows.insert(rows.end(), rows2.begin(), rows2.end());
  REQUIRE(rows.size() == full.rows.size());
  double worst = 0, top = 0;
  for (std::size_t p = 0; p < rows.size(); ++p) {
    const eqrt::Diff d = eqrt::diff(rows[p], full.rows[p]);
    worst = std::max(worst, d.max_abs);
    top = std::max(top, d.max_ref);
  }
  MESSAGE("KV cache, 5 + 3 tokens vs one 8-token run: max |Δ| " << worst << " (max |logit| " << top
                                                                << ")");
  CHECK(worst <= 1e-5 * top);
}

TEST_CASE("onnx export: errors") {
  // Unsupported architecture (Phi-3: fused qkv).
  const fs::path phi = model(
      "phi3_spm", "--arch phi3 --tokenizer spm --dtype f32 --layers 1 --heads 4 --kv-heads 4");
  auto r = convert::to_onnx(phi.string(), (root() / "phi_out").string(), float_options());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::kUnsupported);
  CHECK(r.error().message().find("Phi3ForCausalLM") != std::string::npos);
  CHECK_FALSE(fs::exists(root() / "phi_out" / "model.onnx"));
  // Bad bits / block.
  const fs::path src = llama_model();
  for (auto [bits, block] : {std::pair{6, std::size_t{32}}, std::pair{2, std::size_t{32}},
                             std::pair{4, std::size_t{48}}}) {
    auto e = convert::to_onnx(src.string(), (root() / "bad_out").string(),
                              nbits_options(bits, block, true));
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Errc::kBadArgument);
  }
  CHECK_FALSE(fs::exists(root() / "bad_out" / "model.onnx"));
  // Not a model folder.
  CHECK_FALSE(convert::to_onnx((src / "config.json").string(), (root() / "bad_out").string(),
                               float_options()));
}

TEST_CASE("onnx export: the CLI") {
#ifndef EQ_CLI_PATH
  MESSAGE("SKIPPED: the edgequant CLI is not built");
#else
  const fs::path src = llama_model();
  const std::string out = (root() / "cli_out").string();
  auto c = run_cli("convert " + eqtest::shell_quote(src.string()) + " --to onnx -o " +
                   eqtest::shell_quote(out) + " --bits 4 --block 32 -j 2");
  CHECK_MESSAGE(c.rc == 0, c.out);
  CHECK(c.out.find("wrote") != std::string::npos);
  CHECK(fs::exists(fs::path(out) / "model.onnx"));
  CHECK(fs::exists(fs::path(out) / "model.onnx.data"));
  // An existing model is not replaced without --force.
  c = run_cli("convert " + eqtest::shell_quote(src.string()) + " --to onnx -o " +
              eqtest::shell_quote(out));
  CHECK(c.rc == 1);
  c = run_cli("convert " + eqtest::shell_quote(src.string()) + " --to onnx -o " +
              eqtest::shell_quote(out) + " --force --no-quantize --dtype f16");
  CHECK_MESSAGE(c.rc == 0, c.out);
  // Usage errors: exit 2.
  c = run_cli("convert " + eqtest::shell_quote(src.string()) + " --to onnx -o " +
              eqtest::shell_quote((root() / "cli_bad").string()) + " --bits 3");
  CHECK(c.rc == 2);
  CHECK(c.out.find("--bits must be 4 or 8") != std::string::npos);
  c = run_cli("convert " + eqtest::shell_quote(src.string()) + " --to onnx -o " +
              eqtest::shell_quote((root() / "cli_bad").string()) + " --dtype bf16");
  CHECK(c.rc == 2);
  CHECK_FALSE(fs::exists(root() / "cli_bad" / "model.onnx"));
  c = run_cli("convert --help");
  CHECK(c.out.find("--to onnx") != std::string::npos);
#endif
}

}  // namespace eqtest_convert_onnx_export_test
