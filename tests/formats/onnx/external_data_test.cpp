// External data: reading within the model folder only (one regression test per
// escape of the CVE lineage), bounds, and write_model's side file (layout,
// alignment, atomicity, the 2 GiB limit, write-side containment).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "formats/onnx/onnx_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_onnx_external_data_test {

using namespace eqonnx;
namespace b = edgequant::onnx::build;

namespace {

const std::vector<float> kW{1.0f, -2.0f, 3.5f, 0.25f};

// A model with one external FLOAT[4] tensor at `location` (+offset), the
// references written as they are (no data file is written).
void write_ref_model(const std::string& path, const std::string& location, std::uint64_t offset = 0,
                     std::optional<std::uint64_t> length = std::nullopt) {
  Tensor t = b::tensor("W", DataType::kFloat, {4}, Bytes{});
  t.storage = Storage::kExternal;
  t.present = 0;
  t.mark(2);
  t.data_location = 1;
  StringStringEntry loc, off, len;
  loc.key = "location", loc.value = location;
  off.key = "offset", off.value = std::to_string(offset);
  t.external_data = {loc, off};
  if (length) {
    len.key = "length", len.value = std::to_string(*length);
    t.external_data.push_back(len);
  }
  Graph g = b::graph({b::node("Identity", {"W"}, {"y"})}, "g", {},
                     {b::value_info("y", DataType::kFloat, std::vector<b::Dim>{4})}, {t});
  auto bytes = serialize_to_bytes(b::model(std::move(g), 8, {b::opset("", 17)}));
  REQUIRE(bytes);
  write_bytes(path, *bytes);
}

void write_floats(const std::string& path, std::size_t pad_before = 0) {
  std::vector<std::byte> v(pad_before, std::byte{0x55});
  const auto w = std::as_bytes(std::span<const float>(kW));
  v.insert(v.end(), w.begin(), w.end());
  write_bytes(path, v);
}

Error read_error(const std::string& model, const ReadOptions& opt = {}) {
  auto m = read_model(model, opt);
  REQUIRE_FALSE(m);
  return m.error();
}

bool contains(const Error& e, const char* s) {
  const bool ok = e.message().find(s) != std::string::npos;
  if (!ok) MESSAGE(e.message());
  return ok;
}

}  // namespace

TEST_CASE("external data locations: lexical rules") {
  for (const char* ok : {"w.bin", "sub/w.bin", "./w.bin", "a..b", "..hidden", "sub//w"}) {
    CAPTURE(std::string(ok));
    CHECK(check_location(ok));
  }
  const std::string with_nul("w\0.bin", 6);
  for (const std::string& bad :
       {std::string(""), std::string("/etc/passwd"), std::string("../w"),
        std::string("sub/../../w"), std::string("sub\\..\\..\\w"), std::string("C:\\w"),
        std::string("c:w"), with_nul, std::string("\\\\server\\share"), std::string("..")}) {
    CAPTURE(bad);
    auto s = check_location(bad);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::kInvalid);
  }
}

TEST_CASE("external data is read as views in the model folder, at any offset") {
  TempDir d("ext_ok");
  write_floats(d / "w.bin", 7);  // unaligned offset
  write_ref_model(d / "m.onnx", "w.bin", 7, 16);
  auto m = read_model(d / "m.onnx");
  REQUIRE_MESSAGE(m, (m ? "" : m.error().message()));
  const Tensor& t = m->graph->initializer[0];
  CHECK(t.data_loaded);
  CHECK(*to_floats(t) == kW);
  // Length omitted: to the end of the file.
  write_ref_model(d / "m2.onnx", "w.bin", 7);
  auto m2 = read_model(d / "m2.onnx");
  REQUIRE(m2);
  CHECK(*to_floats(m2->graph->initializer[0]) == kW);
  // In a subfolder, and through a directory symlink that stays inside.
  std::filesystem::create_directories(d.path / "real");
  write_floats(d / "real/w.bin");
  std::filesystem::create_directory_symlink("real", d.path / "alias");
  write_ref_model(d / "m3.onnx", "alias/w.bin");
  auto m3 = read_model(d / "m3.onnx");
  REQUIRE_MESSAGE(m3, (m3 ? "" : m3.error().message()));
  CHECK(*to_floats(m3->graph->initializer[0]) == kW);
  // Not loading: references only.
  ReadOptions lazy;
  lazy.load_external = false;
  auto m4 = read_model(d / "m.onnx", lazy);
  REQUIRE(m4);
  CHECK_FALSE(m4->graph->initializer[0].data_loaded);
  CHECK_FALSE(to_floats(m4->graph->initializer[0]));
}

