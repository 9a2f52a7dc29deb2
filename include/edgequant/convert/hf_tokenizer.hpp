// Hugging Face tokenizer files -> llama.cpp's `tokenizer.ggml.*` metadata:
// SentencePiece tokenizer.model (llama vocab) or tokenizer.json BPE (gpt2
// vocab), special token ids, add_bos/add_eos and the chat template, as
// llama.cpp's convert_hf_to_gguf.py writes them (docs/convert.md §Tokenizer).
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "edgequant/convert/hf_config.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf/value.hpp"
#include "edgequant/formats/onnx/protobuf.hpp"

namespace edgequant::hf {

// llama.cpp's token types (SentencePiece's piece types shifted by one).
enum class TokenType : std::int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Score llama.cpp gives padding ids and added tokens.
inline constexpr float kPadScore = -10000.0f;
inline constexpr float kAddedScore = -1000.0f;

struct Vocab {
  std::string model;  // tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (BPE)
  std::string pre = "default";
  std::vector<std::string> tokens;
  std::vector<float> scores;  // SentencePiece only
  std::vector<std::int32_t> types;
  std::vector<std::string> merges;  // BPE only, "a b"
  std::optional<bool> add_space_prefix;
  std::optional<std::uint32_t> bos, eos, unk, pad, sep, cls, mask;
  std::optional<bool> add_bos, add_eos;
  std::string chat_template;

  void to_gguf(gguf::Metadata& md) const {
    md.set("tokenizer.ggml.model", model);
    md.set("tokenizer.ggml.pre", pre);
    md.set("tokenizer.ggml.tokens", gguf::Value::strings(tokens));
    if (!scores.empty()) md.set("tokenizer.ggml.scores", gguf::Value::array<float>(scores));
    md.set("tokenizer.ggml.token_type", gguf::Value::array<std::int32_t>(types));
    if (!merges.empty()) md.set("tokenizer.ggml.merges", gguf::Value::strings(merges));
    if (add_space_prefix) md.set("tokenizer.ggml.add_space_prefix", *add_space_prefix);
    const std::pair<const char*, const std::optional<std::uint32_t>*> ids[] = {
        {"tokenizer.ggml.bos_token_id", &bos},   {"tokenizer.ggml.eos_token_id", &eos},
        {"tokenizer.ggml.unknown_token_id", &unk}, {"tokenizer.ggml.seperator_token_id", &sep},
        {"tokenizer.ggml.padding_token_id", &pad}, {"tokenizer.ggml.cls_token_id", &cls},
        {"tokenizer.ggml.mask_token_id", &mask}};
    for (const auto& [key, v] : ids) {
      if (*v) md.set(key, **v);
    }
    if (add_bos) md.set("tokenizer.ggml.add_bos_token", *add_bos);
    if (add_eos) md.set("tokenizer.ggml.add_eos_token", *add_eos);
    if (!chat_template.empty()) md.set("tokenizer.chat_template", chat_template);
  }
};

namespace detail {

// Reads a whole small file (tokenizer files, configs), refusing ones over `max`.
inline Expected<std::string> read_text(const std::filesystem::path& p, std::uint64_t max = 1ull << 30) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec) return make_error(Errc::kIo, "cannot stat: " + ec.message(), kNoOffset, p.string());
  if (size > max) {
    return make_error(Errc::kLimit, "file larger than " + std::to_string(max) + " bytes", kNoOffset,
                      p.string());
  }
  std::ifstream f(p, std::ios::binary);
  if (!f) return make_error(Errc::kIo, "cannot open", kNoOffset, p.string());
  std::string s(static_cast<std::size_t>(size), '\0');
  f.read(s.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(f.gcount()) != size) {
    return make_error(Errc::kIo, "short read", kNoOffset, p.string());
  }
  return s;
}

// config.json of the Hugging Face model folder in_dir, parsed; a missing
// folder is kNotFound saying what was wanted (`want`).
inline Expected<Config> read_folder_config(const std::string& in_dir, std::string_view want) {
  const std::filesystem::path in(in_dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(in, ec)) {
    return make_error(Errc::kNotFound, "not a folder (want " + std::string(want) + ")", kNoOffset, in_dir);
  }
  auto text = read_text(in / "config.json", 64u << 20);
  if (!text) return std::move(text).error();
  return parse_config(*text, (in / "config.json").string());
}

