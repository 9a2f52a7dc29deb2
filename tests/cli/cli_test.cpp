// Contract tests of the edgequant executable (the interface outside checks
// use): quantize-raw / dequantize-raw against ggml's golden files for every
// type the CLI lists, `types --json` against the golden types.txt, and the
// error cases (exit status, message, no output left behind). Sizes come from
// the golden `cols` file and `types --json`, never from constants here.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Run {
  int status = -1;  // exit status
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Scratch folder, removed at exit.
const fs::path& scratch() {
  static const struct Dir {
    fs::path p;
    Dir() {
      p = fs::temp_directory_path() / ("eq_cli_test_" + std::to_string(::getpid()));
      fs::create_directories(p);
    }
    ~Dir() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } dir;
  return dir.p;
}

// Runs the edgequant executable with `args`; stdout and stderr captured.
Run run_cli(const std::vector<std::string>& args) {
  const char* env = std::getenv("EDGEQUANT_CLI");  // another build of the executable
  std::string cmd = quote(env && *env ? env : EDGEQUANT_CLI_PATH);
  // Appended piecewise: `" " + std::string` trips GCC 12's -Wrestrict false
  // positive at -O3 (GCC bug 105329).
  for (const auto& a : args) (cmd += ' ') += quote(a);
  const fs::path o = scratch() / "stdout.txt", e = scratch() / "stderr.txt";
  ((((cmd += " >") += quote(o.string())) += " 2>") += quote(e.string()));
  Run r;
  const int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  fs::remove(o);
  fs::remove(e);
  return r;
}

void write_file(const fs::path& p, const void* data, std::size_t n) {
  std::ofstream f(p, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

struct TypeRow {
  std::string name;
  unsigned id = 0;
  std::size_t block = 0, bytes = 0;
  bool requires_imatrix = false;
};

// `edgequant types --json`, parsed.
std::vector<TypeRow> cli_types() {
  const Run r = run_cli({"types", "--json"});
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);  // throws (fails the test) if malformed
  std::vector<TypeRow> v;
  for (const auto& t : j.at("types")) {
    // Ecosystem plane schemes (ort:/nncf:/mlx:) have no ggml id (null).
    if (t.at("id").is_null()) {
      CHECK(t.at("family").get<std::string>() != "ggml");
      continue;
    }
    TypeRow row;
    row.name = t.at("name").get<std::string>();
    row.id = t.at("id").get<unsigned>();
    row.block = t.at("block_size").get<std::size_t>();
    row.bytes = t.at("type_size").get<std::size_t>();
    row.requires_imatrix = t.at("requires_imatrix").get<bool>();
    CHECK(t.at("bpw").get<double>() == doctest::Approx(8.0 * row.bytes / row.block));
    v.push_back(row);
  }
  return v;
}

struct Golden {
  fs::path dir;
  std::size_t cols = 0;
};

// ../shared/golden (or $EDGEQUANT_GOLDEN_DIR); null, with a visible skip
// message, when absent. (test_util.hpp would compile every kernel here.)
const Golden* golden() {
  static const Golden g = [] {
    Golden r;
    const char* env = std::getenv("EDGEQUANT_GOLDEN_DIR");
#ifdef EDGEQUANT_GOLDEN_DIR
    r.dir = env && *env ? env : EDGEQUANT_GOLDEN_DIR;
#else
    r.dir = env && *env ? env : "";
#endif
    if (!r.dir.empty() && fs::exists(r.dir / "cols")) r.cols = std::stoul(slurp(r.dir / "cols"));
    return r;
  }();
  if (!g.cols) MESSAGE("SKIPPED: golden data not found (set EDGEQUANT_GOLDEN_DIR)");
  return g.cols ? &g : nullptr;
}

// No temp file of an abandoned atomic write is left in `dir`.
bool no_temp_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find("edgequant-tmp") != std::string::npos) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("cli: types --json parses and agrees with ggml's type table") {
  const auto types = cli_types();
  REQUIRE_FALSE(types.empty());
  std::map<unsigned, int> seen;
  for (const auto& t : types) CHECK(++seen[t.id] == 1);
  const Golden* g = golden();
  if (!g) return;
  // types.txt: `type enum_id block_size block_bytes row_bytes ...`, '#' comments.
  std::ifstream f(g->dir / "types.txt");
  std::string line;
  std::size_t matched = 0;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string name;
    unsigned id;
    std::size_t block, bytes, row_bytes;
    int req;
    s >> name >> id >> block >> bytes >> row_bytes >> req;
    REQUIRE(s);
    for (const auto& t : types) {
      if (upper(t.name) != name) continue;
      CAPTURE(name);
      CHECK(t.id == id);
      CHECK(t.block == block);
      CHECK(t.bytes == bytes);
      CHECK(t.requires_imatrix == (req != 0));
      ++matched;
    }
  }
  MESSAGE(matched << " of the CLI's " << types.size() << " types are in the golden types.txt");
  CHECK(matched > 0);
}

