// HF folder → mlx-lm folder (convert --to mlx): mlx-lm's mixed-recipe rules
// against the spec's hand-written table, and whole folders checked byte for
// byte by an independent numpy implementation of specs/mlx.md
// (mlx_reference.py), for the CPU and the Metal arithmetic.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "edgequant/convert/hf_to_mlx.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace cv = edgequant::convert;

const fs::path& mlx_tmp_root() {
  static const fs::path d = [] {
    auto p = fs::temp_directory_path() / ("eq_mlx_export_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

fs::path mlx_source_model(const std::string& tag, const std::string& args) {
  const fs::path out = mlx_tmp_root() / tag;
  if (fs::exists(out / "config.json")) return out;
  const std::string cmd = "/usr/bin/python3 " + eqtest::shell_quote(EQ_MAKE_HF_MODEL) + " --out " +
                          eqtest::shell_quote(out.string()) + " " + args + " >/dev/null 2>&1";
  const auto r = eqtest::run_command(cmd);
  REQUIRE_MESSAGE(r.rc == 0, "make_hf_model.py failed: " << cmd);
  return out;
}

// Runs the numpy oracle; returns its JSON summary.
nlohmann::json mlx_reference(const fs::path& src, const fs::path& out, const char* backend) {
  const auto r = eqtest::run_command("/usr/bin/python3 " + eqtest::shell_quote(EQ_MLX_REFERENCE) + " " +
                                     eqtest::shell_quote(src.string()) + " " + eqtest::shell_quote(out.string()) +
                                     " " + backend + " 2>&1");
  INFO(r.out);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(r.rc == 0);
  CHECK(j["problems"].empty());
  return j;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

}  // namespace

TEST_CASE("mlx export: mlx-lm's use_more_bits matches the spec's table") {
  // specs/mlx.md §4.4, "High-bit layers by depth".
  const std::pair<long, std::vector<long>> table[] = {
      {16, {0, 1, 4, 7, 10, 13, 14, 15}},
      {24, {0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23}},
      {32, {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}},
      {40, {0, 1, 2, 3, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34, 35, 36, 37, 38, 39}}};
  for (const auto& [n, high] : table) {
    std::vector<long> got;
    for (long i = 0; i < n; ++i) {
      if (cv::mlx_export::use_more_bits(i, n)) got.push_back(i);
    }
    CHECK_MESSAGE(got == high, "L = " << n);
  }
  using cv::mlx_export::recipe_bits;
  const cv::mlx_export::Recipe r36{3, 6};
  CHECK(recipe_bits(r36, "model.layers.0.self_attn.v_proj", 0, 16) == 6);
  CHECK(recipe_bits(r36, "model.layers.2.self_attn.v_proj", 2, 16) == 3);
  CHECK(recipe_bits(r36, "model.layers.4.mlp.down_proj", 4, 16) == 6);
  CHECK(recipe_bits(r36, "model.layers.4.self_attn.q_proj", 4, 16) == 3);
  CHECK(recipe_bits(r36, "model.layers.3.self_attn.kv_b_proj", 3, 16) == 3);  // layer 3: not a "more bits" layer
  CHECK(recipe_bits(r36, "model.layers.1.self_attn.kv_b_proj", 1, 16) == 6);  // contains v_b_proj
  CHECK(recipe_bits(r36, "lm_head", 0, 16) == 6);
  CHECK(recipe_bits(r36, "model.embed_tokens", 0, 16) == 3);
  CHECK(cv::mlx_export::layer_of("model.layers.12.mlp.down_proj", 2) == 12);
  CHECK(cv::mlx_export::layer_of("lm_head", 2) == 0);
  CHECK_FALSE(cv::mlx_export::parse_recipe("mixed_4_8"));
}

TEST_CASE("mlx export: 4-bit g64, CPU arithmetic, bf16 model: every byte as the numpy reference") {
  const auto src = mlx_source_model("bf16", "--tokenizer spm --dtype bf16 --layers 2");
  const fs::path out = mlx_tmp_root() / "out_q4_cpu";
  cv::MlxOptions opt;
  opt.bits = 4;
  opt.group = 64;
  opt.backend = edgequant::MlxBackend::kCpu;
  opt.threads = 2;
  auto p = cv::hf_to_mlx(src.string(), out.string(), opt);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
  const auto j = mlx_reference(src, out, "cpu");
  // 2 layers × 7 projections + embed_tokens + lm_head; norms kept.
  CHECK(j["quantized"] == 16);
  CHECK(p->quantized == 16);
  CHECK(j["kept"] == 5);
  const auto cfg = read_json(out / "config.json");
  CHECK(cfg["quantization"] == nlohmann::json{{"group_size", 64}, {"bits", 4}, {"mode", "affine"}});
  CHECK(cfg["torch_dtype"] == "bfloat16");
  CHECK(fs::exists(out / "tokenizer.model"));
  CHECK(fs::exists(out / "tokenizer_config.json"));
  CHECK(fs::file_size(out / "tokenizer.model") == fs::file_size(src / "tokenizer.model"));
  // mx.save_safetensors' header: metadata {"format": "mlx"}.
  auto sm = edgequant::safetensors::ShardedModel::open(out.string());
  REQUIRE(sm);
  const auto* e = sm->find("model.layers.1.mlp.down_proj.scales");
  REQUIRE(e);
  CHECK(e->info->dtype == edgequant::safetensors::Dtype::kBF16);
  CHECK(e->info->shape == std::vector<std::uint64_t>{256, 512 / 64});
}

TEST_CASE("mlx export: mixed_3_6, Metal arithmetic, f32 source cast to f16, group 32") {
  const auto src = mlx_source_model("f32_tied", "--tokenizer bpe --dtype f32 --layers 2 --tied --shards 2");
  const fs::path out = mlx_tmp_root() / "out_mixed";
  cv::MlxOptions opt;
  opt.recipe = "mixed_3_6";
  opt.group = 32;
  opt.dtype = edgequant::safetensors::Dtype::kF16;
  auto p = cv::hf_to_mlx(src.string(), out.string(), opt);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
  mlx_reference(src, out, "metal");
  const auto q = read_json(out / "config.json")["quantization"];
  // L = 2: L//8 = 0, 7L//8 = 1, so layer 1 is a "more bits" layer and layer 0 is not
  // ((0 - 0) % 3 = 0); tied embeddings: no lm_head.
  CHECK(q["model.layers.0.self_attn.v_proj"]["bits"] == 3);
  CHECK(q["model.layers.1.self_attn.v_proj"]["bits"] == 6);
  CHECK(q["model.layers.1.mlp.down_proj"]["bits"] == 6);
  CHECK(q["model.layers.0.mlp.down_proj"]["bits"] == 3);
  CHECK(q["model.layers.1.self_attn.q_proj"]["bits"] == 3);
  CHECK(q["model.embed_tokens"] == nlohmann::json{{"group_size", 32}, {"bits", 3}, {"mode", "affine"}});
  CHECK(fs::exists(out / "tokenizer.json"));
}

TEST_CASE("mlx export: weights whose rows do not split into groups stay unquantized") {
  // hidden 192 is not a multiple of 128: every projection reading the hidden
  // state and the embedding stay f32; down_proj (ff 512) is quantized.
  const auto src = mlx_source_model("h192", "--tokenizer spm --dtype f32 --layers 1 --hidden 192 --heads 4 --kv-heads 2");
  const fs::path out = mlx_tmp_root() / "out_g128";
  cv::MlxOptions opt;
  opt.bits = 8;
  opt.group = 128;
  opt.backend = edgequant::MlxBackend::kCpu;
  auto p = cv::hf_to_mlx(src.string(), out.string(), opt);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
  const auto j = mlx_reference(src, out, "cpu");
  CHECK(j["quantized"] == 1);
  auto sm = edgequant::safetensors::ShardedModel::open(out.string());
  REQUIRE(sm);
  CHECK(sm->find("model.layers.0.mlp.down_proj.scales") != nullptr);
  CHECK(sm->find("model.layers.0.mlp.up_proj.scales") == nullptr);
  REQUIRE(sm->find("model.layers.0.mlp.up_proj.weight") != nullptr);
  CHECK(sm->find("model.layers.0.mlp.up_proj.weight")->info->dtype == edgequant::safetensors::Dtype::kF32);
}

TEST_CASE("mlx export: clear errors, nothing written") {
  const auto src = mlx_source_model("bf16", "--tokenizer spm --dtype bf16 --layers 2");
  const fs::path out = mlx_tmp_root() / "out_bad";
  cv::MlxOptions opt;
  opt.bits = 7;
  auto p = cv::hf_to_mlx(src.string(), out.string(), opt);
  REQUIRE_FALSE(p);
  CHECK(p.error().message().find("bits must be 2, 3, 4, 5, 6 or 8") != std::string::npos);
  opt.bits = 4;
  opt.group = 48;
  p = cv::hf_to_mlx(src.string(), out.string(), opt);
  REQUIRE_FALSE(p);
  CHECK(p.error().message().find("group size must be 32, 64 or 128") != std::string::npos);
  opt.group = 64;
  opt.recipe = "mixed_5_8";
  p = cv::hf_to_mlx(src.string(), out.string(), opt);
  REQUIRE_FALSE(p);
  CHECK(p.error().message().find("unknown MLX recipe") != std::string::npos);
  CHECK_FALSE(fs::exists(out / "config.json"));
  p = cv::hf_to_mlx((mlx_tmp_root() / "missing").string(), out.string(), cv::MlxOptions{});
  REQUIRE_FALSE(p);
  CHECK(p.error().message().find("not a folder") != std::string::npos);
}

#ifdef EQ_CLI_PATH
TEST_CASE("mlx export: the CLI") {
  const auto src = mlx_source_model("bf16", "--tokenizer spm --dtype bf16 --layers 2");
  const fs::path out = mlx_tmp_root() / "out_cli";
  const std::string base = eqtest::shell_quote(EQ_CLI_PATH) + " convert " + eqtest::shell_quote(src.string()) +
                           " -o " + eqtest::shell_quote(out.string()) + " --to mlx";
  auto r = eqtest::run_command(base + " --bits 4 --group 64 --mlx-backend cpu -j 2 2>&1");
  CHECK_MESSAGE(r.rc == 0, r.out);
  CHECK(r.out.find("16 quantized, 5 kept") != std::string::npos);
  mlx_reference(src, out, "cpu");
  r = eqtest::run_command(base + " 2>&1");
  CHECK(r.rc != 0);
  CHECK(r.out.find("use --force") != std::string::npos);
  r = eqtest::run_command(base + " --force --bits 9 2>&1");
  CHECK(r.rc != 0);
  CHECK(r.out.find("bits must be") != std::string::npos);
  r = eqtest::run_command(base + " --force --recipe mixed_4_6 2>&1");
  CHECK_MESSAGE(r.rc == 0, r.out);
  mlx_reference(src, out, "metal");
}
#endif