inline Expected<nlohmann::json> read_json(const std::filesystem::path& p) {
  auto t = read_text(p);
  if (!t) return std::move(t).error();
  nlohmann::json j = nlohmann::json::parse(*t, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(Errc::kInvalid, "not a JSON object", kNoOffset, p.string());
  }
  return j;
}

inline std::string pad_token(std::size_t i) { return "[PAD" + std::to_string(i) + "]"; }

// SentencePiece ModelProto (sentencepiece_model.proto): 1 pieces
// {1 piece, 2 score, 3 type}, 3 normalizer_spec {3 add_dummy_prefix}.
struct SpmModel {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<std::int32_t> types;  // SentencePiece enum: NORMAL=1 … BYTE=6
  bool add_dummy_prefix = true;
};

inline Expected<SpmModel> parse_spm(std::span<const std::byte> buf, const std::string& file) {
  SpmModel m;
  pb::Path root;
  pb::Decoder d(buf, 0, root);
  auto fail = [&](Error e) { return std::move(e).in_file(file); };
  while (!d.done()) {
    auto f = d.next();
    if (!f) return fail(std::move(f).error());
    if (f->number == 1 && f->wire == pb::WireType::kLen) {
      pb::Path pp{&root, "pieces", static_cast<std::int64_t>(m.pieces.size())};
      pb::Decoder pd(f->bytes, f->payload_offset, pp);
      std::string piece;
      float score = 0;
      std::int32_t type = 1;
      while (!pd.done()) {
        auto g = pd.next();
        if (!g) return fail(std::move(g).error());
        if (g->number == 1 && g->wire == pb::WireType::kLen) {
          piece.assign(reinterpret_cast<const char*>(g->bytes.data()), g->bytes.size());
        } else if (g->number == 2 && g->wire == pb::WireType::kI32) {
          const auto bits = static_cast<std::uint32_t>(g->value);
          std::memcpy(&score, &bits, 4);
        } else if (g->number == 3 && g->wire == pb::WireType::kVarint) {
          if (g->value < 1 || g->value > 6) {
            return make_error(Errc::kInvalid, "piece type " + std::to_string(g->value) + " is not 1..6",
                              g->payload_offset, file);
          }
          type = static_cast<std::int32_t>(g->value);
        }
      }
      m.pieces.push_back(std::move(piece));
      m.scores.push_back(score);
      m.types.push_back(type);
    } else if (f->number == 3 && f->wire == pb::WireType::kLen) {
      pb::Path np{&root, "normalizer_spec", -1};
      pb::Decoder nd(f->bytes, f->payload_offset, np);
      while (!nd.done()) {
        auto g = nd.next();
        if (!g) return fail(std::move(g).error());
        if (g->number == 3 && g->wire == pb::WireType::kVarint) m.add_dummy_prefix = g->value != 0;
      }
    }
  }
  if (m.pieces.empty()) return make_error(Errc::kInvalid, "SentencePiece model has no pieces", 0, file);
  return m;
}

// convert_hf_to_gguf.py's does_token_look_special: added tokens some models
// forget to mark special.
inline bool looks_special(std::string_view t) {
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (t.starts_with("<|") && t.ends_with("|>")) return true;
  if (t.starts_with("<\xEF\xBD\x9C") && t.ends_with("\xEF\xBD\x9C>")) return true;  // <｜…｜> (deepseek)
  return t.starts_with("<unused") && t.ends_with(">");
}

