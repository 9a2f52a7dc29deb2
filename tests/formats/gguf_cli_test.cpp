// The CLI contracts checked from outside: `inspect --json` (schema
// edgequant.inspect/1, exact values), `validate` exit codes and reasons,
// `gguf-split` / `gguf-merge`.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>
#include <filesystem>
#include <string>

#include "edgequant/formats/gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_gguf_cli_test {

using namespace edgequant;
namespace gg = edgequant::gguf;
namespace fs = std::filesystem;
using json = nlohmann::json;

#ifndef EDGEQUANT_CLI
TEST_CASE("cli: GGUF commands") {
  MESSAGE("SKIPPED: the CLI is not built (EDGEQUANT_BUILD_EXAMPLES=OFF)");
}
#else
namespace {

fs::path cli_temp_dir() {
  auto d = fs::temp_directory_path() / ("eq_gguf_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

eqtest::CommandResult cli(const std::string& args) {
  return eqtest::run_command(eqtest::shell_quote(EDGEQUANT_CLI) + " " + args + " 2>&1");
}
eqtest::CommandResult cli_stdout(const std::string& args) {
  return eqtest::run_command(eqtest::shell_quote(EDGEQUANT_CLI) + " " + args + " 2>/dev/null");
}

const json& kv(const json& doc, const std::string& key) {
  for (const auto& e : doc["metadata"]) {
    if (e["key"] == key) return e;
  }
  static const json none;
  FAIL_CHECK("key " << key << " missing from the JSON");
  return none;
}

void write_bytes(const std::string& path, const std::vector<std::byte>& b) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

}  // namespace

TEST_CASE("cli inspect --json: every value of small_all_kv.gguf exactly, and the tensor table") {
  auto path = eqtest::golden_file("small_all_kv.gguf");
  if (!path) return;
  auto r = cli_stdout("inspect --json --tensors " + eqtest::shell_quote(*path));
  REQUIRE(r.rc == 0);
  const json doc = json::parse(r.out);
  CHECK(doc["schema"] == "edgequant.inspect/1");
  CHECK(doc["format"] == "gguf");
  CHECK(doc["version"] == 3);
  CHECK(doc["file_size"] == 1280);
  CHECK(doc["alignment"] == 32);
  CHECK(doc["metadata_size"] == 845);
  CHECK(doc["data_offset"] == 864);
  CHECK(doc["kv_count"] == 20);
  CHECK(doc["tensor_count"] == 4);
  CHECK(doc["tensor_bytes"] == 28 + 108 + 204 + 20);
  CHECK(doc["tensor_types"] == json::parse(R"({"f16": 1, "f32": 1, "q4_0": 1, "q8_0": 1})"));
  REQUIRE(doc["metadata"].size() == 20);
  CHECK(doc["metadata"][0]["key"] == "t.u8");
  CHECK(doc["metadata"][19]["key"] == "general.alignment");

  CHECK(kv(doc, "t.u8")["type"] == "u8");
  CHECK(kv(doc, "t.u8")["value"] == 200);
  CHECK(kv(doc, "t.i8")["value"] == -100);
  CHECK(kv(doc, "t.u16")["value"] == 60000);
  CHECK(kv(doc, "t.i16")["value"] == -30000);
  CHECK(kv(doc, "t.u32")["value"] == 4000000000u);
  CHECK(kv(doc, "t.i32")["value"] == -2000000000);
  // 64-bit integers are exact JSON integers (not doubles).
  CHECK(kv(doc, "t.u64")["value"].is_number_unsigned());
  CHECK(kv(doc, "t.u64")["value"].get<std::uint64_t>() == 18000000000000000000ull);
  CHECK(kv(doc, "t.i64")["value"].get<std::int64_t>() == -9000000000000000000ll);
  // Floats read back to the same bits.
  CHECK(static_cast<float>(kv(doc, "t.f32")["value"].get<double>()) == 3.14159f);
  CHECK(kv(doc, "t.f32")["type"] == "f32");
  CHECK(kv(doc, "t.f64")["value"].get<double>() == 2.718281828459045);
  CHECK(kv(doc, "t.bool")["value"] == true);
  CHECK(kv(doc, "t.str")["value"] == "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93");
  CHECK(kv(doc, "t.empty")["value"] == "");
  const json& ai = kv(doc, "t.arr.i32");
  CHECK(ai["type"] == "arr");
  CHECK(ai["element_type"] == "i32");
  CHECK(ai["count"] == 5);
  CHECK(ai["value"] == json::parse("[1, -2, 3, -4, 5]"));
  CHECK_FALSE(ai.contains("truncated"));
  const json& af = kv(doc, "t.arr.f32");
  CHECK(static_cast<float>(af["value"][2].get<double>()) == 1e-30f);
  CHECK(kv(doc, "t.arr.str")["value"] ==
        json::parse(R"(["a", "", "ünïcode", "the quick brown fox"])"));
  CHECK(kv(doc, "t.arr.empty")["element_type"] == "u8");
  CHECK(kv(doc, "t.arr.empty")["value"].empty());
  CHECK(kv(doc, "t.arr.bool")["value"] == json::parse("[true, false, true]"));

  REQUIRE(doc["tensors"].size() == 4);
  const json& q = doc["tensors"][1];
  CHECK(q["name"] == "mat.q4_0");
  CHECK(q["type"] == "q4_0");
  CHECK(q["type_id"] == 2);
  CHECK(q["shape"] == json::parse("[64, 3]"));
  CHECK(q["offset"] == 32);
  CHECK(q["file_offset"] == 896);
  CHECK(q["bytes"] == 108);

  // Without --tensors: no table.
  auto plain = cli_stdout("inspect --json " + eqtest::shell_quote(*path));
  REQUIRE(plain.rc == 0);
  CHECK_FALSE(json::parse(plain.out).contains("tensors"));
}

TEST_CASE("cli inspect: long arrays summarised with their length unless --full") {
  auto path = eqtest::golden_file("tiny_llama.gguf");
  if (!path) return;
  auto r = cli_stdout("inspect --json " + eqtest::shell_quote(*path));
  REQUIRE(r.rc == 0);
  const json doc = json::parse(r.out);
  const json& tok = kv(doc, "tokenizer.ggml.tokens");
  CHECK(tok["count"] == 300);
  CHECK(tok["value"].size() == 16);
  CHECK(tok["truncated"] == true);
  CHECK(tok["value"][3] == "<0x00>");
  auto full = cli_stdout("inspect --json --full " + eqtest::shell_quote(*path));
  REQUIRE(full.rc == 0);
  const json fdoc = json::parse(full.out);
  const json& ft = kv(fdoc, "tokenizer.ggml.tokens");
  REQUIRE(ft["value"].size() == 300);
  CHECK_FALSE(ft.contains("truncated"));
  CHECK(ft["value"][259] == "\xE2\x96\x81the");
  CHECK(kv(fdoc, "tokenizer.ggml.scores")["value"][299] == -299);

  auto text = cli_stdout("inspect --tensors " + eqtest::shell_quote(*path));
  REQUIRE(text.rc == 0);
  CHECK(text.out.find("tokenizer.ggml.tokens") != std::string::npos);
  CHECK(text.out.find("(292 more; --full shows all)") != std::string::npos);
  CHECK(text.out.find("blk.1.ffn_down.weight") != std::string::npos);
  CHECK(text.out.find("q6_K") != std::string::npos);
}

TEST_CASE(
    "cli inspect --json: invalid UTF-8, control characters, non-finite floats, nested arrays") {
  const auto dir = cli_temp_dir();
  gg::Layout l;
  l.metadata.set("bad.utf8", std::string_view("a\xFF\xC3(", 4));
  l.metadata.set("ctl", std::string_view("tab\there \"q\" \\ nl\n\x01", 20));
  l.metadata.set("nan", std::numeric_limits<float>::quiet_NaN());
  l.metadata.set("inf", -std::numeric_limits<double>::infinity());
  l.metadata.set("nested", gg::Value::arrays({gg::Value::array<std::uint8_t>({1, 2}),
                                              gg::Value::strings({"z"})}));
  MemorySink s;
  gg::WriterOptions opt;
  opt.allow_nested_arrays = true;
  auto w = gg::Writer<MemorySink&>::begin(s, l, opt);
  REQUIRE(w);
  REQUIRE(w->finish());
  const auto path = (dir / "odd.gguf").string();
  write_bytes(path, s.bytes());
  auto r = cli_stdout("inspect --json " + eqtest::shell_quote(path));
  REQUIRE(r.rc == 0);
  const json doc = json::parse(r.out);  // must be valid JSON at all
  CHECK(kv(doc, "bad.utf8")["value"] == json::parse(R"({"hex": "61ffc328"})"));
  CHECK(kv(doc, "ctl")["value"] == std::string("tab\there \"q\" \\ nl\n\x01", 20));
  CHECK(kv(doc, "nan")["value"] == "nan");
  CHECK(kv(doc, "inf")["value"] == "-inf");
  const json& n = kv(doc, "nested");
  CHECK(n["element_type"] == "arr");
  CHECK(n["value"][0] == json::parse(R"({"element_type": "u8", "count": 2, "value": [1, 2]})"));
  CHECK(n["value"][1]["value"][0] == "z");
  fs::remove_all(dir);
}

TEST_CASE("cli validate: exit 0 only when every file is valid; each bad file with its reason") {
  auto small = eqtest::golden_file("small_all_kv.gguf");
  if (!small) return;
  const auto dir = cli_temp_dir();
  auto bytes = eqtest::as_bytes(eqtest::read_file(*small));
  bytes.resize(1000);  // cut inside the tensor data
  const auto cut = (dir / "cut.gguf").string();
  write_bytes(cut, bytes);
  const auto junk = (dir / "junk.bin").string();
  write_bytes(junk, std::vector<std::byte>(40, std::byte{7}));

  auto good = cli("validate " + eqtest::shell_quote(*small));
  CHECK(good.rc == 0);
  CHECK(good.out.find("ok (GGUF v3, 20 keys, 4 tensors)") != std::string::npos);

  auto bad = cli("validate " + eqtest::shell_quote(*small) + " " + eqtest::shell_quote(cut) + " " +
                 eqtest::shell_quote(junk));
  CHECK(bad.rc == 1);
  CHECK(bad.out.find("cut.gguf: INVALID: offset") != std::string::npos);
  CHECK(bad.out.find("runs past the end of the data section") != std::string::npos);
  CHECK(bad.out.find("junk.bin: INVALID: unknown file format") != std::string::npos);

  auto js =
      cli_stdout("validate --json " + eqtest::shell_quote(*small) + " " + eqtest::shell_quote(cut));
  CHECK(js.rc == 1);
  const json doc = json::parse(js.out);
  REQUIRE(doc["files"].size() == 2);
  CHECK(doc["files"][0]["ok"] == true);
  CHECK(doc["files"][1]["ok"] == false);
  CHECK(doc["files"][1]["code"] == "truncated");
  CHECK(doc["files"][1]["offset"].is_number_unsigned());
  CHECK(doc["files"][1]["format"] == "gguf");

  auto usage = cli("validate");
  CHECK(usage.rc == 2);
  auto missing = cli("inspect " + eqtest::shell_quote((dir / "none.gguf").string()));
  CHECK(missing.rc == 1);
  CHECK(missing.out.find("none.gguf") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE(
    "cli gguf-split / gguf-merge: shards as the library plans them, merge back, no silent "
    "overwrite") {
  auto golden = eqtest::golden_file("tiny_llama.gguf");
  if (!golden) return;
  const auto dir = cli_temp_dir();
  const auto prefix = (dir / "tl").string();
  auto dry = cli("gguf-split --dry-run --split-max-size 200K " + eqtest::shell_quote(*golden) +
                 " " + eqtest::shell_quote(prefix));
  CHECK(dry.rc == 0);
  CHECK(dry.out.find("tl-00005-of-00005.gguf: 3 tensors") != std::string::npos);
  CHECK_FALSE(fs::exists(prefix + "-00001-of-00005.gguf"));

  auto split = cli("gguf-split --split-max-tensors 8 " + eqtest::shell_quote(*golden) + " " +
                   eqtest::shell_quote(prefix));
  REQUIRE(split.rc == 0);
  for (int i = 1; i <= 3; ++i)
    CHECK(fs::exists(prefix + "-0000" + std::to_string(i) + "-of-00003.gguf"));
  // Same bytes as the library's split.
  auto in = GgufModel<>::open(*golden);
  REQUIRE(in);
  gg::SplitOptions opt;
  opt.max_tensors = 8;
  auto lib = gg::split(*in, (dir / "lib").string(), opt);
  REQUIRE(lib);
  CHECK(eqtest::read_file(prefix + "-00002-of-00003.gguf") == eqtest::read_file((*lib)[1]));

  auto again = cli("gguf-split --split-max-tensors 8 " + eqtest::shell_quote(*golden) + " " +
                   eqtest::shell_quote(prefix));
  CHECK(again.rc == 1);
  CHECK(again.out.find("--force") != std::string::npos);

  const auto merged = (dir / "merged.gguf").string();
  auto merge = cli("gguf-merge " + eqtest::shell_quote(prefix + "-00001-of-00003.gguf") + " " +
                   eqtest::shell_quote(merged));
  REQUIRE(merge.rc == 0);
  auto m = GgufReader<>::open_file(merged);
  REQUIRE(m);
  CHECK(m->tensors().size() == 21);
  CHECK(*m->get<std::uint16_t>("split.count") == 0);
  CHECK(cli("validate " + eqtest::shell_quote(merged)).rc == 0);
  CHECK(cli("gguf-split --split-max-size 12X a b").rc == 2);
  CHECK(cli("gguf-split --split-max-size 1M --split-max-tensors 3 a b").rc == 2);
  fs::remove_all(dir);
}
#endif  // EDGEQUANT_CLI

}  // namespace eqtest_formats_gguf_cli_test
