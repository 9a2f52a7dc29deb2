// convert --to openvino: the IR checked by an independent structural validator
// and numpy interpreter of the opset semantics (openvino_validate.py, written
// from specs/openvino.md), its logits against numpy's float64 Hugging Face
// forward pass (hf_reference.py), its compressed weights against NNCF's
// formulas computed in numpy and, bit for bit, against the NNCF schemes'
// dequantized values. OpenVINO itself does not run here.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/convert/to_openvino.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/planes.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_convert_openvino_export_test {

namespace ovexport_test {

namespace fs = std::filesystem;
namespace cv = edgequant::convert;

const char* const kTokens = "[1, 17, 42, 99, 5, 230, 12, 7, 64, 3]";

const fs::path& root() {
  static const fs::path d = [] {
    auto p = fs::temp_directory_path() / ("eq_ov_export_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

fs::path source_model(const std::string& tag, const std::string& args) {
  const fs::path out = root() / tag;
  if (fs::exists(out / "config.json")) return out;
  const std::string cmd = "/usr/bin/python3 " + eqtest::shell_quote(EQ_MAKE_HF_MODEL) + " --out " +
                          eqtest::shell_quote(out.string()) + " " + args + " >/dev/null 2>&1";
  const auto r = eqtest::run_command(cmd);
  REQUIRE_MESSAGE(r.rc == 0, "make_hf_model.py failed: " << cmd);
  return out;
}

nlohmann::json run_json(const std::string& cmd) {
  const auto r = eqtest::run_command(cmd + " 2>&1");
  INFO(cmd);
  INFO(r.out.substr(0, 4000));
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(r.rc == 0);
  return j;
}

// The validator (and, with `extra`, the interpreter); its problems must be empty.
nlohmann::json validate(const fs::path& ir, const std::string& extra = "") {
  auto j = run_json("/usr/bin/python3 " + eqtest::shell_quote(EQ_OV_VALIDATE) + " " +
                    eqtest::shell_quote(ir.string()) + " " + extra);
  INFO(j["problems"].dump().substr(0, 4000));
  CHECK(j["problems"].empty());
  return j;
}

std::vector<double> reference_logits(const fs::path& src, const std::string& tokens = kTokens) {
  const auto j = run_json("/usr/bin/python3 " + eqtest::shell_quote(EQ_HF_REFERENCE) + " " +
                          eqtest::shell_quote(src.string()) + " '" + tokens + "'");
  return j.get<std::vector<double>>();
}

// max |a - b| / max |b|.
double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0, m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(a[i] - b[i]));
    m = std::max(m, std::fabs(b[i]));
  }
  return d / m;
}

cv::OpenVinoOptions options(cv::OvCompression c, int group = 128,
                            edgequant::FloatType dt = edgequant::FloatType::kF16) {
  cv::OpenVinoOptions o;
  o.compress = c;
  o.group = group;
  o.dtype = dt;
  o.threads = 2;
  return o;
}

fs::path exported(const fs::path& src, const std::string& tag, const cv::OpenVinoOptions& o) {
  const fs::path out = root() / tag;
  auto r = cv::to_openvino(src.string(), out.string(), o);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  CHECK(fs::exists(out / "openvino_model.xml"));
  CHECK(fs::file_size(out / "openvino_model.bin") == r->bin_bytes);
  return out;
}

// Every dumped decompressed weight equals the NNCF scheme's dequantization of
// the source weight, bit for bit (`f16_rounded`: each value rounded to f16, as
// strict f16 arithmetic in the Multiply gives).
void check_decompressed(const fs::path& src, const fs::path& dump, const nlohmann::json& weights,
                        bool f16_rounded) {
  auto sm = edgequant::safetensors::ShardedModel::open(src.string());
  REQUIRE(sm);
  std::size_t checked = 0;
  for (const auto& [name, w] : weights.items()) {
    const auto* e = sm->find(name);
    REQUIRE_MESSAGE(e, name);
    const auto rows = static_cast<std::size_t>(e->info->shape[0]),
               cols = static_cast<std::size_t>(e->info->shape[1]);
    std::vector<float> f(rows * cols);
    REQUIRE(edgequant::safetensors::decode_to_f32(e->info->dtype, sm->data(*e), f));
    const std::string type = w["type"].get<std::string>();
    const auto shape = w["shape"].get<std::vector<long>>();
    std::string scheme = std::string("nncf:int") + type[1] + (type[0] == 'u' ? "_asym" : "_sym");
    if (type[1] == '4') scheme += shape.size() == 3 ? ":g" + std::to_string(shape[2]) : ":g-1";
    const auto* s = edgequant::find_plane_scheme(scheme);
    REQUIRE_MESSAGE(s, scheme);
    auto q = edgequant::quantize_planes(*s, f, cols);
    REQUIRE(q);
    std::vector<float> want(rows * cols);
    REQUIRE(edgequant::dequantize_planes(*q, want));
    const auto got = eqtest::read_file<float>((dump / (name + ".f32")).string());
    REQUIRE_MESSAGE(got.size() == want.size(), name);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const float x = f16_rounded ? edgequant::round_to_f16(want[i]) : want[i];
      bad += eqtest::same_bits(got[i], x) ? 0 : 1;
    }
    CHECK_MESSAGE(bad == 0, name << " (" << scheme << "): " << bad << " values differ");
    ++checked;
  }
  CHECK(checked == weights.size());
}