TEST_CASE("external data escaping the model folder is refused (CVE regressions)") {
  TempDir root("ext_escape");
  std::filesystem::create_directories(root.path / "model");
  std::filesystem::create_directories(root.path / "outside");
  write_floats(root / "secret.bin");
  write_floats(root / "outside/secret.bin");
  const std::string md = root / "model";

  SUBCASE("CVE-2022-25882: '..' in the location") {
    write_ref_model(md + "/m.onnx", "../secret.bin");
    auto e = read_error(md + "/m.onnx");
    CHECK(e.code == Errc::kInvalid);
    CHECK(contains(e, "contains '..'"));
  }
  SUBCASE("CVE-2024-27318: '..' after a subfolder, and backslashes") {
    std::filesystem::create_directories(root.path / "model/sub");
    write_ref_model(md + "/m.onnx", "sub/../../secret.bin");
    CHECK(contains(read_error(md + "/m.onnx"), "contains '..'"));
    write_ref_model(md + "/m.onnx", "sub\\..\\..\\secret.bin");
    CHECK(contains(read_error(md + "/m.onnx"), "contains '..'"));
  }
  SUBCASE("absolute location") {
    write_ref_model(md + "/m.onnx", root / "secret.bin");
    CHECK(contains(read_error(md + "/m.onnx"), "absolute path"));
  }
  SUBCASE("CVE-2026-27489: the data file is a symbolic link leading out") {
    std::filesystem::create_symlink(root / "secret.bin", root.path / "model/w.bin");
    write_ref_model(md + "/m.onnx", "w.bin");
    auto e = read_error(md + "/m.onnx");
    CHECK(e.code == Errc::kInvalid);
    CHECK(contains(e, "symbolic link"));
  }
  SUBCASE("a folder on the path is a symbolic link leading out") {
    std::filesystem::create_directory_symlink(root / "outside", root.path / "model/sub");
    write_ref_model(md + "/m.onnx", "sub/secret.bin");
    auto e = read_error(md + "/m.onnx");
    CHECK(e.code == Errc::kInvalid);
    CHECK(contains(e, "outside the model folder"));
  }
  SUBCASE("CVE-2026-34446/34447: the data file is a hard link of a file outside") {
    REQUIRE(::link((root / "secret.bin").c_str(), (md + "/w.bin").c_str()) == 0);
    write_ref_model(md + "/m.onnx", "w.bin");
    auto e = read_error(md + "/m.onnx");
    CHECK(e.code == Errc::kInvalid);
    CHECK(contains(e, "hard links"));
    ReadOptions allow;
    allow.external.allow_hardlinks = true;
    CHECK(read_model(md + "/m.onnx", allow));
  }
  SUBCASE("a NUL byte cannot truncate the location") {
    write_floats(md + "/w");
    write_ref_model(md + "/m.onnx", std::string("w\0/../../secret.bin", 20));
    CHECK(contains(read_error(md + "/m.onnx"), "NUL"));
  }
  SUBCASE("the location is a folder") {
    std::filesystem::create_directories(root.path / "model/dir");
    write_ref_model(md + "/m.onnx", "dir");
    CHECK(read_error(md + "/m.onnx").code == Errc::kInvalid);
  }
}

