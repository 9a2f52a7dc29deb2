// Tokenizer files rebuilt from a GGUF's tokenizer.ggml.* metadata, for the
// reverse converters (GGUF → Hugging Face, MLX): a SentencePiece vocabulary
// ("llama") becomes tokenizer.model, a byte-level BPE one ("gpt2") becomes
// tokenizer.json; both get a tokenizer_config.json (special tokens, add_bos /
// add_eos, chat template). docs/convert.md, "Tokenizer from a GGUF".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/convert/hf_tokenizer.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf.hpp"
#include "edgequant/formats/onnx/protobuf.hpp"
#include "edgequant/io/atomic_file.hpp"

namespace edgequant::convert {

namespace detail {

// Appends protobuf records to a string (the SentencePiece model is small).
struct StringSink {
  std::string* out;
  Status write(std::span<const std::byte> b) {
    out->append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  }
  std::uint64_t position() const noexcept { return out->size(); }
};

template <class R>
Expected<std::vector<std::string>> gguf_strings(const R& r, const char* key, std::uint64_t expect) {
  const auto* e = r.find(key);
  if (!e) return std::vector<std::string>{};
  if (e->value.type() != gguf::Type::kArray) {
    return make_error(Errc::kInvalid, std::string(key) + " is not an array", kNoOffset, r.path());
  }
  auto v = e->value.array().template to_vector<std::string>();
  if (!v) return std::move(v).error().in_file(r.path());
  if (expect && v->size() != expect) {
    return make_error(Errc::kInvalid, std::string(key) + " has " + std::to_string(v->size()) +
                                          " entries for " + std::to_string(expect) + " tokens",
                      kNoOffset, r.path());
  }
  return v;
}

template <class T, class R>
Expected<std::vector<T>> gguf_numbers(const R& r, const char* key, std::uint64_t expect) {
  const auto* e = r.find(key);
  if (!e) return std::vector<T>{};
  if (e->value.type() != gguf::Type::kArray) {
    return make_error(Errc::kInvalid, std::string(key) + " is not an array", kNoOffset, r.path());
  }
  auto v = e->value.array().template to_vector<T>();
  if (!v) return std::move(v).error().in_file(r.path());
  if (v->size() != expect) {
    return make_error(Errc::kInvalid, std::string(key) + " has " + std::to_string(v->size()) +
                                          " entries for " + std::to_string(expect) + " tokens",
                      kNoOffset, r.path());
  }
  return v;
}

inline std::string token_or_empty(const hf::Vocab& v, const std::optional<std::uint32_t>& id) {
  return id && *id < v.tokens.size() ? v.tokens[*id] : std::string();
}

}  // namespace detail

// The vocabulary a GGUF carries, or nullopt when it has none (no
// tokenizer.ggml.tokens). Checked: array types, equal lengths, ids in range.
template <class R>
Expected<std::optional<hf::Vocab>> vocab_from_gguf(const R& r) {
  auto model = r.template get_or<std::string>("tokenizer.ggml.model", std::string());
  if (!model) return std::move(model).error();
  auto tokens = detail::gguf_strings(r, "tokenizer.ggml.tokens", 0);
  if (!tokens) return std::move(tokens).error();
  if (tokens->empty()) return std::optional<hf::Vocab>{};
  hf::Vocab v;
  v.model = *model;
  v.tokens = std::move(*tokens);
  const std::uint64_t n = v.tokens.size();
  if (auto pre = r.template get_or<std::string>("tokenizer.ggml.pre", std::string("default")); pre) v.pre = *pre;
  if (r.find("tokenizer.ggml.scores")) {
    auto s = detail::gguf_numbers<float>(r, "tokenizer.ggml.scores", n);
    if (!s) return std::move(s).error();
    v.scores = std::move(*s);
  }
  if (r.find("tokenizer.ggml.token_type")) {
    auto t = detail::gguf_numbers<std::int32_t>(r, "tokenizer.ggml.token_type", n);
    if (!t) return std::move(t).error();
    v.types = std::move(*t);
  } else {
    v.types.assign(n, static_cast<std::int32_t>(hf::TokenType::kNormal));
  }
  for (std::int32_t t : v.types) {
    if (t < 1 || t > 6) {
      return make_error(Errc::kInvalid, "tokenizer.ggml.token_type holds " + std::to_string(t) + " (1..6)",
                        kNoOffset, r.path());
    }
  }
  auto merges = detail::gguf_strings(r, "tokenizer.ggml.merges", 0);
  if (!merges) return std::move(merges).error();
  v.merges = std::move(*merges);
  const std::pair<const char*, std::optional<std::uint32_t>*> ids[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},     {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.unknown_token_id", &v.unk}, {"tokenizer.ggml.seperator_token_id", &v.sep},
      {"tokenizer.ggml.padding_token_id", &v.pad}, {"tokenizer.ggml.cls_token_id", &v.cls},
      {"tokenizer.ggml.mask_token_id", &v.mask}};
  for (const auto& [key, slot] : ids) {
    if (!r.find(key)) continue;
    auto id = r.template get<std::uint32_t>(key);
    if (!id) return std::move(id).error();
    if (*id >= n) {
      return make_error(Errc::kInvalid, std::string(key) + " = " + std::to_string(*id) + " is not below the " +
                                            std::to_string(n) + " tokens",
                        kNoOffset, r.path());
    }
    *slot = *id;
  }
  for (auto [key, slot] : {std::pair{"tokenizer.ggml.add_bos_token", &v.add_bos},
                           std::pair{"tokenizer.ggml.add_eos_token", &v.add_eos},
                           std::pair{"tokenizer.ggml.add_space_prefix", &v.add_space_prefix}}) {
    if (!r.find(key)) continue;
    auto b = r.template get<bool>(key);
    if (!b) return std::move(b).error();
    *slot = *b;
  }
  if (auto t = r.template get_or<std::string>("tokenizer.chat_template", std::string()); t) v.chat_template = *t;
  return std::optional<hf::Vocab>(std::move(v));
}

// SentencePiece ModelProto of a "llama" vocabulary: the pieces with their
// scores and types, trainer_spec model_type BPE (llama.cpp's SPM tokenizer
// merges by score, which is SentencePiece's BPE), identity normalizer with
// llama's whitespace rules (no collapsing, "▁" escaping, dummy prefix as the
// GGUF says). Field numbers: sentencepiece_model.proto.
inline Expected<std::string> spm_model_proto(const hf::Vocab& v) {
  if (v.scores.size() != v.tokens.size()) {
    return make_error(Errc::kInvalid, "a SentencePiece vocabulary needs one score per token");
  }
  std::string out;
  detail::StringSink sink{&out};
  pb::Encoder<detail::StringSink> e(sink);
  bool has_byte = false;
  for (std::size_t i = 0; i < v.tokens.size(); ++i) {
    has_byte |= v.types[i] == static_cast<std::int32_t>(hf::TokenType::kByte);
    EDGEQUANT_TRY(e.message(1, [&](auto& m) -> Status {
      EDGEQUANT_TRY(m.field_string(1, v.tokens[i]));
      EDGEQUANT_TRY(m.field_float(2, v.scores[i]));
      return m.field_int32(3, v.types[i]);
    }));
  }
  auto id_or = [](const std::optional<std::uint32_t>& id, std::int32_t none) {
    return id ? static_cast<std::int32_t>(*id) : none;
  };
  EDGEQUANT_TRY(e.message(2, [&](auto& m) -> Status {
    EDGEQUANT_TRY(m.field_int32(3, 2));  // model_type BPE
    EDGEQUANT_TRY(m.field_int32(4, static_cast<std::int32_t>(v.tokens.size())));
    EDGEQUANT_TRY(m.field_int32(35, has_byte ? 1 : 0));  // byte_fallback
    EDGEQUANT_TRY(m.field_int32(40, id_or(v.unk, 0)));
    EDGEQUANT_TRY(m.field_int32(41, id_or(v.bos, -1)));
    EDGEQUANT_TRY(m.field_int32(42, id_or(v.eos, -1)));
    return m.field_int32(43, id_or(v.pad, -1));
  }));
  EDGEQUANT_TRY(e.message(3, [&](auto& m) -> Status {
    EDGEQUANT_TRY(m.field_string(1, "identity"));
    EDGEQUANT_TRY(m.field_int32(3, v.add_space_prefix.value_or(true) ? 1 : 0));
    EDGEQUANT_TRY(m.field_int32(4, 0));  // remove_extra_whitespaces
    return m.field_int32(5, 1);          // escape_whitespaces
  }));
  return out;
}

// tokenizer.json of a "gpt2" (byte-level BPE) vocabulary: NORMAL tokens in
// model.vocab, CONTROL and USER_DEFINED ones as added tokens, merges as "a b",
// the pre-tokenizer llama.cpp's `pre` name stands for (llama-bpe and qwen2
// regexes, else GPT-2's ByteLevel regex), a TemplateProcessing that adds BOS
// when the GGUF says add_bos_token.
inline Expected<nlohmann::ordered_json> bpe_tokenizer_json(const hf::Vocab& v) {
  using J = nlohmann::ordered_json;
  J added = J::array();
  J vocab = J::object();
  for (std::size_t i = 0; i < v.tokens.size(); ++i) {
    const auto t = static_cast<hf::TokenType>(v.types[i]);
    if (t == hf::TokenType::kControl || t == hf::TokenType::kUserDefined) {
      added.push_back({{"id", i},
                       {"content", v.tokens[i]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", t == hf::TokenType::kUserDefined},
                       {"special", t == hf::TokenType::kControl}});
    } else if (t != hf::TokenType::kUnused) {
      if (vocab.contains(v.tokens[i])) {
        return make_error(Errc::kInvalid, "token \"" + v.tokens[i] + "\" appears twice in the vocabulary");
      }
      vocab[v.tokens[i]] = i;
    }
  }
  J merges = J::array();
  for (const auto& m : v.merges) merges.push_back(m);
  static constexpr std::pair<std::string_view, std::string_view> kSplit[] = {
      {"llama-bpe",
       "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
       "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
      {"qwen2",
       "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
       "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
  };
  J pre;
  for (const auto& [name, re] : kSplit) {
    if (v.pre == name) {
      pre = {{"type", "Sequence"},
             {"pretokenizers",
              J::array({J{{"type", "Split"},
                          {"pattern", {{"Regex", std::string(re)}}},
                          {"behavior", "Isolated"},
                          {"invert", false}},
                        J{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
    }
  }
  if (pre.is_null()) pre = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  J post = nullptr;
  if (v.add_bos.value_or(false) && v.bos) {
    const std::string bos = v.tokens[*v.bos];
    post = {{"type", "TemplateProcessing"},
            {"single", J::array({J{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
                                 J{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
            {"pair", J::array({J{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
                               J{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                               J{{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
                               J{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
            {"special_tokens", {{bos, {{"id", bos}, {"ids", J::array({*v.bos})}, {"tokens", J::array({bos})}}}}}};
  }
  J j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = std::move(added);
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = std::move(pre);
  j["post_processor"] = std::move(post);
  j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", v.pre == "llama-bpe"},
                {"vocab", std::move(vocab)},
                {"merges", std::move(merges)}};
  return j;
}

// tokenizer_config.json: the special tokens by content, add_bos/add_eos, the
// chat template, and the tokenizer class transformers should build.
inline nlohmann::ordered_json tokenizer_config_json(const hf::Vocab& v, std::uint32_t n_ctx) {
  nlohmann::ordered_json j;
  j["tokenizer_class"] = v.model == "llama" ? "LlamaTokenizer" : "PreTrainedTokenizerFast";
  j["add_bos_token"] = v.add_bos.value_or(v.model == "llama");
  j["add_eos_token"] = v.add_eos.value_or(false);
  const std::pair<const char*, const std::optional<std::uint32_t>*> named[] = {
      {"bos_token", &v.bos}, {"eos_token", &v.eos}, {"unk_token", &v.unk}, {"pad_token", &v.pad}};
  for (const auto& [key, id] : named) {
    if (*id) j[key] = detail::token_or_empty(v, *id);
  }
  if (v.model == "llama") j["legacy"] = false;
  j["clean_up_tokenization_spaces"] = false;
  if (n_ctx) j["model_max_length"] = n_ctx;
  if (!v.chat_template.empty()) j["chat_template"] = v.chat_template;
  return j;
}

// Writes the tokenizer files of the GGUF `r` into `dir` (atomically, each
// file) and returns their names; none when the GGUF has no vocabulary.
// Vocabularies other than "llama" and "gpt2" are refused.
template <class R>
Expected<std::vector<std::string>> write_tokenizer_from_gguf(const R& r, const std::filesystem::path& dir,
                                                             std::uint32_t n_ctx = 0) {
  auto vocab = vocab_from_gguf(r);
  if (!vocab) return std::move(vocab).error();
  std::vector<std::string> written;
  if (!*vocab) return written;
  const hf::Vocab& v = **vocab;
  auto put = [&](const char* name, std::string_view text) -> Status {
    auto f = AtomicFile::create((dir / name).string());
    if (!f) return std::move(f).error();
    EDGEQUANT_TRY(f->write(text.data(), text.size()));
    EDGEQUANT_TRY(f->commit());
    written.emplace_back(name);
    return {};
  };
  if (v.model == "llama") {
    auto proto = spm_model_proto(v);
    if (!proto) return std::move(proto).error().in_file(r.path());
    EDGEQUANT_TRY(put("tokenizer.model", *proto));
  } else if (v.model == "gpt2") {
    auto tj = bpe_tokenizer_json(v);
    if (!tj) return std::move(tj).error().in_file(r.path());
    EDGEQUANT_TRY(put("tokenizer.json", tj->dump(1, ' ', false) + "\n"));
  } else {
    return make_error(Errc::kUnsupported,
                      "tokenizer.ggml.model \"" + v.model + "\" cannot be written back (llama or gpt2)", kNoOffset,
                      r.path());
  }
  EDGEQUANT_TRY(put("tokenizer_config.json", tokenizer_config_json(v, n_ctx).dump(2) + "\n"));
  return written;
}

}  // namespace edgequant::convert