void check_nncf(const nlohmann::json& j) {
  for (const auto& [name, r] : j["nncf"].items()) {
    INFO(name << ": " << r.dump());
    CHECK(r["codes"] == 0);
    CHECK(r["scale"] == 0);
    if (r.contains("zero_point")) CHECK(r["zero_point"] == 0);
  }
}

}  // namespace ovexport_test

using namespace ovexport_test;

TEST_CASE("openvino export: xml attribute escaping") {
  CHECK(edgequant::openvino::xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(edgequant::openvino::xml_escape(std::string("x\ny\x01", 4)) == "x&#10;y&#1;");
  CHECK(edgequant::openvino::xml_escape("model.layers.0.mlp") == "model.layers.0.mlp");
}

TEST_CASE("openvino export: f32 IR, interpreted, equals the float64 HF forward pass") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  const auto out =
      exported(src, "ov_f32", options(cv::OvCompression::kNone, 128, edgequant::FloatType::kF32));
  const auto j = validate(out, std::string("--run '") + kTokens + "'");
  // 2 layers × (7 projections + scores + context) + lm_head.
  CHECK(j["ops"]["MatMul"] == 19);
  CHECK(j["ops"]["Parameter"] == 3);
  CHECK(j["ops"]["Result"] == 1);
  CHECK(j["weights"].empty());
  CHECK(j["finite"] == true);
  const auto ref = reference_logits(src);
  const double d = rel_diff(j["logits"].get<std::vector<double>>(), ref);
  MESSAGE("f32 IR vs numpy float64: max |diff| / max |logit| = " << d);
  CHECK(d < 1e-5);
  // Left padding masked by attention_mask (positions as transformers makes them):
  // the last position's logits do not change.
  const auto jp = validate(out, std::string("--run '") + kTokens + "' --pad 3");
  const double dp = rel_diff(jp["logits"].get<std::vector<double>>(), ref);
  MESSAGE("left-padded by 3: " << dp);
  CHECK(dp < 1e-5);
  // A batch of two rows of different lengths (the shorter one left-padded).
  const std::string shorter = "[9, 8, 7, 300, 2, 1]";
  const auto jb = validate(out, std::string("--run '[") + kTokens + ", " + shorter + "]'");
  REQUIRE(jb["logits_rows"].size() == 2);
  const double b0 = rel_diff(jb["logits_rows"][0].get<std::vector<double>>(), ref);
  const double b1 =
      rel_diff(jb["logits_rows"][1].get<std::vector<double>>(), reference_logits(src, shorter));
  MESSAGE("batch of 2 (lengths 10 and 6): " << b0 << ", " << b1);
  CHECK(b0 < 1e-5);
  CHECK(b1 < 1e-5);
  CHECK(fs::exists(out / "config.json"));
  CHECK(fs::exists(out / "tokenizer.model"));
}