// User-defined tokens are stored pre-normalized: U+2581 becomes a space.
// Built by appending (std::string::replace here trips GCC 12's -Wrestrict
// false positive at -O3, GCC bug 105329).
inline std::string unescape_spaces(std::string_view s) {
  static constexpr std::string_view kMeta = "\xE2\x96\x81";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (s.substr(i, kMeta.size()) == kMeta) {
      out.push_back(' ');
      i += kMeta.size();
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// added_tokens.json ({"content": id}) and tokenizer_config.json's
// `added_tokens_decoder` ({"id": {"content", "special"}}) over a
// SentencePiece vocabulary, as _create_vocab_sentencepiece applies them.
inline void apply_spm_added_tokens(const nlohmann::json* added_json, const nlohmann::json* tc, Vocab& v) {
  if (added_json) {
    for (const auto& [content, id] : added_json->items()) {
      if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= v.tokens.size()) continue;
      const auto i = static_cast<std::size_t>(id.get<std::uint64_t>());
      v.tokens[i] = content;
      v.scores[i] = kAddedScore;
      v.types[i] = static_cast<std::int32_t>(TokenType::kUserDefined);
    }
  }
  if (!tc) return;
  auto it = tc->find("added_tokens_decoder");
  if (it == tc->end() || !it->is_object()) return;
  for (const auto& [key, tok] : it->items()) {
    char* end = nullptr;
    const unsigned long id = std::strtoul(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || id >= v.tokens.size() || !tok.is_object()) continue;
    auto content = tok.find("content");
    if (content == tok.end() || !content->is_string()) continue;
    std::string text = content->get<std::string>();
    auto sp = tok.find("special");
    const bool special = (sp != tok.end() && sp->is_boolean() && sp->get<bool>()) || looks_special(text);
    if (!special) text = unescape_spaces(std::move(text));
    v.tokens[id] = std::move(text);
    v.types[id] = static_cast<std::int32_t>(special ? TokenType::kControl : TokenType::kUserDefined);
    v.scores[id] = kAddedScore;
  }
}

// tokenizer.ggml.pre: llama.cpp picks it from a hash of the HF tokenizer's
// output on a test text (which needs the HF tokenizer itself). Here: the
// pre-tokenizer's split regex when it is one llama.cpp knows, else "default".
inline std::string bpe_pre_from_regex(const nlohmann::json& tj) {
  static constexpr std::pair<std::string_view, std::string_view> kKnown[] = {
      // Llama 3
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
       "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "llama-bpe"},
      // Qwen2
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
       "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "qwen2"},
  };
  auto pt = tj.find("pre_tokenizer");
  if (pt == tj.end() || !pt->is_object()) return "default";
  std::vector<const nlohmann::json*> parts;
  if (auto seq = pt->find("pretokenizers"); seq != pt->end() && seq->is_array()) {
    for (const auto& p : *seq) parts.push_back(&p);
  } else {
    parts.push_back(&*pt);
  }
  for (const auto* p : parts) {
    if (!p->is_object() || p->value("type", std::string()) != "Split") continue;
    auto pat = p->find("pattern");
    if (pat == p->end() || !pat->is_object() || !pat->contains("Regex") || !(*pat)["Regex"].is_string()) continue;
    const std::string re = (*pat)["Regex"].get<std::string>();
    for (const auto& [k, name] : kKnown) {
      if (re == k) return std::string(name);
    }
  }
  return "default";
}

// gguf-py SpecialVocab: ids of <typ>_token from tokenizer_config.json matched
// against tokenizer.json's added tokens, then config.json's <typ>_token_id;
// add_bos/add_eos and the chat template from tokenizer_config.json.
inline void apply_special(const std::filesystem::path& dir, const nlohmann::json* tok_json,
                          const nlohmann::json* tc, const Config& cfg, Vocab& v) {
  std::optional<std::uint32_t>* slots[] = {&v.bos, &v.eos, &v.unk, &v.sep, &v.pad, &v.cls, &v.mask};
  const char* names[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
  const std::size_t n_vocab = v.tokens.size();
  if (tc) {
    if (auto it = tc->find("add_bos_token"); it != tc->end() && it->is_boolean()) v.add_bos = it->get<bool>();
    if (auto it = tc->find("add_eos_token"); it != tc->end() && it->is_boolean()) v.add_eos = it->get<bool>();
    if (auto it = tc->find("chat_template"); it != tc->end() && it->is_string()) {
      v.chat_template = it->get<std::string>();
    }
  }
  if (v.chat_template.empty()) {
    // Newer checkpoints keep the template beside the config.
    if (auto t = read_text(dir / "chat_template.jinja", 16u << 20)) v.chat_template = *t;
  }
  const nlohmann::json* added = nullptr;
  if (tok_json) {
    auto it = tok_json->find("added_tokens");
    if (it != tok_json->end() && it->is_array() && !it->empty()) added = &*it;
  }
  if (tc && added) {
    for (std::size_t k = 0; k < std::size(names); ++k) {
      auto it = tc->find(std::string(names[k]) + "_token");
      if (it == tc->end()) continue;
      std::string content;
      if (it->is_string()) {
        content = it->get<std::string>();
      } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        content = (*it)["content"].get<std::string>();
      } else {
        continue;
      }
      for (const auto& a : *added) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_unsigned()) continue;
        if (a.value("content", std::string()) == content) {
          const auto id = a["id"].get<std::uint64_t>();
          if (id < n_vocab) *slots[k] = static_cast<std::uint32_t>(id);
          break;
        }
      }
    }
  }
  const std::optional<std::uint32_t>* from_cfg[] = {&cfg.bos_token_id, &cfg.eos_token_id, nullptr, nullptr,
                                                    &cfg.pad_token_id, nullptr, nullptr};
  for (std::size_t k = 0; k < std::size(names); ++k) {
    if (!*slots[k] && from_cfg[k] && *from_cfg[k] && **from_cfg[k] < n_vocab) *slots[k] = *from_cfg[k];
  }
}

}  // namespace detail

