// Real clients on edgequant-written GGUF files: @huggingface/gguf parses them
// and reports our metadata and tensor infos; llama.cpp (node-llama-cpp) gives
// the golden model's exact logits from edgequant's rewrites, re-layouts and
// split sets, and runs a model edgequant wrote from scratch, whose logits
// match a closed form computed here.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "edgequant/quantize.hpp"
#include "formats/gguf_test_util.hpp"
#include "formats/tiny_llama_writer.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_gguf_interop_test {

using namespace edgequant;
namespace gg = edgequant::gguf;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path interop_temp_dir() {
  auto d = fs::temp_directory_path() / ("eq_gguf_interop_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Runs `script` (an ES module) with node; its stdout must be one JSON document.
json run_node(const std::string& node_dir, const fs::path& dir, const char* name,
              const std::string& script, const std::string& arg) {
  const auto path = dir / name;
  std::ofstream(path) << script;
  const std::string cmd = "EQ_NODE_DIR=" + eqtest::shell_quote(node_dir) + " node " +
                          eqtest::shell_quote(path.string()) + " " + eqtest::shell_quote(arg) +
                          " 2>" +
                          eqtest::shell_quote((dir / (std::string(name) + ".err")).string());
  auto r = eqtest::run_command(cmd);
  if (r.rc != 0) {
    std::ifstream err(dir / (std::string(name) + ".err"));
    std::string e((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    FAIL("node " << name << " failed (" << r.rc << "): " << e);
  }
  return json::parse(r.out);
}

// @huggingface/gguf: metadata with GGUF types, tensor infos, data offset.
// BigInts become decimal strings so that 64-bit values stay exact.
constexpr const char* kHfScript = R"JS(
import { pathToFileURL } from "node:url";
const lib = await import(pathToFileURL(process.env.EQ_NODE_DIR + "/node_modules/@huggingface/gguf/dist/index.mjs").href);
const conv = (v) => typeof v === "bigint" ? { big: v.toString() } : Array.isArray(v) ? v.map(conv) : v;
const out = [];
for (const file of JSON.parse(process.argv[2])) {
  const r = await lib.gguf(file, { allowLocalFile: true, typedMetadata: true });
  const md = [];
  for (const [k, v] of Object.entries(r.typedMetadata)) {
    if (k === "version" || k === "tensor_count" || k === "kv_count") continue;
    md.push({ key: k, type: v.type, sub: v.subType ?? null, value: conv(v.value) });
  }
  out.push({ file, version: r.metadata.version, tensor_count: r.metadata.tensor_count.toString(),
             kv_count: r.metadata.kv_count.toString(), data_offset: r.tensorDataOffset.toString(),
             metadata: md,
             tensors: r.tensorInfos.map(t => ({ name: t.name, n_dims: t.n_dims, dtype: t.dtype,
                                                shape: t.shape.map(String), offset: t.offset.toString() })) });
}
console.log(JSON.stringify(out));
)JS";

// node-llama-cpp, one process for every run: per {model, prompt}, tokenize,
// evaluate, all next-token logits.
constexpr const char* kLlamaScript = R"JS(
import { pathToFileURL } from "node:url";
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(process.env.EQ_NODE_DIR + "/node_modules/node-llama-cpp/dist/index.js").href);
const runs = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const out = [];
for (const run of runs) {
  const model = await llama.loadModel({ modelPath: run.model });
  const ctx = await model.createContext({ contextSize: 32, batchSize: 32 });
  const seq = ctx.getSequence();
  const tokens = model.tokenize(run.prompt, false);
  const input = tokens.map((t, i) => i === tokens.length - 1 ? [t, { generateNext: { logits: true, probabilities: true } }] : t);
  const res = await seq.controlledEvaluate(input);
  const next = res[tokens.length - 1].next;
  const logits = new Array(next.logits.size);
  for (const [id, v] of next.logits) logits[id] = v;
  let psum = 0;
  for (const p of next.probabilities.values()) psum += p;
  out.push({ model: run.model, tokens, text: model.detokenize(tokens), logits, psum, n_vocab: next.logits.size });
  await ctx.dispose();
  await model.dispose();
}
await llama.dispose();
console.log(JSON.stringify(out));
)JS";

// Compares one file's @huggingface/gguf view with our reader's.
void check_hf_view(const json& v, const std::string& file) {
  CAPTURE(file);
  auto r = GgufReader<>::open_file(file);
  REQUIRE(r);
  CHECK(v["version"] == 3);
  CHECK(v["kv_count"] == std::to_string(r->metadata().size()));
  CHECK(v["tensor_count"] == std::to_string(r->tensors().size()));
  CHECK(v["data_offset"] == std::to_string(r->data_offset()));
  REQUIRE(v["metadata"].size() == r->metadata().size());
  std::size_t i = 0;
  for (const auto& kv : r->metadata()) {
    const json& m = v["metadata"][i++];
    CAPTURE(kv.key);
    CHECK(m["key"] == kv.key);
    CHECK(m["type"] == static_cast<int>(kv.value.type()));
    const json& val = m["value"];
    switch (kv.value.type()) {
      case gg::Type::kString:
        CHECK(val == kv.value.string());
        break;
      case gg::Type::kUint64:
        CHECK(val["big"] == std::to_string(kv.value.scalar<std::uint64_t>()));
        break;
      case gg::Type::kInt64:
        CHECK(val["big"] == std::to_string(kv.value.scalar<std::int64_t>()));
        break;
      case gg::Type::kFloat32:
        CHECK(static_cast<float>(val.get<double>()) == kv.value.scalar<float>());
        break;
      case gg::Type::kFloat64:
        CHECK(val.get<double>() == kv.value.scalar<double>());
        break;
      case gg::Type::kBool:
        CHECK(val == kv.value.scalar<bool>());
        break;
      case gg::Type::kUint32:
        CHECK(val == kv.value.scalar<std::uint32_t>());
        break;
      case gg::Type::kInt32:
        CHECK(val == kv.value.scalar<std::int32_t>());
        break;
      case gg::Type::kUint16:
        CHECK(val == kv.value.scalar<std::uint16_t>());
        break;
      case gg::Type::kUint8:
        CHECK(val == kv.value.scalar<std::uint8_t>());
        break;
      case gg::Type::kArray: {
        const auto a = kv.value.array();
        CHECK(m["sub"] == static_cast<int>(a.element_type()));
        REQUIRE(val.size() == a.size());
        std::size_t j = 0;
        for (gg::ValueView e : a) {
          const json& x = val[j++];
          if (e.type() == gg::Type::kString) CHECK(x == e.string());
          if (e.type() == gg::Type::kFloat32)
            CHECK(static_cast<float>(x.get<double>()) == e.scalar<float>());
          if (e.type() == gg::Type::kInt32) CHECK(x == e.scalar<std::int32_t>());
          if (e.type() == gg::Type::kBool) CHECK(x == e.scalar<bool>());
        }
        break;
      }
      default:
        break;
    }
  }
  REQUIRE(v["tensors"].size() == r->tensors().size());
  i = 0;
  for (const auto& t : r->tensors()) {
    const json& x = v["tensors"][i++];
    CHECK(x["name"] == t.name);
    CHECK(x["n_dims"] == t.n_dims);
    CHECK(x["dtype"] == static_cast<int>(t.type));
    CHECK(x["offset"] == std::to_string(t.offset));
    REQUIRE(x["shape"].size() == t.n_dims);
    for (std::uint32_t d = 0; d < t.n_dims; ++d) CHECK(x["shape"][d] == std::to_string(t.ne[d]));
  }
}

// The golden model with a different file layout but the same tensors:
// alignment 64, an extra key, tensors in reverse order.
void write_relaid(const GgufReader<>& r, const std::string& path) {
  gg::Layout l = gg::Layout::from(r);
  l.alignment = 64;
  l.metadata.set("general.alignment", std::uint32_t{64});
  l.metadata.set("edgequant.note", "re-laid out by edgequant");
  std::reverse(l.tensors.begin(), l.tensors.end());
  auto f = AtomicFile::create(path);
  REQUIRE(f);
  auto w = gg::Writer<AtomicFile>::begin(std::move(*f), l);
  REQUIRE(w);
  for (const auto& t : l.tensors) REQUIRE(w->write_tensor(r.tensor_data(*r.find_tensor(t.name))));
  REQUIRE(w->finish());
}

}  // namespace