TEST_CASE("openvino export: f16 weights (no compression) stay close") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  const auto out = exported(src, "ov_f16", options(cv::OvCompression::kNone));
  const auto j = validate(out, std::string("--run '") + kTokens + "'");
  const double d = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(src));
  MESSAGE("f16-weight IR vs numpy float64: " << d);
  CHECK(d < 2e-3);
  // 16 weights + 5 norms, each Const f16 → Convert f32 marked as decompression.
  CHECK(j["f16_consts"] == 21);
  CHECK(j["f16_consts_marked"] == 21);
}

TEST_CASE("openvino export: int8_asym, every weight as NNCF computes it") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  const auto out = exported(src, "ov_int8", options(cv::OvCompression::kInt8Asym));
  const fs::path dump = root() / "dump_int8", eff = root() / "eff_int8";
  const auto j = validate(out, std::string("--run '") + kTokens + "' --source " +
                                   eqtest::shell_quote(src.string()) + " --nncf --export-hf " +
                                   eqtest::shell_quote(eff.string()) + " --dump " +
                                   eqtest::shell_quote(dump.string()));
  // 14 projections + embedding + lm_head, all u8 per output channel with a u8 zero point.
  REQUIRE(j["weights"].size() == 16);
  for (const auto& [name, w] : j["weights"].items()) {
    INFO(name);
    CHECK(w["type"] == "u8");
    CHECK(w["shape"].size() == 2);
    CHECK(w["zero_point"] == true);
    CHECK(w["chain"] == nlohmann::json{"Const", "Convert", "Subtract", "Multiply", "Convert"});
  }
  CHECK(j["weights"]["model.embed_tokens.weight"]["consumers"] == nlohmann::json{"Gather"});
  CHECK(j["weights"]["lm_head.weight"]["consumers"] == nlohmann::json{"MatMul"});
  REQUIRE(j["nncf"].size() == 16);
  check_nncf(j);
  check_decompressed(src, dump, j["weights"], false);
  // The graph computes exactly the model with the decompressed weights ...
  const double de = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(eff));
  MESSAGE("int8_asym IR vs numpy float64 of its decompressed weights: " << de);
  CHECK(de < 1e-5);
  // ... and stays near the original (random weights, max |logit| about 0.93).
  const double d = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(src));
  MESSAGE("int8_asym IR vs numpy float64 of the source: " << d);
  CHECK(d < 0.04);
  // Strict f16 arithmetic in the decompression subgraph: the f16-rounded values.
  const fs::path dump16 = root() / "dump_int8_f16";
  const auto js = validate(out, std::string("--run '") + kTokens + "' --f16-math strict --dump " +
                                    eqtest::shell_quote(dump16.string()));
  check_decompressed(src, dump16, js["weights"], true);
}

TEST_CASE("openvino export: int4_asym g128 (embedding and lm_head int8_asym backup)") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  const auto out = exported(src, "ov_int4a", options(cv::OvCompression::kInt4Asym, 128));
  const fs::path dump = root() / "dump_int4a", eff = root() / "eff_int4a";
  const auto j = validate(out, std::string("--run '") + kTokens + "' --source " +
                                   eqtest::shell_quote(src.string()) + " --nncf --export-hf " +
                                   eqtest::shell_quote(eff.string()) + " --dump " +
                                   eqtest::shell_quote(dump.string()));
  REQUIRE(j["weights"].size() == 16);
  std::size_t u4 = 0;
  for (const auto& [name, w] : j["weights"].items()) {
    INFO(name);
    if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
      CHECK(w["type"] == "u8");
      continue;
    }
    ++u4;
    CHECK(w["type"] == "u4");
    REQUIRE(w["shape"].size() == 3);
    CHECK(w["shape"][2] == 128);
    CHECK(w["chain"] ==
          nlohmann::json{"Const", "Convert", "Subtract", "Multiply", "Reshape", "Convert"});
  }
  CHECK(u4 == 14);
  check_nncf(j);
  check_decompressed(src, dump, j["weights"], false);
  const double de = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(eff));
  MESSAGE("int4_asym g128 IR vs numpy float64 of its decompressed weights: " << de);
  CHECK(de < 1e-5);
  const double d = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(src));
  MESSAGE("int4_asym g128 IR vs numpy float64 of the source: " << d);
  CHECK(d < 0.5);
}

