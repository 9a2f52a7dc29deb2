// Hugging Face sharded checkpoints: shard policies (the hub's own test case),
// file names, the index (checked against Python's json.dumps), reading a
// folder as one model, and every inconsistency between index and shards.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "edgequant/formats/hf_sharded.hpp"
#include "format_test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_hf_sharded_test {

using namespace edgequant;
using namespace edgequant::safetensors;
namespace fs = std::filesystem;

namespace {

// The huggingface_hub test state dict: sizes 6, 10, 30, 2, 2 (as U8 bytes).
std::vector<TensorSpec> hub_dummy() {
  return {{"layer_1", Dtype::kU8, {6}},
          {"layer_2", Dtype::kU8, {10}},
          {"layer_3", Dtype::kU8, {30}},
          {"layer_4", Dtype::kU8, {2}},
          {"layer_5", Dtype::kU8, {2}}};
}

std::vector<std::vector<std::string>> groups(const std::vector<ShardPlan>& plans) {
  std::vector<std::vector<std::string>> g;
  for (const auto& p : plans) {
    g.emplace_back();
    for (const auto& t : p.layout.tensors) g.back().push_back(t.name);
  }
  return g;
}

// Bytes of tensor `name`: its name repeated (distinct per tensor).
std::vector<std::byte> fill(const TensorInfo& t) {
  std::vector<std::byte> b(t.nbytes());
  for (std::size_t i = 0; i < b.size(); ++i)
    b[i] = static_cast<std::byte>(t.name[i % t.name.size()] + i);
  return b;
}

Status write_model(const std::string& dir, const std::vector<TensorSpec>& specs,
                   const ShardOptions& opt) {
  auto w = ShardedWriter::start(dir, specs, Metadata::of({{"format", "pt"}}), opt);
  if (!w) return std::move(w).error();
  while (const TensorInfo* t = w->next()) {
    const auto b = fill(*t);
    // Two chunks, to exercise partial writes across the shard boundary logic.
    const std::size_t half = b.size() / 2;
    EDGEQUANT_TRY(w->write(std::span(b).first(half)));
    EDGEQUANT_TRY(w->write(std::span(b).subspan(half)));
  }
  return w->finish();
}

void write_text(const std::string& path, const std::string& s) {
  std::ofstream f(path, std::ios::binary);
  f << s;
}

}  // namespace

TEST_CASE("shard file names (§5.1)") {
  CHECK(shard_file_name("model", 0, 3) == "model-00001-of-00003.safetensors");
  CHECK(shard_file_name("model", 2, 3) == "model-00003-of-00003.safetensors");
  CHECK(shard_file_name("model", 0, 1) == "model.safetensors");
  CHECK(shard_file_name("consolidated", 9, 12) == "consolidated-00010-of-00012.safetensors");
  CHECK(index_file_name("model") == "model.safetensors.index.json");
}

TEST_CASE("shard policies: huggingface_hub's own test case and mlx-lm's rule (§5.3)") {
  ShardOptions hub;
  hub.max_shard_bytes = 10;
  auto p = plan_shards(hub_dummy(), {}, hub);
  REQUIRE(p);
  // huggingface_hub tests/test_serialization.py::test_multiple_shards.
  CHECK(groups(*p) == std::vector<std::vector<std::string>>{
                          {"layer_1"}, {"layer_3"}, {"layer_2"}, {"layer_4", "layer_5"}});
  CHECK((*p)[1].file_name == "model-00002-of-00004.safetensors");
  hub.max_shard_bytes = 100;
  p = plan_shards(hub_dummy(), {}, hub);
  REQUIRE(p);
  REQUIRE(p->size() == 1);
  CHECK((*p)[0].file_name == "model.safetensors");

  ShardOptions mlx;
  mlx.policy = ShardPolicy::kMlx;
  mlx.max_shard_bytes = 10;
  p = plan_shards(hub_dummy(), {}, mlx);
  REQUIRE(p);
  CHECK(groups(*p) == std::vector<std::vector<std::string>>{
                          {"layer_1"}, {"layer_2"}, {"layer_3"}, {"layer_4", "layer_5"}});
  // An oversized first tensor leaves mlx-lm an empty first shard.
  p = plan_shards({{"big", Dtype::kU8, {30}}, {"s", Dtype::kU8, {1}}}, {}, mlx);
  REQUIRE(p);
  CHECK(groups(*p) == std::vector<std::vector<std::string>>{{}, {"big"}, {"s"}});
  // Inside a shard, tensors follow the reference order (dtype desc, name).
  p = plan_shards({{"b", Dtype::kU8, {1}}, {"a", Dtype::kF32, {1}}, {"c", Dtype::kU8, {1}}}, {},
                  {});
  REQUIRE(p);
  CHECK(groups(*p) == std::vector<std::vector<std::string>>{{"a", "b", "c"}});
  CHECK(plan_shards({{"x", Dtype::kU8, {1}}, {"x", Dtype::kU8, {2}}}, {}, hub).error().code ==
        Errc::kBadArgument);
}