TEST_CASE(
    "interop: @huggingface/gguf parses edgequant-written files and sees our metadata and tensors") {
  const std::string node = eqtest::node_dir_with("@huggingface/gguf");
  if (node.empty()) return;
  const auto dir = interop_temp_dir();
  std::vector<std::string> files;
  eqtest::TinyLlamaOptions zero;
  zero.zero_block_outputs = true;
  REQUIRE(eqtest::write_tiny_llama((dir / "scratch.gguf").string(), zero));
  files.push_back((dir / "scratch.gguf").string());
  if (auto small = eqtest::golden_file("small_all_kv.gguf")) {
    auto r = GgufReader<>::open_file(*small);
    REQUIRE(r);
    REQUIRE(gg::write_copy_file(*r, (dir / "small.gguf").string()));
    files.push_back((dir / "small.gguf").string());
  }
  if (auto tiny = eqtest::golden_file("tiny_llama.gguf")) {
    auto r = GgufReader<>::open_file(*tiny);
    REQUIRE(r);
    write_relaid(*r, (dir / "relaid.gguf").string());
    files.push_back((dir / "relaid.gguf").string());
    auto m = GgufModel<>::open(*tiny);
    REQUIRE(m);
    gg::SplitOptions opt;
    opt.max_tensors = 10;
    auto shards = gg::split(*m, (dir / "tl").string(), opt);
    REQUIRE(shards);
    files.push_back((*shards)[0]);
    files.push_back((*shards)[2]);
  }
  const json out = run_node(node, dir, "hf.mjs", kHfScript, json(files).dump());
  REQUIRE(out.size() == files.size());
  for (std::size_t i = 0; i < files.size(); ++i) check_hf_view(out[i], files[i]);
  MESSAGE("@huggingface/gguf agrees on " << files.size() << " edgequant-written files");
  fs::remove_all(dir);
}

