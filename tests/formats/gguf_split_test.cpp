// gguf-split sets: naming, shard boundaries (by count and by size, derived by
// hand from the README's tensor table), keys, reading a set as one model,
// merge back to the original data, and every set-level error.
#include <doctest/doctest.h>

#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "edgequant/formats/gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_gguf_split_test {

using namespace edgequant;
namespace gg = edgequant::gguf;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const char* tag) {
  auto d = fs::temp_directory_path() /
           ("eq_gguf_split_" + std::string(tag) + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<std::string> keys_of(const GgufReader<>& r) {
  std::vector<std::string> k;
  for (const auto& kv : r.metadata()) k.emplace_back(kv.key);
  return k;
}

// Writes a hand-made shard: the given KVs and F32 tensors of 8 floats.
void write_shard(const std::string& path, const gg::Metadata& kv,
                 std::initializer_list<const char*> tensors) {
  gg::Layout l;
  l.metadata = kv;
  for (const char* t : tensors) l.tensors.push_back(gg::TensorSpec::make(t, GgmlType::kF32, {8}));
  auto f = AtomicFile::create(path);
  REQUIRE(f);
  auto w = gg::Writer<AtomicFile>::begin(std::move(*f), l);
  REQUIRE(w);
  const float v[8] = {};
  for (std::size_t i = 0; i < l.tensors.size(); ++i) {
    REQUIRE(w->write_tensor(std::span<const std::byte>(reinterpret_cast<const std::byte*>(v), 32)));
  }
  REQUIRE(w->finish());
}

gg::Metadata split_keys(std::uint16_t no, std::uint16_t count, std::int32_t total) {
  gg::Metadata m;
  m.set("split.no", no);
  m.set("split.count", count);
  m.set("split.tensors.count", total);
  return m;
}

}  // namespace

TEST_CASE("gguf split: file names follow llama_split_path / llama_split_prefix") {
  CHECK(gg::split_path("dir/model", 0, 3) == "dir/model-00001-of-00003.gguf");
  CHECK(gg::split_path("m", 11, 12) == "m-00012-of-00012.gguf");
  CHECK(gg::split_prefix("dir/model-00001-of-00003.gguf", 0, 3) == "dir/model");
  CHECK(gg::split_prefix("dir/model-00002-of-00003.gguf", 1, 3) == "dir/model");
  CHECK_FALSE(gg::split_prefix("dir/model-00001-of-00003.gguf", 1, 3));
  CHECK_FALSE(gg::split_prefix("dir/model.gguf", 0, 3));
  CHECK_FALSE(gg::split_prefix("-00001-of-00003.gguf", 0, 3));  // empty prefix
}

TEST_CASE(
    "gguf split: by tensor count, keys as gguf-split writes them, read back as one model, merge") {
  auto golden = eqtest::golden_file("tiny_llama.gguf");
  if (!golden) return;
  const auto dir = temp_dir("count");
  auto in = GgufModel<>::open(*golden);
  REQUIRE(in);
  CHECK_FALSE(in->is_split());
  gg::SplitOptions opt;
  opt.max_tensors = 8;
  auto out = gg::split(*in, (dir / "tiny").string(), opt);
  REQUIRE_MESSAGE(out, eqtest::why(out));
  REQUIRE(out->size() == 3);
  CHECK((*out)[2] == (dir / "tiny-00003-of-00003.gguf").string());

  const std::size_t per_shard[] = {8, 8, 5};
  auto orig = GgufReader<>::open_file(*golden);
  REQUIRE(orig);
  std::size_t t = 0;
  for (std::uint16_t s = 0; s < 3; ++s) {
    CAPTURE(s);
    auto r = GgufReader<>::open_file((*out)[s]);
    REQUIRE(r);
    CHECK(r->tensors().size() == per_shard[s]);
    auto keys = keys_of(*r);
    // Shard 1 carries every input KV, then split.no, split.tensors.count and
    // split.count (re-set last); the others only the three split keys.
    std::vector<std::string> expect;
    if (s == 0) expect = keys_of(*orig);
    expect.insert(expect.end(), {"split.no", "split.tensors.count", "split.count"});
    CHECK(keys == expect);
    CHECK(*r->get<std::uint16_t>("split.no") == s);
    CHECK(*r->get<std::uint16_t>("split.count") == 3);
    CHECK(*r->get<std::int32_t>("split.tensors.count") == 21);
    for (const auto& ti : r->tensors()) {
      const auto& o = orig->tensors()[t++];
      CHECK(ti.name == o.name);
      CHECK(ti.type == o.type);
      CHECK(ti.ne == o.ne);
      auto a = r->tensor_data(ti), b = orig->tensor_data(o);
      CHECK((a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0));
    }
  }

  // Any shard opens the whole set.
  auto set = GgufModel<>::open((*out)[1]);
  REQUIRE_MESSAGE(set, eqtest::why(set));
  CHECK(set->is_split());
  CHECK(set->shards().size() == 3);
  REQUIRE(set->tensors().size() == 21);
  CHECK(*set->get<std::string_view>("general.name") == "tiny-llama-golden");
  auto tq = set->tensor("blk.1.ffn_down.weight");
  REQUIRE(tq);
  CHECK(tq->type() == GgmlType::kQ6_K);
  CHECK(set->tensors()[20].shard == 2);

  // Merge: shard 1's KVs with split.count re-set to 0 (moved to the end),
  // then the tensors; the data section equals the original's byte for byte.
  const auto merged = (dir / "merged.gguf").string();
  REQUIRE(gg::merge(*set, merged));
  auto m = GgufReader<>::open_file(merged);
  REQUIRE(m);
  auto keys = keys_of(*m);
  auto expect = keys_of(*orig);
  expect.insert(expect.end(), {"split.no", "split.tensors.count", "split.count"});
  CHECK(keys == expect);
  CHECK(*m->get<std::uint16_t>("split.count") == 0);
  CHECK(*m->get<std::uint16_t>("split.no") == 0);
  const auto gbytes = eqtest::read_file(*golden);
  const auto mbytes = eqtest::read_file(merged);
  REQUIRE(mbytes.size() - m->data_offset() == gbytes.size() - 8576);
  CHECK(std::memcmp(mbytes.data() + m->data_offset(), gbytes.data() + 8576, gbytes.size() - 8576) ==
        0);
  // A merged file (split.count 0) reads as a single model.
  auto mm = GgufModel<>::open(merged);
  REQUIRE(mm);
  CHECK(mm->shards().size() == 1);

  // Re-splitting the set gives the same shards byte for byte.
  const auto again_dir = dir / "again";
  fs::create_directories(again_dir);
  auto again = gg::split(*set, (again_dir / "tiny").string(), opt);
  REQUIRE(again);
  for (std::size_t s = 0; s < 3; ++s)
    CHECK(eqtest::read_file((*again)[s]) == eqtest::read_file((*out)[s]));
  fs::remove_all(dir);
}

TEST_CASE("gguf split: by size, shard boundaries from the README's padded tensor sizes") {
  auto golden = eqtest::golden_file("tiny_llama.gguf");
  if (!golden) return;
  auto in = GgufModel<>::open(*golden);
  REQUIRE(in);
  // Running sums of PAD(nbytes, 32) against 200000 (worked out by hand from
  // the README table): tensors 0-6 | 7-8 | 9-15 | 16-17 | 18-20.
  gg::SplitOptions opt;
  opt.max_bytes = 200000;
  auto p = gg::plan_split(*in, opt);
  REQUIRE(p);
  const std::vector<std::vector<std::size_t>> expect = {
      {0, 1, 2, 3, 4, 5, 6}, {7, 8}, {9, 10, 11, 12, 13, 14, 15}, {16, 17}, {18, 19, 20}};
  CHECK(p->tensors == expect);
  for (const auto& l : p->shards) CHECK(l.metadata.get<std::uint16_t>("split.count") == 5);

  // A first tensor larger than the limit leaves an empty shard: refused.
  opt.max_bytes = 1000;
  auto bad = gg::plan_split(*in, opt);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().what.find("no tensor") != std::string::npos);