TEST_CASE("write a sharded model, read it back as one, rewrite identically") {
  eqfmt::TempDir dir("shards");
  std::vector<TensorSpec> specs;
  for (int l = 0; l < 4; ++l) {
    specs.push_back(
        {"model.layers." + std::to_string(l) + ".w", Dtype::kF32, {8, 16}});            // 512 bytes
    specs.push_back({"model.layers." + std::to_string(l) + ".b", Dtype::kBF16, {16}});  // 32 bytes
  }
  specs.push_back({"lm_head.weight", Dtype::kF16, {0, 4}});
  ShardOptions opt;
  opt.max_shard_bytes = 600;  // one layer (544 bytes) per shard
  REQUIRE(write_model(dir.path().string(), specs, opt));
  std::vector<std::string> files;
  for (auto& e : fs::directory_iterator(dir.path())) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{
                     "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                     "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors",
                     "model.safetensors.index.json"});

  auto m = ShardedModel::open(dir.path().string());
  REQUIRE(m);
  CHECK(m->shards().size() == 4);
  CHECK(m->tensors().size() == specs.size());
  CHECK(m->total_size() == 4 * (512 + 32));
  REQUIRE(m->declared_total_size());
  CHECK(*m->declared_total_size() == m->total_size());
  for (const auto& s : specs) {
    const auto* e = m->find(s.name);
    REQUIRE(e);
    CHECK(e->info->shape == s.shape);
    CHECK(eqfmt::hex(m->data(*e)) == eqfmt::hex(fill(*e->info)));
    REQUIRE(m->shard_of(*e).metadata().find("format"));
  }
  CHECK_FALSE(m->find("nope"));
  // Opening the index file directly is the same model.
  auto m2 = ShardedModel::open(dir.file("model.safetensors.index.json"));
  REQUIRE(m2);
  CHECK(m2->tensors().size() == specs.size());

  // Rewriting in the model's order gives byte-identical shards and index.
  eqfmt::TempDir again("shards2");
  {
    std::vector<TensorSpec> order;
    for (const auto& s : specs) order.push_back(s);
    auto w =
        ShardedWriter::start(again.path().string(), order, Metadata::of({{"format", "pt"}}), opt);
    REQUIRE(w);
    while (const TensorInfo* t = w->next())
      REQUIRE(w->write_tensor(t->name, m->data(*m->find(t->name))));
    REQUIRE(w->finish());
  }
  for (const auto& f : files) {
    CAPTURE(f);
    CHECK(eqfmt::hex(eqfmt::read_bytes(again.file(f))) ==
          eqfmt::hex(eqfmt::read_bytes(dir.file(f))));
  }

  // The index is what huggingface_hub writes: json.dumps(indent=2, sort_keys=True) + "\n".
  if (eqfmt::have_numpy()) {
    bool ok = false;
    const std::string out = eqfmt::run_python(
        "import json,sys\n"
        "t=open(sys.argv[1]).read()\n"
        "d=json.loads(t)\n"
        "assert t==json.dumps(d,indent=2,sort_keys=True)+'\\n', 'format differs'\n"
        "print(d['metadata']['total_size'], len(d['weight_map']), "
        "d['weight_map']['lm_head.weight'])\n",
        {dir.file("model.safetensors.index.json")}, ok);
    REQUIRE_MESSAGE(ok, out);
    CHECK(out == "2176 9 model-00004-of-00004.safetensors\n");
  }
}

TEST_CASE("index strings are ASCII-escaped like Python's json.dumps") {
  std::vector<ShardPlan> plans(1);
  plans[0].file_name = "model.safetensors";
  plans[0].layout.tensors.push_back({"w\xc3\xa9\xf0\x9f\x98\x80\"\x7f", Dtype::kU8, {1}, 0, 1, 0});
  plans[0].layout.data_size = 1;
  const std::string idx = render_index(plans);
  CHECK(idx.find("\"w\\u00e9\\ud83d\\ude00\\\"\\u007f\": \"model.safetensors\"") !=
        std::string::npos);
  if (eqfmt::have_numpy()) {
    eqfmt::TempDir d("idx");
    write_text(d.file("i.json"), idx);
    bool ok = false;
    const std::string out = eqfmt::run_python(
        "import json,sys\nt=open(sys.argv[1]).read()\nassert "
        "t==json.dumps(json.loads(t),indent=2,sort_keys=True)+'\\n'\n",
        {d.file("i.json")}, ok);
    CHECK_MESSAGE(ok, out);
  }
}

