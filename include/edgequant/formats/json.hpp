// JSON helpers for the format readers: nlohmann-json SAX parsing with byte
// positions, a strict DOM builder (no duplicate keys, bounded depth), UTF-8
// validation, and the two string escapings our writers must reproduce.
#pragma once

#if !__has_include(<nlohmann/json.hpp>)
#error "edgequant/formats/json.hpp needs nlohmann/json (Debian: nlohmann-json3-dev)"
#endif

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iterator>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/core/error.hpp"
#include "edgequant/formats/utf8.hpp"

namespace edgequant::detail {

// Appends `s` as a JSON string the way serde_json (the safetensors reference
// writer) and nlohmann's dump() both do: `"` and `\` escaped, control
// characters as \b \f \n \r \t or \u00xx (lowercase), everything else raw
// UTF-8 (safetensors.md §1.3). Precondition: `s` is valid UTF-8.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

// Appends `s` as Python's json.dumps writes it with ensure_ascii=True (the
// default used by huggingface_hub for index files): printable ASCII raw,
// \" \\ \n \r \t \b \f, everything else \uxxxx (lowercase; surrogate pairs
// above U+FFFF). Precondition: `s` is valid UTF-8.
inline void append_json_string_ascii(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto u16 = [&](unsigned v) {
    out += "\\u";
    out += kHex[(v >> 12) & 15];
    out += kHex[(v >> 8) & 15];
    out += kHex[(v >> 4) & 15];
    out += kHex[v & 15];
  };
  out += '"';
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      switch (c) {
        case '"':
          out += "\\\"";
          continue;
        case '\\':
          out += "\\\\";
          continue;
        case '\n':
          out += "\\n";
          continue;
        case '\r':
          out += "\\r";
          continue;
        case '\t':
          out += "\\t";
          continue;
        case '\b':
          out += "\\b";
          continue;
        case '\f':
          out += "\\f";
          continue;
        default:
          break;
      }
      if (c < 0x20 || c == 0x7F) {
        u16(c);
      } else {
        out += static_cast<char>(c);
      }
      continue;
    }
    unsigned cp = 0;
    std::size_t len = 0;
    if (c >= 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else if (c >= 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else {
      cp = c & 0x1F;
      len = 2;
    }
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (p[i + k] & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      u16(0xD800 + (cp >> 10));
      u16(0xDC00 + (cp & 0x3FF));
    } else {
      u16(cp);
    }
  }
  out += '"';
}

// Input iterator over bytes that publishes how far nlohmann's lexer has read,
// so that SAX callbacks can name the byte offset of what they reject.
class CountingCharIter {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingCharIter() = default;
  CountingCharIter(const char* p, const char** cursor) noexcept : p_(p), cursor_(cursor) {}
  const char& operator*() const noexcept { return *p_; }
  CountingCharIter& operator++() noexcept {
    ++p_;
    if (cursor_) *cursor_ = p_;
    return *this;
  }
  CountingCharIter operator++(int) noexcept {
    CountingCharIter t = *this;
    ++*this;
    return t;
  }
  friend bool operator==(const CountingCharIter& a, const CountingCharIter& b) noexcept {
    return a.p_ == b.p_;
  }
  friend bool operator!=(const CountingCharIter& a, const CountingCharIter& b) noexcept {
    return a.p_ != b.p_;
  }

 private:
  const char* p_ = nullptr;
  const char** cursor_ = nullptr;
};

// Runs nlohmann's SAX parser over `text` (strict: nothing but whitespace may
// follow the value; no comments). `handler` must have a `const char* cursor`
// member (updated as bytes are read) and report its own errors; exceptions
// (allocation failure) become errors here, so none leaves the library.
template <class Handler>
Status run_sax(std::string_view text, Handler& handler, std::uint64_t base_offset,
               const std::string& file) {
  handler.cursor = text.data();
  handler.end = text.data() + text.size();
  CountingCharIter first(text.data(), &handler.cursor);
  CountingCharIter last(text.data() + text.size(), nullptr);
  try {
    const bool ok = nlohmann::json::sax_parse(first, last, &handler,
                                              nlohmann::json::input_format_t::json, true, false);
    if (!ok || handler.error) {
      if (handler.error) return std::move(*handler.error).in_file(file);
      return make_error(Errc::kInvalid, "malformed JSON", base_offset, file);
    }
  } catch (const std::bad_alloc&) {
    return make_error(Errc::kLimit, "out of memory while parsing JSON", base_offset, file);
  } catch (const std::exception& e) {
    return make_error(Errc::kInvalid, std::string("JSON parser: ") + e.what(), base_offset, file);
  }
  return {};
}

// Shared by the SAX handlers: position bookkeeping and error recording.
struct SaxBase {
  const char* cursor = nullptr;   // one past the last byte nlohmann has read
  const char* begin = nullptr;    // start of the JSON text
  std::uint64_t base_offset = 0;  // file offset of `begin`
  std::optional<Error> error;

