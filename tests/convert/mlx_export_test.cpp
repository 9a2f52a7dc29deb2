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

#include "edgequant/convert/gguf_to_mlx.hpp"
#include "edgequant/convert/hf_to_gguf.hpp"
#include "edgequant/convert/hf_to_mlx.hpp"
#include "edgequant/quantize.hpp"
#include "formats/gguf_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_convert_mlx_export_test {

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

namespace {

fs::path gguf_of(const fs::path& model, const char* ftype, const std::string& file) {
  auto m = cv::HfModel::open(model.string());
  REQUIRE_MESSAGE(m, (m ? "" : m.error().message()));
  cv::Options o;
  o.mix.ftype = *edgequant::llama::parse_ftype(ftype);
  o.threads = 2;
  auto p = cv::plan(*m, o);
  REQUIRE_MESSAGE(p, (p ? "" : p.error().message()));
  const fs::path out = mlx_tmp_root() / file;
  auto st = cv::convert_file(*m, *p, out.string(), o);
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message()));
  return out;
}

// q·scale + bias in float32 from an exported module, element by element, with
// the codes read from the LE bitstream by hand.
std::vector<float> mlx_values(const edgequant::safetensors::ShardedModel& sm, const std::string& module, int bits,
                              std::size_t group) {
  const auto* w = sm.find(module + ".weight");
  const auto* s = sm.find(module + ".scales");
  const auto* b = sm.find(module + ".biases");
  REQUIRE((w && s && b));
  REQUIRE(s->info->dtype == edgequant::safetensors::Dtype::kF16);
  const std::size_t rows = w->info->shape[0], cols = w->info->shape[1] * 32 / static_cast<std::size_t>(bits);
  const auto wb = sm.data(*w), sb = sm.data(*s), bb = sm.data(*b);
  auto f16_at = [](std::span<const std::byte> d, std::size_t i) {
    const auto lo = std::to_integer<std::uint16_t>(d[2 * i]), hi = std::to_integer<std::uint16_t>(d[2 * i + 1]);
    return edgequant::f16_to_f32(static_cast<edgequant::f16_bits>(lo | (hi << 8)));
  };
  std::vector<float> v(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t bit = (r * cols + c) * static_cast<std::size_t>(bits);
      std::uint32_t q = 0;
      for (int k = 0; k < bits; ++k) {
        const std::size_t i = bit + static_cast<std::size_t>(k);
        q |= static_cast<std::uint32_t>((std::to_integer<unsigned>(wb[i / 8]) >> (i % 8)) & 1u) << k;
      }
      const std::size_t g = r * (cols / group) + c / group;
      v[r * cols + c] = static_cast<float>(q) * f16_at(sb, g) + f16_at(bb, g);
    }
  }
  return v;
}