TEST_CASE("cli: quantize-raw and dequantize-raw reproduce ggml's golden files") {
  const Golden* g = golden();
  if (!g) return;
  const fs::path input = g->dir / "input.f32", imatrix = g->dir / "imatrix.f32";
  std::size_t checked = 0;
  for (const auto& t : cli_types()) {
    const std::string up = upper(t.name);
    const fs::path q = g->dir / (up + ".q"), qi = g->dir / (up + ".imat.q"),
                   deq = g->dir / (up + ".deq.f32");
    if (!fs::exists(q) && !fs::exists(qi)) continue;
    CAPTURE(t.name);
    const std::string cols = std::to_string(g->cols);
    const fs::path out = scratch() / (t.name + ".bin");
    if (fs::exists(q)) {
      // Lower-case name, default threads.
      const Run r =
          run_cli({"quantize-raw", "--type", t.name, "--cols", cols, input.string(), out.string()});
      CHECK_MESSAGE(r.status == 0, r.err);
      CHECK(slurp(out) == slurp(q));
      ++checked;
    }
    if (fs::exists(qi)) {
      // ggml's upper-case spelling and two threads.
      const Run r = run_cli({"quantize-raw", "--type", up, "--cols", cols, "--threads", "2",
                             "--imatrix", imatrix.string(), input.string(), out.string()});
      CHECK_MESSAGE(r.status == 0, r.err);
      CHECK(slurp(out) == slurp(qi));
      ++checked;
    }
    if (fs::exists(deq)) {
      // The first rows of the quantized file (of .imat.q where ggml needs one).
      const std::string src = slurp(t.requires_imatrix ? qi : q);
      const std::string want = slurp(deq);
      const std::size_t rows = want.size() / (g->cols * sizeof(float));
      const std::size_t row_bytes = g->cols / t.block * t.bytes;
      REQUIRE(src.size() >= rows * row_bytes);
      const fs::path qin = scratch() / (t.name + ".rows.bin"), fout = scratch() / (t.name + ".f32");
      write_file(qin, src.data(), rows * row_bytes);
      const Run r = run_cli(
          {"dequantize-raw", "--type", t.name, "--cols", cols, qin.string(), fout.string()});
      CHECK_MESSAGE(r.status == 0, r.err);
      CHECK(slurp(fout) == want);
      ++checked;
      fs::remove(qin);
      fs::remove(fout);
    }
    fs::remove(out);
  }
  MESSAGE(checked << " golden files reproduced through the CLI");
  CHECK(checked > 0);
}