TEST_CASE("interop: llama.cpp runs edgequant's rewrites and a model written from scratch") {
  const std::string node = eqtest::node_dir_with("node-llama-cpp");
  if (node.empty()) return;
  auto golden = eqtest::golden_file("tiny_llama.gguf");
  if (!golden) return;
  const auto dir = interop_temp_dir();
  auto r = GgufReader<>::open_file(*golden);
  REQUIRE(r);
  // The plain rewrite is byte-identical (so llama.cpp cannot tell it apart);
  // a re-laid-out rewrite and a split set (llama.cpp's split loader) must
  // give the golden model's logits bit for bit.
  const auto rewrite = (dir / "rewrite.gguf").string();
  REQUIRE(gg::write_copy_file(*r, rewrite));
  CHECK(eqtest::read_file(rewrite) == eqtest::read_file(*golden));
  const auto relaid = (dir / "relaid.gguf").string();
  write_relaid(*r, relaid);
  auto model = GgufModel<>::open(*golden);
  REQUIRE(model);
  gg::SplitOptions opt;
  opt.max_tensors = 6;
  auto shards = gg::split(*model, (dir / "tl").string(), opt);
  REQUIRE(shards);
  // From scratch: random weights, and the variant with a closed-form output.
  const auto random = (dir / "scratch_random.gguf").string();
  const auto zero = (dir / "scratch_zero.gguf").string();
  REQUIRE(eqtest::write_tiny_llama(random, {}));
  eqtest::TinyLlamaOptions zo;
  zo.zero_block_outputs = true;
  REQUIRE(eqtest::write_tiny_llama(zero, zo));

  // Scratch prompt: words whose every prefix is in the vocabulary tokenize to
  // one token each (add_space_prefix turns ' ' into U+2581).
  const std::string golden_prompt = "the model is on the edge",
                    scratch_prompt = "edge quant model gguf";
  json runs = json::array();
  for (const auto& m : {*golden, relaid, (*shards)[0]})
    runs.push_back({{"model", m}, {"prompt", golden_prompt}});
  for (const auto& m : {random, zero}) runs.push_back({{"model", m}, {"prompt", scratch_prompt}});
  const json res = run_node(node, dir, "llama.mjs", kLlamaScript, runs.dump());
  REQUIRE(res.size() == 5);
  const json& ref = res[0];
  REQUIRE(ref["n_vocab"] == 300);
  CHECK(ref["text"] == golden_prompt);
  for (std::size_t m = 1; m <= 2; ++m) {
    CAPTURE(res[m]["model"]);
    CHECK(res[m]["tokens"] == ref["tokens"]);
    CHECK(res[m]["logits"] == ref["logits"]);  // bit for bit
  }

  const eqtest::TinyVocab vocab = eqtest::tiny_vocab();
  const std::vector<int> expect_tokens = {
      vocab.id("\xE2\x96\x81"
               "edge"),
      vocab.id("\xE2\x96\x81quant"), vocab.id("\xE2\x96\x81model"), vocab.id("\xE2\x96\x81gguf")};
  for (std::size_t m = 3; m <= 4; ++m) {
    const json& run = res[m];
    CHECK(run["tokens"] == expect_tokens);
    CHECK(run["text"] == scratch_prompt);
    CHECK(run["n_vocab"] == vocab.tokens.size());
    CHECK(std::abs(run["psum"].get<double>() - 1.0) < 1e-3);
    for (const auto& l : run["logits"]) CHECK(std::isfinite(l.get<double>()));
  }

  // Closed form for the zero-output model: the last position's hidden state
  // is token_embd[last]; logits = output · (rms_norm(x) ⊙ output_norm).
  auto zr = GgufReader<>::open_file(zero);
  REQUIRE(zr);
  const std::size_t n = eqtest::TinyLlamaShape::n_embd, nv = vocab.tokens.size();
  auto deq = [&](const char* name) {
    auto t = zr->tensor(name);
    REQUIRE(t);
    std::vector<float> out(t->rows() * t->cols());
    REQUIRE(dequantize(t->type(), t->bytes(), t->cols(), out));
    return out;
  };
  const auto emb = deq("token_embd.weight"), out_w = deq("output.weight"),
             norm = deq("output_norm.weight");
  const int last = expect_tokens.back();
  double ss = 0;
  for (std::size_t j = 0; j < n; ++j) ss += double(emb[last * n + j]) * emb[last * n + j];
  const double inv = 1.0 / std::sqrt(ss / n + eqtest::TinyLlamaShape::eps);
  double max_err = 0, max_abs = 0, best_z = -1e300;
  std::size_t best_ours = 0, best_theirs = 0;
  const json& logits = res[4]["logits"];
  REQUIRE(logits.size() == nv);
  for (std::size_t v = 0; v < nv; ++v) {
    double z = 0;
    for (std::size_t j = 0; j < n; ++j)
      z += double(out_w[v * n + j]) * (emb[last * n + j] * inv * norm[j]);
    const double theirs = logits[v].get<double>();
    max_err = std::max(max_err, std::abs(z - theirs));
    max_abs = std::max(max_abs, std::abs(z));
    if (z > best_z) best_z = z, best_ours = v;
    if (theirs > logits[best_theirs].get<double>()) best_theirs = v;
  }
  CHECK(best_ours == best_theirs);
  MESSAGE("llama.cpp vs closed form: max |logit error| " << max_err << " (logits up to " << max_abs
                                                         << ")");
  // llama.cpp quantizes the activations to Q8_0 for the output matmul; a
  // misread tensor (transposed, wrong offset or type) gives errors ~ max_abs.
  CHECK(max_abs > 5);
  CHECK(max_err < 0.02 * max_abs);
  fs::remove_all(dir);
}

}  // namespace eqtest_formats_gguf_interop_test