  // --no-tensor-first-split: shard 1 holds the metadata only.
  gg::SplitOptions first;
  first.max_tensors = 8;
  first.no_tensor_first_split = true;
  auto q = gg::plan_split(*in, first);
  REQUIRE(q);
  REQUIRE(q->shards.size() == 4);
  CHECK(q->tensors[0].empty());
  CHECK(q->shards[0].metadata.size() == 24);
  CHECK(q->shards[1].metadata.size() == 3);
  CHECK(q->tensors[3].size() == 5);

  gg::SplitOptions zero;
  zero.max_tensors = 0;
  CHECK(gg::plan_split(*in, zero).error().code == Errc::kBadArgument);
}

TEST_CASE(
    "gguf split: set-level errors (missing shard, wrong split.no, counts, duplicates, names)") {
  const auto dir = temp_dir("errors");
  auto p = [&](const char* name) { return (dir / name).string(); };
  gg::Metadata first = split_keys(0, 3, 3);
  first.set("general.architecture", "test");

  // A good set first.
  write_shard(p("s-00001-of-00003.gguf"), first, {"a"});
  write_shard(p("s-00002-of-00003.gguf"), split_keys(1, 3, 3), {"b"});
  write_shard(p("s-00003-of-00003.gguf"), split_keys(2, 3, 3), {"c"});
  auto ok = GgufModel<>::open(p("s-00001-of-00003.gguf"));
  REQUIRE_MESSAGE(ok, eqtest::why(ok));
  CHECK(ok->tensors().size() == 3);
  CHECK(ok->paths()[2] == p("s-00003-of-00003.gguf"));

  // Missing shard: an I/O error naming it.
  fs::rename(p("s-00003-of-00003.gguf"), p("elsewhere.gguf"));
  auto missing = GgufModel<>::open(p("s-00001-of-00003.gguf"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kIo);
  CHECK(missing.error().file == p("s-00003-of-00003.gguf"));
  fs::rename(p("elsewhere.gguf"), p("s-00003-of-00003.gguf"));

  // Shard 3 claiming to be shard 2.
  write_shard(p("s-00003-of-00003.gguf"), split_keys(1, 3, 3), {"c"});
  auto wrong_no = GgufModel<>::open(p("s-00001-of-00003.gguf"));
  REQUIRE_FALSE(wrong_no);
  CHECK(wrong_no.error().what.find("split.no is 1, expected 2") != std::string::npos);

  // Shard 3 from another set size.
  write_shard(p("s-00003-of-00003.gguf"), split_keys(2, 4, 3), {"c"});
  CHECK(GgufModel<>::open(p("s-00001-of-00003.gguf")).error().what.find("split.count differs") !=
        std::string::npos);

  // split.tensors.count disagreeing with the shards.
  write_shard(p("s-00003-of-00003.gguf"), split_keys(2, 3, 3), {"c", "d"});
  CHECK(
      GgufModel<>::open(p("s-00001-of-00003.gguf")).error().what.find("split.tensors.count is 3") !=
      std::string::npos);

  // The same tensor in two shards.
  write_shard(p("s-00003-of-00003.gguf"), split_keys(2, 3, 3), {"a"});
  auto dup = GgufModel<>::open(p("s-00001-of-00003.gguf"));
  REQUIRE_FALSE(dup);
  CHECK(dup.error().what.find("tensor 'a' is also in") != std::string::npos);

  // A shard renamed away from the pattern cannot find its siblings.
  write_shard(p("renamed.gguf"), first, {"a"});
  auto named = GgufModel<>::open(p("renamed.gguf"));
  REQUIRE_FALSE(named);
  CHECK(named.error().what.find("-00001-of-00003.gguf") != std::string::npos);

  // split.count of the wrong type is a typed error.
  gg::Metadata badtype;
  badtype.set("split.count", std::uint32_t{3});
  write_shard(p("t.gguf"), badtype, {"a"});
  CHECK(GgufModel<>::open(p("t.gguf")).error().code == Errc::kTypeMismatch);

  // Merging a file that is not a split set is refused.
  gg::Metadata plain;
  plain.set("general.architecture", "x");
  write_shard(p("plain.gguf"), plain, {"a"});
  auto pm = GgufModel<>::open(p("plain.gguf"));
  REQUIRE(pm);
  CHECK(gg::merge(*pm, p("out.gguf")).error().code == Errc::kBadArgument);
  CHECK_FALSE(fs::exists(p("out.gguf")));
  fs::remove_all(dir);
}

}  // namespace eqtest_formats_gguf_split_test