TEST_CASE("external data bounds are checked before use") {
  TempDir d("ext_bounds");
  write_floats(d / "w.bin");  // 16 bytes
  write_ref_model(d / "a.onnx", "w.bin", 17);
  auto e1 = read_error(d / "a.onnx");
  CHECK(e1.code == Errc::kTruncated);
  CHECK(contains(e1, "past the end"));
  write_ref_model(d / "b.onnx", "w.bin", 8, 16);
  CHECK(read_error(d / "b.onnx").code == Errc::kTruncated);
  write_ref_model(d / "c.onnx", "w.bin", 4, 12);
  auto e3 = read_error(d / "c.onnx");
  CHECK(e3.code == Errc::kInvalid);
  CHECK(contains(e3, "length 12, dims and type call for 16"));
  write_ref_model(d / "d.onnx", "missing.bin");
  CHECK(read_error(d / "d.onnx").code == Errc::kNotFound);
  write_ref_model(d / "e.onnx", "w.bin", ~std::uint64_t{0} - 3, 16);
  CHECK(read_error(d / "e.onnx").code == Errc::kTruncated);
}

namespace {

Model two_weight_model(std::size_t big_elems) {
  std::vector<float> big(big_elems);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 97) * 0.5f;
  Graph g = b::graph(
      {b::node("MatMul", {"x", "W"}, {"h"}), b::node("Add", {"h", "B"}, {"y"})}, "g",
      {b::value_info("x", DataType::kFloat, std::vector<b::Dim>{1, 4})},
      {b::value_info("y", DataType::kFloat,
                     std::vector<b::Dim>{1, static_cast<std::int64_t>(big_elems / 4)})},
      {b::tensor("W", DataType::kFloat, {4, static_cast<std::int64_t>(big_elems / 4)}, big),
       b::tensor("B", DataType::kFloat, {static_cast<std::int64_t>(big_elems / 4)},
                 std::vector<float>(big_elems / 4, 1.0f))});
  return b::model(std::move(g), 8, {b::opset("", 17)});
}

std::map<std::string, std::string> entries(const Tensor& t) {
  std::map<std::string, std::string> m;
  for (const auto& e : t.external_data) m[e.key] = e.value;
  return m;
}

std::size_t entries_in(const std::filesystem::path& d) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(d)) ++n;
  return n;
}

}  // namespace

TEST_CASE("write_model moves large initializers to an aligned side file") {
  TempDir d("ext_write");
  const Model m = two_weight_model(1024);  // W 4 KiB, B 1 KiB
  WriteOptions opt;
  opt.external = WriteOptions::External::kExternal;
  opt.size_threshold = 1024;
  opt.align_threshold = 2048;  // W is aligned, B is not
  opt.alignment = 4096;
  std::uint64_t last_done = 0, total = 0;
  opt.progress = [&](std::uint64_t done, std::uint64_t all) {
    last_done = done;
    total = all;
  };
  REQUIRE(write_model(m, d / "m.onnx", opt));
  CHECK(last_done == 4096 + 1024);
  ReadOptions refs;
  refs.load_external = false;
  auto r = read_model(d / "m.onnx", refs);
  REQUIRE(r);
  const Tensor& w = r->graph->initializer[0];
  const Tensor& bias = r->graph->initializer[1];
  CHECK(w.is_external());
  CHECK(bias.is_external());
  CHECK(entries(w) == std::map<std::string, std::string>{
                          {"location", "m.onnx.data"}, {"offset", "0"}, {"length", "4096"}});
  CHECK(entries(bias) == std::map<std::string, std::string>{
                             {"location", "m.onnx.data"}, {"offset", "4096"}, {"length", "1024"}});
  CHECK(std::filesystem::file_size(d.path / "m.onnx.data") == 5120);
  auto full = read_model(d / "m.onnx");
  REQUIRE(full);
  CHECK(*to_floats(full->graph->initializer[0]) == *to_floats(m.graph->initializer[0]));
  CHECK(*to_floats(full->graph->initializer[1]) == *to_floats(m.graph->initializer[1]));
  CHECK(validate(*full).ok());

  // Alignment: a small first tensor pushes the big one to offset 4096, padded with zeros.
  Model m2 = m;
  std::swap(m2.graph->initializer[0], m2.graph->initializer[1]);
  opt.data_location = "weights/all.bin";
  std::filesystem::create_directories(d.path / "weights");
  REQUIRE(write_model(m2, d / "m2.onnx", opt));
  auto r2 = read_model(d / "m2.onnx", refs);
  REQUIRE(r2);
  CHECK(entries(r2->graph->initializer[0])["offset"] == "0");
  CHECK(entries(r2->graph->initializer[1])["offset"] == "4096");
  const auto data = file_bytes(d / "weights/all.bin");
  REQUIRE(data.size() == 8192);
  bool zeros = true;
  for (std::size_t i = 1024; i < 4096; ++i) zeros &= data[i] == std::byte{0};
  CHECK(zeros);
  CHECK(read_model(d / "m2.onnx"));

  // python onnx loads it and its checker accepts it.
  if (!python_onnx().empty()) {
    auto res = run(python_onnx() + " " + kTestDir + "/pyonnx.py check1 " + (d / "m.onnx") + " " +
                   (d / "m2.onnx"));
    REQUIRE(res);
    for (const auto& e : json::parse(*res)) CHECK(e.at("checker") == "ok");
    auto desc = run(python_onnx() + " " + kTestDir + "/pyonnx.py describe " + (d / "m2.onnx"));
    REQUIRE(desc);
    auto r2full = read_model(d / "m2.onnx");
    REQUIRE(r2full);
    CHECK(json::parse(*desc).at("m2.onnx") == describe(*r2full));
  }
}