TEST_CASE("cli: errors give the documented exit status and leave no output") {
  const Golden* g = golden();
  const std::size_t cols = g ? g->cols : 256;
  const auto types = cli_types();
  // A block-quantized type (block > 1) and its block size, from the CLI itself.
  TypeRow blk;
  for (const auto& t : types) {
    if (t.block > 1 && !t.requires_imatrix) {
      blk = t;
      break;
    }
  }
  REQUIRE(blk.block > 1);
  const fs::path dir = scratch() / "errors";
  fs::create_directories(dir);
  const fs::path out = dir / "out.bin";
  std::vector<float> x(cols * 3);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i));
  const fs::path in = dir / "in.f32";
  write_file(in, x.data(), x.size() * 4);
  const std::string scols = std::to_string(cols);

  auto expect_fail = [&](const std::vector<std::string>& args, int status,
                         const std::string& text) {
    CAPTURE(text);
    const Run r = run_cli(args);
    CHECK(r.status == status);
    CHECK_MESSAGE(r.err.find(text) != std::string::npos, r.err);
    CHECK_FALSE(fs::exists(out));
    CHECK(no_temp_files(dir));
  };

  expect_fail({"quantize-raw", "--type", "q9_9", "--cols", scols, in.string(), out.string()}, 2,
              "unknown type 'q9_9'");
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", std::to_string(blk.block + 1),
               in.string(), out.string()},
              2, "block size " + std::to_string(blk.block));
  expect_fail({"quantize-raw", "--type", blk.name, in.string(), out.string()}, 2, "--cols");
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, in.string()}, 2,
              "IN.f32 and OUT.bin");

  // Not a whole number of rows (one extra block of values), not whole floats.
  const fs::path ragged = dir / "ragged.f32";
  write_file(ragged, x.data(), (cols + blk.block) * 4);
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, ragged.string(), out.string()},
              1, "not a whole number of rows");
  write_file(ragged, x.data(), cols * 4 + 2);
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, ragged.string(), out.string()},
              1, "not a multiple of 4");

  // NaN / Inf: the message names the element (index, row, column).
  const std::size_t bad = cols + 7;
  for (float v :
       {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    std::vector<float> y = x;
    y[bad] = v;
    const fs::path nan = dir / "nan.f32";
    write_file(nan, y.data(), y.size() * 4);
    expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, nan.string(), out.string()},
                1, "element " + std::to_string(bad) + " (row 1, column 7)");
    fs::remove(nan);
  }

  // Missing files: input, imatrix; an imatrix of the wrong length.
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, (dir / "absent.f32").string(),
               out.string()},
              1, "absent.f32");
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, "--imatrix",
               (dir / "absent_imatrix.f32").string(), in.string(), out.string()},
              1, "absent_imatrix.f32");
  const fs::path short_imat = dir / "short.f32";
  write_file(short_imat, x.data(), (cols - 1) * 4);
  expect_fail({"quantize-raw", "--type", blk.name, "--cols", scols, "--imatrix",
               short_imat.string(), in.string(), out.string()},
              1, "expected " + scols);

  // dequantize-raw: a partial row, an unknown type.
  const fs::path partial = dir / "partial.bin";
  write_file(partial, x.data(), cols / blk.block * blk.bytes + 1);
  expect_fail(
      {"dequantize-raw", "--type", blk.name, "--cols", scols, partial.string(), out.string()}, 1,
      "not a whole number of");
  expect_fail({"dequantize-raw", "--type", "nope", "--cols", scols, partial.string(), out.string()},
              2, "unknown type");

  // A failed run leaves an existing output untouched (atomic replace).
  write_file(out, "old", 3);
  std::vector<float> y = x;
  y[bad] = std::numeric_limits<float>::quiet_NaN();
  const fs::path nan = dir / "nan.f32";
  write_file(nan, y.data(), y.size() * 4);
  const Run r =
      run_cli({"quantize-raw", "--type", blk.name, "--cols", scols, nan.string(), out.string()});
  CHECK(r.status == 1);
  CHECK(slurp(out) == "old");
  CHECK(no_temp_files(dir));
  // ... and a successful one replaces it.
  const Run ok =
      run_cli({"quantize-raw", "--type", blk.name, "--cols", scols, in.string(), out.string()});
  CHECK_MESSAGE(ok.status == 0, ok.err);
  CHECK(fs::file_size(out) == 3 * (cols / blk.block) * blk.bytes);
}

namespace {

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file written by hand (spec: u64 LE header length, JSON, data).
std::string tiny_safetensors() {
  const std::string json =
      R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"k":"v"}})";
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  s += json;
  const float vals[4] = {1.f, 2.f, 3.f, 4.f};
  s.append(reinterpret_cast<const char*>(vals), sizeof vals);
  return s;
}

// An .npy 1.0 file written by hand: magic, version, u16 header length, dict
// padded so that the data starts at a multiple of 64.
std::string tiny_npy() {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string s = "\x93NUMPY";
  s += '\x01';
  s += '\0';
  s += static_cast<char>(dict.size() & 0xff);
  s += static_cast<char>(dict.size() >> 8);
  s += dict;
  const float vals[3] = {0.5f, -1.f, 2.f};
  s.append(reinterpret_cast<const char*>(vals), sizeof vals);
  return s;
}

}  // namespace

