// Tokenizer files rebuilt from a GGUF (gguf_tokenizer.hpp), checked against
// the Hugging Face folder the GGUF was converted from: the SentencePiece model
// through python's sentencepiece (same pieces, same ids for sample texts), the
// BPE tokenizer.json field by field against the source's.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "edgequant/convert/gguf_to_hf.hpp"
#include "edgequant/convert/gguf_to_mlx.hpp"
#include "edgequant/convert/gguf_tokenizer.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_convert_tokenizer_export_test {

namespace fs = std::filesystem;
namespace cv = edgequant::convert;

const fs::path& tok_tmp_root() {
  static const fs::path d = [] {
    auto p = fs::temp_directory_path() / ("eq_tok_export_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

// A small generated HF folder and its F32 GGUF.
fs::path tok_gguf(const std::string& tag, const std::string& tokenizer) {
  const fs::path src = tok_tmp_root() / tag;
  const fs::path gguf = tok_tmp_root() / (tag + ".gguf");
  if (fs::exists(gguf)) return gguf;
  const std::string cmd = "/usr/bin/python3 " + eqtest::shell_quote(EQ_MAKE_HF_MODEL) + " --out " +
                          eqtest::shell_quote(src.string()) + " --layers 1 --hidden 64 --heads 2 --kv-heads 1 --ff 128 " +
                          "--tokenizer " + tokenizer + " >/dev/null 2>&1";
  REQUIRE_MESSAGE(eqtest::run_command(cmd).rc == 0, "make_hf_model.py failed: " << cmd);
  auto m = cv::HfModel::open(src.string());
  REQUIRE_MESSAGE(m, eqtest::why(m));
  cv::Options o;
  o.mix.ftype = *edgequant::llama::parse_ftype("F32");
  auto p = cv::plan(*m, o);
  REQUIRE_MESSAGE(p, eqtest::why(p));
  auto st = cv::convert_file(*m, *p, gguf.string(), o);
  REQUIRE_MESSAGE(st, eqtest::why(st));
  return gguf;
}

nlohmann::json read_json_file(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

// "a b" whatever the source's merge format ("a b" or ["a", "b"]).
std::vector<std::string> merge_strings(const nlohmann::json& merges) {
  std::vector<std::string> out;
  for (const auto& m : merges) out.push_back(m.is_string() ? m.get<std::string>() : m[0].get<std::string>() + " " + m[1].get<std::string>());
  return out;
}

constexpr const char* kSpmCheck = R"PY(
import json, sys
import sentencepiece as spm
a = spm.SentencePieceProcessor(model_file=sys.argv[1])
b = spm.SentencePieceProcessor(model_file=sys.argv[2])
n = a.get_piece_size()
same_pieces = n == b.get_piece_size() and all(
    a.id_to_piece(i) == b.id_to_piece(i) and a.get_score(i) == b.get_score(i) for i in range(n))
texts = ["the model runs fast", "a tiny edge quant weight", "convert the tensor format",
         "token vocab merge rope norm attention", "Hello, World! 123", "x  y   z", "\u00e9t\u00e9 \u4e2d\u6587"]
diff = [t for t in texts if a.encode(t) != b.encode(t)]
print(json.dumps({"n": n, "same_pieces": same_pieces, "diff": diff,
                  "unk": b.unk_id(), "bos": b.bos_id(), "eos": b.eos_id()}))
)PY";

TEST_CASE("tokenizer from GGUF: SentencePiece vocabulary → tokenizer.model that encodes like the original") {
  const fs::path gguf = tok_gguf("spm", "spm");
  const fs::path out = tok_tmp_root() / "spm_hf";
  auto st = cv::gguf_to_hf(gguf.string(), out.string());
  REQUIRE_MESSAGE(st, eqtest::why(st));
  REQUIRE(fs::exists(out / "tokenizer.model"));
  const fs::path script = tok_tmp_root() / "spm_check.py";
  std::ofstream(script) << kSpmCheck;
  const auto r = eqtest::run_command("/usr/bin/python3 " + eqtest::shell_quote(script.string()) + " " +
                                     eqtest::shell_quote((tok_tmp_root() / "spm" / "tokenizer.model").string()) + " " +
                                     eqtest::shell_quote((out / "tokenizer.model").string()) + " 2>&1");
  INFO(r.out);
  REQUIRE(r.rc == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["n"].get<int>() > 256);  // 256 byte pieces + merges
  CHECK(j["same_pieces"].get<bool>());
  // Every text encodes identically; only runs of spaces may differ (kept, as
  // llama.cpp keeps them; a trainer normalizer that collapses them would not).
  for (const auto& t : j["diff"]) CHECK_MESSAGE(t.get<std::string>() == "x  y   z", "differs: " << t);
  // make_hf_model.py trains with unk 0, bos 1, eos 2.
  CHECK(j["unk"] == 0);
  CHECK(j["bos"] == 1);
  CHECK(j["eos"] == 2);
  const auto tc = read_json_file(out / "tokenizer_config.json");
  CHECK(tc["tokenizer_class"] == "LlamaTokenizer");
  CHECK(tc["bos_token"] == "<s>");
  CHECK(tc["eos_token"] == "</s>");
  CHECK(tc["add_bos_token"] == true);
}

TEST_CASE("tokenizer from GGUF: BPE vocabulary → tokenizer.json equal to the source's") {
  const fs::path gguf = tok_gguf("bpe", "bpe");
  const fs::path out = tok_tmp_root() / "bpe_hf";
  auto st = cv::gguf_to_hf(gguf.string(), out.string());
  REQUIRE_MESSAGE(st, eqtest::why(st));
  const auto src = read_json_file(tok_tmp_root() / "bpe" / "tokenizer.json");
  const auto got = read_json_file(out / "tokenizer.json");
  CHECK(got["model"]["type"] == "BPE");
  CHECK(got["model"]["vocab"] == src["model"]["vocab"]);
  CHECK(merge_strings(got["model"]["merges"]) == merge_strings(src["model"]["merges"]));
  CHECK(got["pre_tokenizer"] == src["pre_tokenizer"]);  // the Llama 3 split, through tokenizer.ggml.pre
  REQUIRE(got["added_tokens"].size() == src["added_tokens"].size());
  for (std::size_t i = 0; i < src["added_tokens"].size(); ++i) {
    for (const char* k : {"id", "content", "special"}) CHECK(got["added_tokens"][i][k] == src["added_tokens"][i][k]);
  }
  const auto tc = read_json_file(out / "tokenizer_config.json");
  CHECK(tc["bos_token"] == "<|begin_of_text|>");
  CHECK(tc["eos_token"] == "<|end_of_text|>");
  CHECK(tc["tokenizer_class"] == "PreTrainedTokenizerFast");
}

TEST_CASE("tokenizer from GGUF: the MLX export carries it too") {
  const fs::path gguf = tok_gguf("bpe", "bpe");
  const fs::path out = tok_tmp_root() / "bpe_mlx";
  cv::MlxOptions opt;
  auto r = cv::gguf_to_mlx(gguf.string(), out.string(), opt);
  REQUIRE_MESSAGE(r, eqtest::why(r));
  CHECK(r->tokenizer_files == std::vector<std::string>{"tokenizer.json", "tokenizer_config.json"});
  CHECK(fs::exists(out / "tokenizer.json"));
}

TEST_CASE("tokenizer from GGUF: malformed or missing vocabularies") {
  using eqtest::GgufBytes;
  auto build = [](bool short_types, const char* model) {
    GgufBytes b;
    b.header(0, 3).kv_str("tokenizer.ggml.model", model);
    b.key("tokenizer.ggml.tokens", 9).u32(8).u64(2).str("a").str("b");
    b.key("tokenizer.ggml.token_type", 9).u32(5).u64(short_types ? 1 : 2).i32(1);
    if (!short_types) b.i32(3);
    return b.pad(32);
  };
  {
    const auto b = build(true, "gpt2");
    auto r = eqtest::parse(b.bytes());
    REQUIRE_MESSAGE(r, eqtest::why(r));
    auto v = cv::vocab_from_gguf(*r);
    REQUIRE_FALSE(v);
    CHECK(v.error().message().find("token_type has 1 entries for 2 tokens") != std::string::npos);
  }
  {
    const auto b = build(false, "bert");
    auto r = eqtest::parse(b.bytes());
    REQUIRE_MESSAGE(r, eqtest::why(r));
    auto w = cv::write_tokenizer_from_gguf(*r, tok_tmp_root());
    REQUIRE_FALSE(w);
    CHECK(w.error().message().find("\"bert\" cannot be written back") != std::string::npos);
  }
  {
    // gpt2 with one normal and one control token: vocab {a: 0}, added [b].
    const auto b = build(false, "gpt2");
    auto r = eqtest::parse(b.bytes());
    REQUIRE_MESSAGE(r, eqtest::why(r));
    auto v = cv::vocab_from_gguf(*r);
    REQUIRE_MESSAGE(v, eqtest::why(v));
    REQUIRE(v->has_value());
    auto j = cv::bpe_tokenizer_json(**v);
    REQUIRE(j);
    CHECK((*j)["model"]["vocab"] == nlohmann::json{{"a", 0}});
    REQUIRE((*j)["added_tokens"].size() == 1);
    CHECK((*j)["added_tokens"][0]["content"] == "b");
    CHECK((*j)["added_tokens"][0]["special"] == true);
  }
  {
    GgufBytes b;
    b.header(0, 1).kv_str("general.architecture", "llama").pad(32);
    auto r = eqtest::parse(b.bytes());
    REQUIRE_MESSAGE(r, eqtest::why(r));
    auto w = cv::write_tokenizer_from_gguf(*r, tok_tmp_root() / "none");
    REQUIRE_MESSAGE(w, eqtest::why(w));
    CHECK(w->empty());
  }
}

}  // namespace eqtest_convert_tokenizer_export_test