TEST_CASE("write_model: automatic, inline, and in-place rewrites") {
  TempDir d("ext_modes");
  const Model m = two_weight_model(1024);
  WriteOptions autoopt;  // kAuto: stays inline below max_inline_bytes
  REQUIRE(write_model(m, d / "inline.onnx", autoopt));
  CHECK_FALSE(std::filesystem::exists(d.path / "inline.onnx.data"));
  autoopt.max_inline_bytes = 2048;  // now too big: tensors >= 1 KiB move out
  REQUIRE(write_model(m, d / "auto.onnx", autoopt));
  CHECK(std::filesystem::file_size(d.path / "auto.onnx.data") == 5120);
  CHECK(std::filesystem::file_size(d.path / "auto.onnx") < 1024);

  // Rewriting in place: the data file is replaced while its old mapping is read.
  {
    auto r = read_model(d / "auto.onnx");
    REQUIRE(r);
    WriteOptions keep;  // kAuto keeps external tensors external
    keep.alignment = 0;
    REQUIRE(write_model(*r, d / "auto.onnx", keep));
  }
  auto again = read_model(d / "auto.onnx");
  REQUIRE(again);
  CHECK(again->graph->initializer[0].is_external());
  CHECK(*to_floats(again->graph->initializer[0]) == *to_floats(m.graph->initializer[0]));

  // kInline brings everything back into the .onnx.
  WriteOptions inl;
  inl.external = WriteOptions::External::kInline;
  REQUIRE(write_model(*again, d / "back.onnx", inl));
  CHECK_FALSE(std::filesystem::exists(d.path / "back.onnx.data"));
  auto back = read_model(d / "back.onnx");
  REQUIRE(back);
  CHECK(back->graph->initializer[0].storage == Storage::kRaw);
  CHECK(*serialize_to_bytes(*back) == *serialize_to_bytes(m));

  // External tensors whose data was not loaded cannot be rewritten.
  ReadOptions refs;
  refs.load_external = false;
  auto unloaded = read_model(d / "auto.onnx", refs);
  REQUIRE(unloaded);
  auto st = write_model(*unloaded, d / "x.onnx");
  REQUIRE_FALSE(st);
  CHECK(st.error().what.find("not loaded") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(d.path / "x.onnx"));
}