TEST_CASE(
    "folders without an index: single file, mlx-style glob; duplicates across files refused") {
  eqfmt::TempDir dir("noindex");
  const std::vector<std::byte> four(4);
  const TensorData a[] = {{"a", Dtype::kF32, {1}, four}};
  const TensorData b[] = {{"b", Dtype::kF32, {1}, four}};
  REQUIRE(save_file(dir.file("model-1.safetensors"), a));
  REQUIRE(save_file(dir.file("model-2.safetensors"), b));
  auto m = ShardedModel::open(dir.path().string());
  REQUIRE(m);
  CHECK(m->shards().size() == 2);
  CHECK(m->find("a"));
  CHECK(m->find("b"));
  CHECK(m->index_path().empty());
  REQUIRE(save_file(dir.file("model-3.safetensors"), a));
  auto dup = ShardedModel::open(dir.path().string());
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == Errc::kInvalid);
  CHECK(dup.error().what.find("tensor \"a\" is in both") != std::string::npos);
  // model.safetensors wins over the glob.
  REQUIRE(save_file(dir.file("model.safetensors"), b));
  auto single = ShardedModel::open(dir.path().string());
  REQUIRE(single);
  CHECK(single->shards().size() == 1);
  // A single file path.
  auto f = ShardedModel::open(dir.file("model-1.safetensors"));
  REQUIRE(f);
  CHECK(f->find("a"));
  eqfmt::TempDir empty("empty");
  CHECK(ShardedModel::open(empty.path().string()).error().code == Errc::kNotFound);
  // mlx-lm writes an index even for one shard.
  eqfmt::TempDir one("one");
  ShardOptions opt;
  opt.index_for_single = true;
  REQUIRE(write_model(one.path().string(), {{"x", Dtype::kU8, {3}}}, opt));
  CHECK(fs::exists(one.file("model.safetensors.index.json")));
  auto o = ShardedModel::open(one.path().string());
  REQUIRE(o);
  CHECK(o->index_path() == one.file("model.safetensors.index.json"));
}

TEST_CASE("the index is checked against the shards") {
  eqfmt::TempDir dir("badindex");
  const std::vector<std::byte> four(4);
  const TensorData a[] = {{"a", Dtype::kF32, {1}, four}};
  const TensorData b[] = {{"b", Dtype::kF32, {1}, four}, {"c", Dtype::kF32, {1}, four}};
  REQUIRE(save_file(dir.file("s1.safetensors"), a));
  REQUIRE(save_file(dir.file("s2.safetensors"), b));
  const std::string idx = dir.file("model.safetensors.index.json");
  auto open_with = [&](const std::string& json) {
    write_text(idx, json);
    return ShardedModel::open(dir.path().string());
  };
  auto good = open_with(
      R"({"metadata":{"total_size":12},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"}})");
  REQUIRE(good);
  CHECK(*good->declared_total_size() == 12);
  auto e = open_with(R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().what.find("holds tensor \"c\", which the index does not list") !=
        std::string::npos);
  e = open_with(
      R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors","d":"s1.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kNotFound);
  CHECK(e.error().what.find("\"d\" to s1.safetensors, which does not hold it") !=
        std::string::npos);
  e = open_with(
      R"({"weight_map":{"a":"s2.safetensors","b":"s2.safetensors","c":"s2.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().what.find("does not hold it") != std::string::npos);
  e = open_with(
      R"({"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s1.safetensors"}})");
  REQUIRE_FALSE(e);
  e = open_with(R"({"weight_map":{"a":"../s1.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kInvalid);
  CHECK(e.error().what.find("not a plain file name") != std::string::npos);
  e = open_with(R"({"weight_map":{"a":"missing.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kIo);
  e = open_with(R"({"weight_map":{"a":"s1.safetensors","a":"s1.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().what.find("duplicate JSON key \"a\"") != std::string::npos);
  CHECK(e.error().offset == std::string(R"({"weight_map":{"a":"s1.safetensors","a")").size());
  e = open_with(R"({"weight_map":{"a":"s1.safetensors"})");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kInvalid);
  e = open_with(R"({"weight_map":{"a":1}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kTypeMismatch);
  e = open_with(R"({"metadata":{}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().what.find("no \"weight_map\"") != std::string::npos);
  e = open_with("[]");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::kTypeMismatch);
  // A corrupt shard is reported with its own path and offset.
  write_text(dir.file("s1.safetensors"), std::string("\x05\0\0\0\0\0\0\0{}", 10));
  e = open_with(R"({"weight_map":{"a":"s1.safetensors"}})");
  REQUIRE_FALSE(e);
  CHECK(e.error().file == dir.file("s1.safetensors"));
  CHECK(e.error().code == Errc::kTruncated);
}

TEST_CASE("sharded writer refuses bad streams and leaves nothing behind") {
  eqfmt::TempDir dir("shardfail");
  ShardOptions opt;
  opt.max_shard_bytes = 4;
  {
    auto w = ShardedWriter::start(dir.path().string(),
                                  {{"a", Dtype::kU8, {4}}, {"b", Dtype::kU8, {4}}}, {}, opt);
    REQUIRE(w);
    REQUIRE(w->write(eqfmt::bytes_of("1234")));
    CHECK(w->write_tensor("a", eqfmt::bytes_of("1234")).error().code == Errc::kBadArgument);
    CHECK(w->finish().error().code == Errc::kBadArgument);  // b missing
  }  // destroyed without finish: temp files removed
  CHECK(std::distance(fs::directory_iterator(dir.path()), {}) == 0);
}

}  // namespace eqtest_formats_hf_sharded_test