  const char* end = nullptr;  // one past the JSON text

  // File offset just past the token nlohmann handed over last.
  std::uint64_t here() const noexcept {
    return base_offset + static_cast<std::uint64_t>(cursor - begin);
  }
  // Same for a number: the lexer reads one byte past a number (then ungets
  // it), except at the end of the text.
  std::uint64_t after_number() const noexcept { return cursor == end ? here() : here() - 1; }
  bool fail(Errc code, std::string what, std::uint64_t offset) {
    if (!error) error = make_error(code, std::move(what), offset);
    return false;
  }
  bool fail(Errc code, std::string what) { return fail(code, std::move(what), here()); }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    // nlohmann counts characters read; the offending one is the last read.
    const std::uint64_t at = base_offset + (position ? position - 1 : 0);
    return fail(Errc::kInvalid, std::string("malformed JSON: ") + ex.what(), at);
  }
  bool binary(nlohmann::json::binary_t&) { return fail(Errc::kInvalid, "binary value in JSON"); }
};

// Builds an nlohmann::ordered_json document, rejecting duplicate keys (which
// nlohmann would silently overwrite) and nesting deeper than `max_depth`.
// Used for small side files (model.safetensors.index.json); safetensors
// headers use a dedicated streaming handler instead.
struct StrictDomBuilder : SaxBase {
  using Json = nlohmann::ordered_json;
  Json root;
  std::vector<Json*> stack;
  std::string pending_key;
  bool have_key = false;
  std::size_t max_depth = 128;

  bool put(Json v) {
    if (stack.empty()) {
      root = std::move(v);
      return true;
    }
    Json& top = *stack.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
    } else {
      top[pending_key] = std::move(v);
      have_key = false;
    }
    return true;
  }
  Json* put_container(Json v) {
    if (stack.empty()) {
      root = std::move(v);
      return &root;
    }
    Json& top = *stack.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[pending_key];
    slot = std::move(v);
    have_key = false;
    return &slot;
  }
  bool null() { return put(Json(nullptr)); }
  bool boolean(bool v) { return put(Json(v)); }
  bool number_integer(std::int64_t v) { return put(Json(v)); }
  bool number_unsigned(std::uint64_t v) { return put(Json(v)); }
  bool number_float(double v, const std::string&) { return put(Json(v)); }
  bool string(std::string& v) { return put(Json(std::move(v))); }
  bool start_object(std::size_t) {
    if (stack.size() >= max_depth) return fail(Errc::kLimit, "JSON nested too deeply");
    stack.push_back(put_container(Json::object()));
    return true;
  }
  bool key(std::string& k) {
    if (stack.back()->contains(k)) return fail(Errc::kInvalid, "duplicate JSON key \"" + k + "\"");
    pending_key = std::move(k);
    have_key = true;
    return true;
  }
  bool end_object() {
    stack.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (stack.size() >= max_depth) return fail(Errc::kLimit, "JSON nested too deeply");
    stack.push_back(put_container(Json::array()));
    return true;
  }
  bool end_array() {
    stack.pop_back();
    return true;
  }
};

// Parses a whole JSON document (a small side file) strictly: valid UTF-8,
// no duplicate keys, bounded nesting. Errors name `file` and the byte offset.
inline Expected<nlohmann::ordered_json> parse_json_strict(std::string_view text,
                                                          const std::string& file,
                                                          std::size_t max_depth = 128) {
  if (const auto bad = first_invalid_utf8(text); bad != std::string_view::npos) {
    return make_error(Errc::kInvalid, "JSON text is not valid UTF-8", bad, file);
  }
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    return make_error(Errc::kInvalid, "JSON text starts with a byte-order mark", 0, file);
  }
  StrictDomBuilder b;
  b.begin = text.data();
  b.max_depth = max_depth;
  EDGEQUANT_TRY(run_sax(text, b, 0, file));
  return std::move(b.root);
}

}  // namespace edgequant::detail