TEST_CASE("openvino export: int4_sym g64 and per-channel, tied embeddings, bf16 source") {
  const auto src = source_model("llama_tied_bf16",
                                "--layers 2 --tokenizer bpe --dtype bf16 --tied --arch mistral");
  for (int group : {64, -1}) {
    CAPTURE(group);
    const auto out = exported(src, "ov_int4s_" + std::to_string(group),
                              options(cv::OvCompression::kInt4Sym, group));
    const fs::path dump = root() / ("dump_int4s_" + std::to_string(group)),
                   eff = root() / ("eff_int4s_" + std::to_string(group));
    const auto j = validate(out, std::string("--run '") + kTokens + "' --source " +
                                     eqtest::shell_quote(src.string()) + " --nncf --export-hf " +
                                     eqtest::shell_quote(eff.string()) + " --dump " +
                                     eqtest::shell_quote(dump.string()));
    // Tied: one embedding table (int8_asym backup) feeds both the Gather and the lm_head MatMul.
    REQUIRE(j["weights"].size() == 15);
    CHECK(j["weights"]["model.embed_tokens.weight"]["type"] == "u8");
    CHECK(j["weights"]["model.embed_tokens.weight"]["consumers"] ==
          nlohmann::json{"Gather", "MatMul"});
    const auto& q = j["weights"]["model.layers.1.mlp.down_proj.weight"];
    CHECK(q["type"] == "i4");
    CHECK(q["zero_point"] == false);
    CHECK(q["shape"] == (group > 0 ? nlohmann::json{256, 8, 64} : nlohmann::json{256, 512}));
    check_nncf(j);
    check_decompressed(src, dump, j["weights"], false);
    const double de = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(eff));
    MESSAGE("int4_sym group " << group << " vs numpy float64 of its decompressed weights: " << de);
    CHECK(de < 1e-5);
    const double d = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(src));
    MESSAGE("int4_sym group " << group
                              << " (tied, bf16 source) vs numpy float64 of the source: " << d);
    CHECK(d < 0.5);
  }
}

TEST_CASE("openvino export: Qwen2 (q/k/v biases), from the folder and from its GGUF") {
  const auto src = source_model("qwen2_f16", "--layers 2 --arch qwen2 --tokenizer bpe --dtype f16");
  const auto ref = reference_logits(src);
  const auto out = exported(src, "ov_qwen2_f32",
                            options(cv::OvCompression::kNone, 128, edgequant::FloatType::kF32));
  const auto j = validate(out, std::string("--run '") + kTokens + "'");
  // Per layer: 3 bias Adds, q/k RoPE, 2 residuals, 2 norm eps, the mask; the final norm's eps.
  CHECK(j["ops"]["Add"] == 2 * 10 + 1);
  const double d = rel_diff(j["logits"].get<std::vector<double>>(), ref);
  MESSAGE("Qwen2 f32 IR vs numpy float64: " << d);
  CHECK(d < 1e-5);
  const fs::path eff = root() / "eff_qwen2";
  const auto out4 = exported(src, "ov_qwen2_int4", options(cv::OvCompression::kInt4Asym, 64));
  const auto j4 = validate(out4, std::string("--run '") + kTokens + "' --source " +
                                     eqtest::shell_quote(src.string()) + " --nncf --export-hf " +
                                     eqtest::shell_quote(eff.string()));
  check_nncf(j4);
  const double de = rel_diff(j4["logits"].get<std::vector<double>>(), reference_logits(eff));
  MESSAGE("Qwen2 int4_asym g64 IR vs numpy float64 of its decompressed weights: " << de);
  CHECK(de < 1e-5);
  auto m = cv::HfModel::open(src.string());
  REQUIRE(m);
  cv::Options o;
  o.mix.ftype = *edgequant::llama::parse_ftype("F32");
  o.threads = 2;
  auto p = cv::plan(*m, o);
  REQUIRE(p);
  const fs::path gguf = root() / "qwen2_F32.gguf";
  REQUIRE(cv::convert_file(*m, *p, gguf.string(), o));
  const auto og = exported(gguf, "ov_qwen2_from_gguf",
                           options(cv::OvCompression::kNone, 128, edgequant::FloatType::kF32));
  const auto jg = validate(og, std::string("--run '") + kTokens + "'");
  const double dg = rel_diff(jg["logits"].get<std::vector<double>>(), ref);
  MESSAGE("Qwen2 GGUF F32 → IR vs numpy float64 of the HF folder: " << dg);
  CHECK(dg < 1e-5);
}