// SentencePiece tokenizer.model → llama vocab, padded to `n_vocab` (0: the
// model's own size) with "[PAD{i}]" UNUSED tokens.
inline Expected<Vocab> spm_vocab(std::span<const std::byte> model, std::uint32_t n_vocab,
                                 const std::string& file = "tokenizer.model") {
  auto m = detail::parse_spm(model, file);
  if (!m) return std::move(m).error();
  Vocab v;
  v.model = "llama";
  const std::size_t n = n_vocab ? n_vocab : m->pieces.size();
  if (n > (1u << 24)) {
    return make_error(Errc::kInvalid, "vocabulary of " + std::to_string(n) + " tokens is implausibly large", kNoOffset,
                      file);
  }
  v.tokens.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i < m->pieces.size()) {
      v.tokens.push_back(m->pieces[i]);
      v.scores.push_back(m->scores[i]);
      // SentencePiece NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6
      // happen to equal llama.cpp's token types.
      v.types.push_back(m->types[i]);
    } else {
      v.tokens.push_back(detail::pad_token(i));
      v.scores.push_back(kPadScore);
      v.types.push_back(static_cast<std::int32_t>(TokenType::kUnused));
    }
  }
  if (!m->add_dummy_prefix) v.add_space_prefix = false;
  return v;
}