TEST_CASE("write_model: data locations stay in the folder, symlinks are replaced not followed") {
  TempDir d("ext_wsafe");
  std::filesystem::create_directories(d.path / "out");
  const Model m = two_weight_model(1024);
  WriteOptions opt;
  opt.external = WriteOptions::External::kExternal;
  for (const char* bad : {"../escape.data", "/tmp/escape.data", "a/../../escape.data"}) {
    CAPTURE(std::string(bad));
    opt.data_location = bad;
    auto st = write_model(m, d / "out/m.onnx", opt);
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::kInvalid);
  }
  CHECK_FALSE(std::filesystem::exists(d.path / "escape.data"));
  CHECK(entries_in(d.path / "out") == 0);
  // A symlink where the data file goes (CVE-2025-51480 shape): the link is
  // replaced by the new file, its target is never written.
  write_floats(d / "victim.bin");
  const auto victim = file_bytes(d / "victim.bin");
  std::filesystem::create_symlink(d / "victim.bin", d.path / "out/m.onnx.data");
  opt.data_location.clear();
  REQUIRE(write_model(m, d / "out/m.onnx", opt));
  CHECK(file_bytes(d / "victim.bin") == victim);
  CHECK_FALSE(std::filesystem::is_symlink(d.path / "out/m.onnx.data"));
  CHECK(read_model(d / "out/m.onnx"));
}

TEST_CASE("write_model is atomic: a failing producer leaves nothing behind") {
  TempDir d("ext_atomic");
  Model m = two_weight_model(1024);
  m.graph->initializer.push_back(b::lazy_tensor(
      "L", DataType::kFloat, {1024}, 4096,
      [](const ChunkSink&) { return Status(make_error(Errc::kCancelled, "producer failed")); }));
  WriteOptions opt;
  opt.external = WriteOptions::External::kExternal;
  auto st = write_model(m, d / "m.onnx", opt);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kCancelled);
  CHECK(entries_in(d.path) == 0);
  opt.external = WriteOptions::External::kInline;
  CHECK_FALSE(write_model(m, d / "m.onnx", opt));
  CHECK(entries_in(d.path) == 0);
}

TEST_CASE("models past protobuf's 2 GiB limit must use external data") {
  TempDir d("ext_2g");
  const std::uint64_t n = (std::uint64_t{1} << 31) / 4 + 1024;  // a little over 2 GiB of floats
  int calls = 0;
  Model m = two_weight_model(64);
  m.graph->initializer.push_back(b::lazy_tensor(
      "Huge", DataType::kFloat, {static_cast<std::int64_t>(n)}, n * 4,
      [&](const ChunkSink& sink) -> Status {
        ++calls;
        std::vector<std::byte> zeros(1 << 20);
        for (std::uint64_t left = n * 4; left;) {
          const std::size_t k = left < zeros.size() ? static_cast<std::size_t>(left) : zeros.size();
          EDGEQUANT_TRY(sink(std::span<const std::byte>(zeros.data(), k)));
          left -= k;
        }
        return {};
      }));
  WriteOptions inl;
  inl.external = WriteOptions::External::kInline;
  auto st = write_model(m, d / "m.onnx", inl);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::kLimit);
  CHECK(calls == 0);  // refused from the size pass, before any byte is written
  CHECK(entries_in(d.path) == 0);
  // The default (kAuto) moves it out. Writing 2 GiB is opt-in (EDGEQUANT_BIG_TESTS=1).
  const char* big = std::getenv("EDGEQUANT_BIG_TESTS");
  if (!big || std::string(big) != "1") {
    MESSAGE("SKIPPED: writing a 2 GiB model (set EDGEQUANT_BIG_TESTS=1)");
    return;
  }
  REQUIRE(write_model(m, d / "m.onnx"));
  CHECK(calls == 1);
  CHECK(std::filesystem::file_size(d.path / "m.onnx") < 4096);
  CHECK(std::filesystem::file_size(d.path / "m.onnx.data") >= n * 4);
  auto r = read_model(d / "m.onnx");
  REQUIRE(r);
  CHECK(r->graph->initializer[2].data.size() == n * 4);
}

}  // namespace eqtest_formats_onnx_external_data_test