TEST_CASE("openvino export: from a GGUF (names mapped back, Q/K permutation undone)") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  auto m = cv::HfModel::open(src.string());
  REQUIRE(m);
  for (const std::string ft : {"F32", "Q8_0"}) {
    CAPTURE(ft);
    cv::Options o;
    o.mix.ftype = *edgequant::llama::parse_ftype(ft);
    o.threads = 2;
    auto p = cv::plan(*m, o);
    REQUIRE(p);
    const fs::path gguf = root() / ("model_" + ft + ".gguf");
    REQUIRE(cv::convert_file(*m, *p, gguf.string(), o));
    const bool f32 = ft == "F32";
    const auto out =
        exported(gguf, "ov_from_" + ft,
                 f32 ? options(cv::OvCompression::kNone, 128, edgequant::FloatType::kF32)
                     : options(cv::OvCompression::kInt8Asym));
    CHECK(fs::exists(out / "config.json"));
    // The SentencePiece vocabulary comes back as tokenizer.model (gguf_tokenizer.hpp).
    CHECK(fs::exists(out / "tokenizer.model"));
    CHECK(fs::exists(out / "tokenizer_config.json"));
    // --source names the tensors (and gives config.json) for the effective-weight folder.
    const fs::path eff = root() / ("eff_gguf_" + ft);
    const auto j = validate(out, std::string("--run '") + kTokens + "' --source " +
                                     eqtest::shell_quote(src.string()) + " --export-hf " +
                                     eqtest::shell_quote(eff.string()));
    const double de = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(eff));
    MESSAGE("GGUF " << ft << " → IR vs numpy float64 of its own weights: " << de);
    CHECK(de < 1e-5);
    const double d = rel_diff(j["logits"].get<std::vector<double>>(), reference_logits(src));
    MESSAGE("GGUF " << ft << " → IR vs numpy float64 of the HF folder: " << d);
    CHECK(d < (f32 ? 1e-5 : 0.05));
  }
}

TEST_CASE("openvino export: the validator itself rejects broken IRs") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  const auto good = exported(src, "ov_mutate_src", options(cv::OvCompression::kInt4Asym));
  const std::string xml = [&] {
    std::ifstream f(good / "openvino_model.xml");
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }();
  struct Mutation {
    std::string from, to, problem;
  };
  // Each edit breaks one rule the reader enforces (specs/openvino.md §1, §2).
  const Mutation cases[] = {
      {"version=\"11\"", "version=\"9\"", "version"},
      {"precision=\"U4\"", "precision=\"U8\"", "precision"},
      {"type=\"SoftMax\" version=\"opset8\"", "type=\"SoftMax\" version=\"opset1\"",
       "version opset1"},
      {"to-port=\"1\" />", "to-port=\"7\" />", "not an input port"},
      {"<dim>128</dim>", "<dim>127</dim>", "dims"},
  };
  for (const auto& m : cases) {
    CAPTURE(m.from);
    const auto at = xml.find(m.from);
    REQUIRE(at != std::string::npos);
    const fs::path bad = root() / "ov_mutated";
    fs::create_directories(bad);
    fs::copy_file(good / "openvino_model.bin", bad / "openvino_model.bin",
                  fs::copy_options::overwrite_existing);
    {
      std::ofstream f(bad / "openvino_model.xml", std::ios::trunc);
      f << xml.substr(0, at) << m.to << xml.substr(at + m.from.size());
    }
    const auto j = run_json("/usr/bin/python3 " + eqtest::shell_quote(EQ_OV_VALIDATE) + " " +
                            eqtest::shell_quote(bad.string()));
    REQUIRE_FALSE(j["problems"].empty());
    CHECK_MESSAGE(j["problems"].dump().find(m.problem) != std::string::npos,
                  j["problems"].dump().substr(0, 600));
  }
  // A Const reaching past the end of the .bin.
  const fs::path bad = root() / "ov_truncated";
  fs::create_directories(bad);
  fs::copy_file(good / "openvino_model.xml", bad / "openvino_model.xml",
                fs::copy_options::overwrite_existing);
  fs::copy_file(good / "openvino_model.bin", bad / "openvino_model.bin",
                fs::copy_options::overwrite_existing);
  fs::resize_file(bad / "openvino_model.bin", fs::file_size(bad / "openvino_model.bin") - 1);
  const auto j = run_json("/usr/bin/python3 " + eqtest::shell_quote(EQ_OV_VALIDATE) + " " +
                          eqtest::shell_quote(bad.string()));
  CHECK(j["problems"].dump().find("outside") != std::string::npos);
}