// tokenizer.json (model.type "BPE") → gpt2 vocab: tokens by id (holes become
// "[PAD{i}]" UNUSED), added tokens CONTROL when special else USER_DEFINED,
// merges as "a b".
inline Expected<Vocab> bpe_vocab(const nlohmann::json& tj, std::uint32_t n_vocab,
                                 const std::string& file = "tokenizer.json") {
  auto bad = [&](const std::string& what) { return make_error(Errc::kInvalid, what, kNoOffset, file); };
  auto model = tj.find("model");
  if (model == tj.end() || !model->is_object()) return bad("no \"model\" object");
  const std::string type = model->value("type", std::string());
  if (type != "BPE") {
    return make_error(Errc::kUnsupported,
                      "tokenizer model type \"" + type + "\" is not supported (BPE or a SentencePiece tokenizer.model)",
                      kNoOffset, file);
  }
  auto vocab = model->find("vocab");
  if (vocab == model->end() || !vocab->is_object()) return bad("model.vocab is not an object");
  std::unordered_map<std::uint64_t, std::string> by_id;
  std::uint64_t max_id = 0;
  auto put = [&](std::uint64_t id, const std::string& s) {
    by_id[id] = s;
    max_id = std::max(max_id, id + 1);
  };
  for (const auto& [tok, id] : vocab->items()) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() > 0xffffffffu) return bad("vocab id of \"" + tok + "\" is not a u32");
    put(id.get<std::uint64_t>(), tok);
  }
  std::unordered_map<std::uint64_t, bool> added_special;
  if (auto added = tj.find("added_tokens"); added != tj.end() && added->is_array()) {
    for (const auto& a : *added) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_unsigned() || !a.contains("content") ||
          !a["content"].is_string() || a["id"].get<std::uint64_t>() > 0xffffffffu) {
        return bad("malformed added_tokens entry");
      }
      const auto id = a["id"].get<std::uint64_t>();
      put(id, a["content"].get<std::string>());
      added_special[id] = a.value("special", false);
    }
  }
  const std::uint64_t n = n_vocab ? n_vocab : max_id;
  if (n > (1u << 24)) return bad("vocabulary of " + std::to_string(n) + " tokens is implausibly large");
  Vocab v;
  v.model = "gpt2";
  v.tokens.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      v.tokens.push_back(detail::pad_token(i));
      v.types.push_back(static_cast<std::int32_t>(TokenType::kUnused));
      continue;
    }
    v.tokens.push_back(it->second);
    auto a = added_special.find(i);
    if (a == added_special.end()) {
      v.types.push_back(static_cast<std::int32_t>(TokenType::kNormal));
    } else {
      const bool special = a->second || detail::looks_special(it->second);
      if (!special) v.tokens.back() = detail::unescape_spaces(v.tokens.back());
      v.types.push_back(static_cast<std::int32_t>(special ? TokenType::kControl : TokenType::kUserDefined));
    }
  }
  if (auto merges = model->find("merges"); merges != model->end() && merges->is_array()) {
    v.merges.reserve(merges->size());
    for (const auto& m : *merges) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return bad("model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
  }
  return v;
}

// The vocabulary of a model folder: tokenizer.model (SentencePiece) first,
// as llama.cpp's llama converter does, else tokenizer.json BPE.
inline Expected<Vocab> load_vocab(const std::filesystem::path& dir, const Config& cfg) {
  std::optional<nlohmann::json> tc, tj;
  if (std::filesystem::exists(dir / "tokenizer_config.json")) {
    auto j = detail::read_json(dir / "tokenizer_config.json");
    if (!j) return std::move(j).error();
    tc = std::move(*j);
  }
  if (std::filesystem::exists(dir / "tokenizer.json")) {
    auto j = detail::read_json(dir / "tokenizer.json");
    if (!j) return std::move(j).error();
    tj = std::move(*j);
  }
  Vocab v;
  const auto spm_path = dir / "tokenizer.model";
  if (std::filesystem::exists(spm_path)) {
    auto bytes = detail::read_text(spm_path);
    if (!bytes) return std::move(bytes).error();
    auto r = spm_vocab(std::as_bytes(std::span<const char>(bytes->data(), bytes->size())), cfg.n_vocab,
                       spm_path.string());
    if (!r) return std::move(r).error();
    v = std::move(*r);
    std::optional<nlohmann::json> added;
    if (std::filesystem::exists(dir / "added_tokens.json")) {
      auto j = detail::read_json(dir / "added_tokens.json");
      if (!j) return std::move(j).error();
      added = std::move(*j);
    }
    detail::apply_spm_added_tokens(added ? &*added : nullptr, tc ? &*tc : nullptr, v);
  } else if (tj) {
    auto r = bpe_vocab(*tj, cfg.n_vocab, (dir / "tokenizer.json").string());
    if (!r) return std::move(r).error();
    v = std::move(*r);
    v.pre = detail::bpe_pre_from_regex(*tj);
  } else {
    return make_error(Errc::kNotFound, "no tokenizer.model or tokenizer.json in the model folder", kNoOffset,
                      dir.string());
  }
  detail::apply_special(dir, tj ? &*tj : nullptr, tc ? &*tc : nullptr, cfg, v);
  return v;
}

}  // namespace edgequant::hf