// Checks every Q4_0/Q4_1/Q8_0 weight of the GGUF against the export: the same
// float32 values as ggml's dequantization, rows in Hugging Face order.
std::size_t check_repacked(const fs::path& gguf_path, const fs::path& out) {
  auto r = edgequant::gguf::Reader<>::open_file(gguf_path.string());
  REQUIRE(r);
  auto sm = edgequant::safetensors::ShardedModel::open(out.string());
  REQUIRE(sm);
  const auto n_head = *r->get<std::uint32_t>("llama.attention.head_count");
  const auto n_head_kv = *r->get<std::uint32_t>("llama.attention.head_count_kv");
  std::size_t checked = 0;
  for (const auto& t : r->tensors()) {
    if (t.type != edgequant::GgmlType::kQ4_0 && t.type != edgequant::GgmlType::kQ8_0 &&
        t.type != edgequant::GgmlType::kQ4_1) {
      continue;
    }
    const std::string name(t.name);
    std::string module;
    std::uint32_t heads = 0;
    if (name == "token_embd.weight") module = "model.embed_tokens";
    if (name == "output.weight") module = "lm_head";
    const std::pair<const char*, const char*> map[] = {
        {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"}, {"attn_v", "self_attn.v_proj"},
        {"attn_output", "self_attn.o_proj"}, {"ffn_gate", "mlp.gate_proj"}, {"ffn_up", "mlp.up_proj"},
        {"ffn_down", "mlp.down_proj"}};
    for (const auto& [g, h] : map) {
      const auto dot = name.find('.', 4);
      if (name.starts_with("blk.") && name.substr(dot + 1) == std::string(g) + ".weight") {
        module = "model.layers." + name.substr(4, dot - 4) + "." + h;
        if (std::string(g) == "attn_q") heads = n_head;
        if (std::string(g) == "attn_k") heads = n_head_kv;
      }
    }
    REQUIRE_MESSAGE(!module.empty(), name);
    const std::size_t cols = t.ne[0], rows = t.ne[1];
    std::vector<float> ggml(rows * cols);
    REQUIRE(edgequant::dequantize(t.type, r->tensor_data(t), cols, ggml));
    const auto got = mlx_values(*sm, module, t.type == edgequant::GgmlType::kQ8_0 ? 8 : 4, 32);
    bool same = true;
    for (std::size_t row = 0; row < rows && same; ++row) {
      const std::size_t hf_row = heads ? cv::permuted_source_row(row, rows, heads) : row;
      for (std::size_t c = 0; c < cols; ++c) same = same && ggml[row * cols + c] == got[hf_row * cols + c];
    }
    CHECK_MESSAGE(same, name);
    ++checked;
  }
  return checked;
}

}  // namespace

TEST_CASE("mlx export from GGUF: Q4_0 and Q8_0 re-packed without re-quantizing (ggml's exact values)") {
  const auto src = mlx_source_model("f32_l2", "--tokenizer spm --dtype f32 --layers 2");
  {
    const auto g = gguf_of(src, "Q4_0", "q4_0.gguf");
    const fs::path out = mlx_tmp_root() / "from_q4_0";
    cv::MlxOptions opt;
    opt.group = 32;
    opt.backend = edgequant::MlxBackend::kCpu;
    auto res = cv::gguf_to_mlx(g.string(), out.string(), opt);
    REQUIRE_MESSAGE(res, (res ? "" : res.error().message()));
    // llama.cpp's Q4_0 mix: every 2-D weight Q4_0 except output.weight (Q6_K → re-quantized).
    CHECK(res->repacked == 15);
    CHECK(res->requantized == 1);
    CHECK(res->kept == 5);
    CHECK(check_repacked(g, out) == 15);
    const auto cfg = read_json(out / "config.json");
    CHECK(cfg["quantization"] == nlohmann::json{{"group_size", 32}, {"bits", 4}, {"mode", "affine"}});
    CHECK(cfg["architectures"][0] == "LlamaForCausalLM");
    // Norms: the GGUF's F32 values cast to f16.
    auto sm = edgequant::safetensors::ShardedModel::open(out.string());
    REQUIRE(sm);
    const auto* n = sm->find("model.norm.weight");
    REQUIRE(n);
    CHECK(n->info->dtype == edgequant::safetensors::Dtype::kF16);
  }
  {
    const auto g = gguf_of(src, "Q8_0", "q8_0.gguf");
    const fs::path out = mlx_tmp_root() / "from_q8_0";
    cv::MlxOptions opt;
    opt.group = 32;
    auto res = cv::gguf_to_mlx(g.string(), out.string(), opt);
    REQUIRE_MESSAGE(res, (res ? "" : res.error().message()));
    CHECK(res->repacked == 16);
    CHECK(check_repacked(g, out) == 16);
    const auto q = read_json(out / "config.json")["quantization"];
    CHECK(q["model.layers.1.mlp.down_proj"] == nlohmann::json{{"group_size", 32}, {"bits", 8}, {"mode", "affine"}});
  }
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

}  // namespace eqtest_convert_mlx_export_test