TEST_CASE("openvino export: refused inputs leave no model behind") {
  const auto phi3 = source_model("phi3", "--layers 1 --arch phi3 --tokenizer spm");
  const fs::path out = root() / "ov_refused";
  auto r = cv::to_openvino(phi3.string(), out.string(), options(cv::OvCompression::kInt8Asym));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == edgequant::Errc::kUnsupported);
  CHECK(r.error().message().find("Phi3ForCausalLM") != std::string::npos);
  // NNCF's group_size_fallback_mode ERROR: hidden 320 does not split into groups of 128.
  const auto odd =
      source_model("hidden320", "--layers 1 --hidden 320 --heads 4 --kv-heads 2 --ff 640");
  r = cv::to_openvino(odd.string(), out.string(), options(cv::OvCompression::kInt4Asym, 128));
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("q_proj.weight") != std::string::npos);
  CHECK_FALSE(fs::exists(out / "openvino_model.xml"));
  CHECK_FALSE(fs::exists(out / "openvino_model.bin"));
  // Group 64 divides 320 and 640: accepted.
  const auto ok = exported(odd, "ov_hidden320_g64", options(cv::OvCompression::kInt4Asym, 64));
  validate(ok, std::string("--run '") + kTokens + "'");
  r = cv::to_openvino(odd.string(), out.string(), options(cv::OvCompression::kInt4Asym, 48));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == edgequant::Errc::kBadArgument);
  r = cv::to_openvino((root() / "missing").string(), out.string(),
                      options(cv::OvCompression::kNone));
  REQUIRE_FALSE(r);
  r = cv::to_openvino((root() / "missing.gguf").string(), out.string(),
                      options(cv::OvCompression::kNone));
  REQUIRE_FALSE(r);
  CHECK_FALSE(fs::exists(out / "openvino_model.xml"));
}

#ifdef EQ_CLI_PATH
TEST_CASE("openvino export: the CLI") {
  const auto src = source_model("llama_f32", "--layers 2 --tokenizer spm --dtype f32");
  const fs::path out = root() / "ov_cli";
  const std::string base = eqtest::shell_quote(EQ_CLI_PATH) + " convert " +
                           eqtest::shell_quote(src.string()) + " --to openvino -o " +
                           eqtest::shell_quote(out.string());
  auto r = eqtest::run_command(base + " --compress int4_asym --group 64 -j 2 2>&1");
  INFO(r.out);
  CHECK(r.rc == 0);
  CHECK(r.out.find("openvino_model.xml") != std::string::npos);
  const auto j = validate(out);
  CHECK(j["weights"]["model.layers.0.self_attn.q_proj.weight"]["shape"] ==
        nlohmann::json{256, 4, 64});
  r = eqtest::run_command(base + " 2>&1");
  CHECK(r.rc == 1);  // already holds a model
  CHECK(r.out.find("--force") != std::string::npos);
  CHECK(eqtest::run_command(base + " --force --compress none --dtype f32 >/dev/null 2>&1").rc == 0);
  CHECK(eqtest::run_command(base + " --force --compress int3 >/dev/null 2>&1").rc == 2);
  CHECK(eqtest::run_command(base + " --force --group 100 --compress int4_sym >/dev/null 2>&1").rc ==
        2);
  r = eqtest::run_command(eqtest::shell_quote(EQ_CLI_PATH) + " convert --help 2>&1");
  CHECK(r.out.find("--to openvino") != std::string::npos);
}
#endif

}  // namespace eqtest_convert_openvino_export_test