TEST_CASE("cli inspect/validate: safetensors and npy go to the tensor readers") {
  const fs::path st = scratch() / "tiny.safetensors";
  const fs::path npy = scratch() / "tiny.npy";
  write_bytes(st, tiny_safetensors());
  write_bytes(npy, tiny_npy());

  Run r = run_cli({"inspect", "--json", st.string()});
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["format"] == "safetensors");
  REQUIRE(j["tensors"].size() == 1);
  CHECK(j["tensors"][0]["name"] == "w");
  CHECK(j["tensors"][0]["dtype"] == "F32");
  CHECK(j["tensors"][0]["shape"] == nlohmann::json::array({2, 2}));
  CHECK(j["tensors"][0]["bytes"] == 16);

  r = run_cli({"inspect", "--json", npy.string()});
  REQUIRE(r.status == 0);
  const auto k = nlohmann::json::parse(r.out);
  CHECK(k["format"] == "npy");
  CHECK(k["shape"] == nlohmann::json::array({3}));
  CHECK(k["bytes"] == 12);

  r = run_cli({"validate", st.string(), npy.string()});
  CHECK(r.status == 0);

  // One byte less of data: the declared range no longer fits the file.
  std::string cut = tiny_safetensors();
  cut.pop_back();
  const fs::path bad = scratch() / "cut.safetensors";
  write_bytes(bad, cut);
  r = run_cli({"validate", bad.string()});
  CHECK(r.status != 0);
  r = run_cli({"inspect", bad.string()});
  CHECK(r.status != 0);
  CHECK(!r.err.empty());
}

// `bench --json`: one object {"memcpy_gbps", "results"}; one result per
// (kernel, type, threads) with exactly the documented fields and types.
TEST_CASE("cli: bench --json schema") {
  const Run r = run_cli({"bench", "--json", "--types", "q4_0", "--threads", "1,2", "--seconds",
                         "0.01", "--size", "small"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.is_object());
  CHECK(j.size() == 2);
  REQUIRE(j.contains("memcpy_gbps"));
  CHECK(j["memcpy_gbps"].is_number());
  CHECK(j["memcpy_gbps"].get<double>() > 0);
  REQUIRE(j["results"].is_array());
  std::map<std::string, int> seen;
  for (const auto& o : j["results"]) {
    REQUIRE(o.is_object());
    CHECK(o.size() == 6);
    REQUIRE(o["kernel"].is_string());
    const std::string k = o["kernel"];
    CHECK((k == "quantize" || k == "dequantize" || k == "vec_dot" || k == "gemv"));
    CHECK(o["type"] == "q4_0");
    REQUIRE(o["threads"].is_number_unsigned());
    const unsigned t = o["threads"];
    CHECK((t == 1 || t == 2));
    CHECK(o["gbps"].is_number());
    CHECK(o["gbps"].get<double>() > 0);
    CHECK(o["melems"].is_number());
    CHECK(o["melems"].get<double>() > 0);
    // Q4_0: 18 bytes per 32 weights, so M weights/s = GB/s · 1e3 · 32/18.
    CHECK(std::fabs(o["melems"].get<double>() / o["gbps"].get<double>() - 1e3 * 32 / 18) <
          1e-2 * 1e3 * 32 / 18);
    REQUIRE(o.contains("ggml_gbps"));
    CHECK((o["ggml_gbps"].is_null() || o["ggml_gbps"].get<double>() > 0));
    ++seen[k + "/" + std::to_string(t)];
  }
  CHECK(seen.size() == 8);
  for (const auto& [key, n] : seen) CHECK_MESSAGE(n == 1, key);
}

TEST_CASE("cli: bench argument errors") {
  CHECK(run_cli({"bench", "--types", "q9_9", "--size", "small"}).status == 2);
  CHECK(run_cli({"bench", "--threads", "x", "--size", "small"}).status == 2);
  CHECK(run_cli({"bench", "--size", "huge"}).status == 2);
  CHECK(run_cli({"bench", "--seconds", "0", "--size", "small"}).status == 2);
  CHECK(run_cli({"bench", "--kernels", "gemm", "--size", "small"}).status == 2);
}

TEST_CASE("cli: bench --kernels selects measurements") {
  const Run r = run_cli({"bench", "--json", "--types", "q8_0,q4_K", "--kernels", "gemv",
                         "--threads", "1", "--seconds", "0.01", "--size", "small"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["results"].size() == 2);
  CHECK(j["results"][0]["kernel"] == "gemv");
  CHECK(j["results"][0]["type"] == "q8_0");
  CHECK(j["results"][1]["type"] == "q4_K");
}
