// NumPy .npy reader (versions 1.0/2.0/3.0, either byte order, C or Fortran
// order; object arrays and pickles refused) and NumPy-identical writer;
// specs/npy.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/utf8.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace edgequant::npy {

// "\x93NUMPY" (npy.md §1).
inline constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

enum class Kind : std::uint8_t { kBool, kInt, kUint, kFloat, kComplex, kVoid };
enum class ByteOrder : std::uint8_t { kLittle, kBig, kNone };  // '<', '>', '|'

// A simple (non-structured) dtype: byte order, kind letter, item size.
struct Descr {
  Kind kind = Kind::kFloat;
  std::uint32_t itemsize = 4;
  ByteOrder order = ByteOrder::kLittle;

  // As NumPy writes it: '|' for 1-byte types, '<' otherwise. 2-byte void
  // ('<V2') is how MLX and ml_dtypes store bfloat16 (npy.md §1.2).
  static Descr of(Kind k, std::uint32_t size) {
    return {k, size, size == 1 && k != Kind::kVoid ? ByteOrder::kNone : ByteOrder::kLittle};
  }
  static Descr bfloat16() { return {Kind::kVoid, 2, ByteOrder::kLittle}; }

  std::string text() const {
    static constexpr char kOrder[] = {'<', '>', '|'};
    static constexpr char kKind[] = {'b', 'i', 'u', 'f', 'c', 'V'};
    return std::string(1, kOrder[static_cast<int>(order)]) + kKind[static_cast<int>(kind)] +
           std::to_string(itemsize);
  }
  // Whether elements must be byte-swapped to read them on this (little-
  // endian) host. Void items are opaque and never swapped.
  bool needs_swap() const noexcept {
    return order == ByteOrder::kBig && itemsize > 1 && kind != Kind::kVoid;
  }
  bool operator==(const Descr&) const = default;
};

struct Limits {
  std::size_t max_header_bytes = 10000;  // NumPy's _MAX_HEADER_SIZE (npy.md §1.1)
  std::size_t max_rank = 64;
  std::uint32_t max_void_itemsize = 1u << 20;
  bool allow_trailing_bytes = false;  // np.load ignores them; we refuse by default
};

// Parses a descr string ('<f4', '|u1', '>i8', '<V2', ...). Byte order may be
// '<', '>', '|', '=' (native) or absent. Errors: kUnsupported for object
// arrays ('O': pickles), strings, datetimes and unusual sizes.
inline Expected<Descr> parse_descr(std::string_view s) {
  Descr d;
  std::size_t i = 0;
  d.order = ByteOrder::kLittle;
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
    d.order = s[0] == '>' ? ByteOrder::kBig : s[0] == '|' ? ByteOrder::kNone : ByteOrder::kLittle;
    ++i;
  }
  if (i >= s.size()) return make_error(Errc::kInvalid, "empty descr");
  const char k = s[i++];
  if (k == 'O') {
    return make_error(Errc::kUnsupported,
                      "object arrays are stored as pickles, which edgequant refuses to load");
  }
  std::uint64_t size = 0;
  if (i >= s.size() || s.size() - i > 9) {
    return make_error(Errc::kUnsupported, "unsupported descr '" + std::string(s) + "'");
  }
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return make_error(Errc::kUnsupported, "unsupported descr '" + std::string(s) + "'");
    }
    size = size * 10 + static_cast<unsigned>(s[i] - '0');
  }
  auto ok_size = [&](std::initializer_list<std::uint64_t> sizes) {
    return std::find(sizes.begin(), sizes.end(), size) != sizes.end();
  };
  bool ok = false;
  switch (k) {
    case 'b':
      d.kind = Kind::kBool;
      ok = ok_size({1});
      break;
    case 'i':
      d.kind = Kind::kInt;
      ok = ok_size({1, 2, 4, 8});
      break;
    case 'u':
      d.kind = Kind::kUint;
      ok = ok_size({1, 2, 4, 8});
      break;
    case 'f':
      d.kind = Kind::kFloat;
      ok = ok_size({2, 4, 8});
      break;
    case 'c':
      d.kind = Kind::kComplex;
      ok = ok_size({8, 16});
      break;
    case 'V':
      d.kind = Kind::kVoid;
      ok = size >= 1 && size <= (1u << 30);
      break;
    default:
      break;
  }
  if (!ok) {
    return make_error(Errc::kUnsupported, "unsupported descr '" + std::string(s) +
                                              "' (supported: b1, i/u 1-8, f2/f4/f8, c8/c16, V<n>)");
  }
  d.itemsize = static_cast<std::uint32_t>(size);
  return d;
}

struct Header {
  std::uint8_t major = 1, minor = 0;
  Descr descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;  // () is a 0-d scalar
  std::uint64_t data_offset = 0;     // bytes before the array data
  std::uint64_t numel = 1;
  std::uint64_t nbytes = 0;
};

namespace detail {

// The header is a Python dict literal (npy.md §1.1). This is a parser for the
// tiny subset NumPy and MLX write: string keys, and values that are strings,
// True/False or tuples of non-negative integers. Anything else is an error.
class DictParser {
 public:
  DictParser(std::string_view s, std::uint64_t base, bool allow_long_suffix)
      : s_(s), base_(base), allow_l_(allow_long_suffix) {}

  Expected<Header> parse(const Limits& limits) {
    Header h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    if (!eat('{')) return err("header is not a dict literal");
    skip_ws();
    while (!peek('}')) {
      const std::uint64_t key_at = pos_;
      auto key = string_lit();
      if (!key) return std::move(key).error();
      skip_ws();
      if (!eat(':')) return err("expected ':' after a key");
      skip_ws();
      if (*key == "descr") {
        if (have_descr) return err("duplicate key 'descr'", key_at);
        have_descr = true;
        if (peek('[')) {
          return make_error(Errc::kUnsupported, "structured dtypes are not supported",
                            base_ + pos_);
        }
        const std::uint64_t at = pos_;
        auto v = string_lit();
        if (!v) return std::move(v).error();
        auto d = parse_descr(*v);
        if (!d) {
          Error e = std::move(d).error();
          e.offset = base_ + at;
          return e;
        }
        if (d->kind == Kind::kVoid && d->itemsize > limits.max_void_itemsize) {
          return make_error(Errc::kLimit, "void item size over the limit", base_ + at);
        }
        h.descr = *d;
      } else if (*key == "fortran_order") {
        if (have_fortran) return err("duplicate key 'fortran_order'", key_at);
        have_fortran = true;
        if (word("True")) {
          h.fortran_order = true;
        } else if (word("False")) {
          h.fortran_order = false;
        } else {
          return make_error(Errc::kTypeMismatch, "fortran_order is not True or False",
                            base_ + pos_);
        }
      } else if (*key == "shape") {
        if (have_shape) return err("duplicate key 'shape'", key_at);
        have_shape = true;
        EDGEQUANT_TRY(shape_tuple(h.shape, limits));
      } else {
        return make_error(Errc::kInvalid, "unexpected header key '" + *key + "'", base_ + key_at);
      }
      skip_ws();
      if (eat(',')) {
        skip_ws();
        continue;
      }
      if (!peek('}')) return err("expected ',' or '}'");
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size()) return err("text after the header dict");
    if (!have_descr || !have_fortran || !have_shape) {
      return make_error(Errc::kInvalid,
                        "header does not hold exactly the keys descr, fortran_order and shape",
                        base_);
    }
    return h;
  }

 private:
  Error err(std::string what) const {
    return make_error(Errc::kInvalid, std::move(what), base_ + pos_);
  }
  Error err(std::string what, std::uint64_t at) const {
    return make_error(Errc::kInvalid, std::move(what), base_ + at);
  }
  bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    const std::size_t after = pos_ + w.size();
    if (after < s_.size()) {
      const char c = s_[after];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') {
        return false;
      }
    }
    pos_ = after;
    return true;
  }
  Expected<std::string> string_lit() {
    if (!peek('\'') && !peek('"')) return err("expected a quoted string");
    const char q = s_[pos_++];
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' || s_[pos_] == '\n') {
        return make_error(Errc::kUnsupported, "escapes in header strings are not supported",
                          base_ + pos_);
      }
      ++pos_;
    }
    if (pos_ >= s_.size()) return err("unterminated string");
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }
  Status shape_tuple(std::vector<std::uint64_t>& shape, const Limits& limits) {
    if (!eat('(')) return make_error(Errc::kTypeMismatch, "shape is not a tuple", base_ + pos_);
    skip_ws();
    bool saw_comma = false;
    while (!peek(')')) {
      if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') {
        return make_error(Errc::kTypeMismatch,
                          "shape holds something other than a non-negative integer", base_ + pos_);
      }
      std::uint64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        auto m = checked_mul<std::uint64_t>(v, 10);
        auto a = m ? checked_add<std::uint64_t>(*m, static_cast<unsigned>(s_[pos_] - '0'))
                   : std::nullopt;
        if (!a)
          return make_error(Errc::kOverflow, "shape dimension overflows 64 bits", base_ + pos_);
        v = *a;
        ++pos_;
      }
      if (allow_l_ && (peek('L') || peek('l'))) ++pos_;  // Python 2 longs (npy.md §1.1)
      if (shape.size() >= limits.max_rank) {
        return make_error(Errc::kLimit,
                          "shape has more than " + std::to_string(limits.max_rank) + " dimensions",
                          base_ + pos_);
      }
      shape.push_back(v);
      skip_ws();
      saw_comma = eat(',');
      skip_ws();
      if (!saw_comma && !peek(')')) return err("expected ',' or ')' in shape");
    }
    // `(3)` is an int in Python, not a tuple.
    if (shape.size() == 1 && !saw_comma) {
      return make_error(Errc::kTypeMismatch, "shape is not a tuple", base_ + pos_);
    }
    ++pos_;  // ')'
    return {};
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::uint64_t base_;
  bool allow_l_;
};

}  // namespace detail

// Parses and validates the header of a .npy whose first bytes are `bytes`
// (the data need not be there). Errors carry the file offset: magic
// kBadMagic @0; version kUnsupported @6; header length kTruncated/kLimit @8;
// header text kInvalid/kTypeMismatch/kUnsupported @the byte; size kOverflow.
// parse_header() adds: short data kTruncated @EOF, trailing bytes kInvalid
// @the first one.
inline Expected<Header> parse_header_only(std::span<const std::byte> bytes,
                                          const Limits& limits = {}, const std::string& file = {}) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::uint64_t size = bytes.size();
  if (size < 6 || std::memcmp(p, kMagic, 6) != 0) {
    return make_error(Errc::kBadMagic, "not a .npy file (no \\x93NUMPY magic)", 0, file);
  }
  if (size < 10) return make_error(Errc::kTruncated, "file ends inside the .npy preamble", 6, file);
  Header h;
  h.major = p[6];
  h.minor = p[7];
  if (h.major < 1 || h.major > 3 || h.minor != 0) {
    return make_error(Errc::kUnsupported,
                      "npy format version " + std::to_string(h.major) + "." +
                          std::to_string(h.minor) + " (supported: 1.0, 2.0, 3.0)",
                      6, file);
  }
  std::uint64_t hlen = 0, start = 10;
  if (h.major == 1) {
    hlen = load_le<std::uint16_t>(p + 8);
  } else {
    if (size < 12)
      return make_error(Errc::kTruncated, "file ends inside the .npy preamble", 8, file);
    hlen = load_le<std::uint32_t>(p + 8);
    start = 12;
  }
  if (hlen > limits.max_header_bytes) {
    return make_error(Errc::kLimit,
                      "header of " + std::to_string(hlen) + " bytes exceeds the limit of " +
                          std::to_string(limits.max_header_bytes),
                      8, file);
  }
  if (!range_within(start, hlen, size)) {
    return make_error(Errc::kTruncated, "header runs past the end of the file", 8, file);
  }
  const std::string_view text(reinterpret_cast<const char*>(p + start),
                              static_cast<std::size_t>(hlen));
  if (h.major == 3) {  // UTF-8 text; 1.0/2.0 are latin-1, where every byte is valid
    if (const auto bad = edgequant::detail::first_invalid_utf8(text);
        bad != std::string_view::npos) {
      return make_error(Errc::kInvalid, "version 3.0 header is not valid UTF-8", start + bad, file);
    }
  }
  detail::DictParser parser(text, start, h.major <= 2);
  auto parsed = parser.parse(limits);
  if (!parsed) return std::move(parsed).error().in_file(file);
  parsed->major = h.major;
  parsed->minor = h.minor;
  h = std::move(*parsed);
  h.data_offset = start + hlen;
  const auto n = checked_product<std::uint64_t>(h.shape);
  const auto nb = n ? checked_mul<std::uint64_t>(*n, h.descr.itemsize) : std::nullopt;
  if (!nb) return make_error(Errc::kOverflow, "array size overflows 64 bits", start, file);
  h.numel = *n;
  h.nbytes = *nb;
  return h;
}

// parse_header_only() plus the data checks: the array data is present and,
// unless allowed, nothing follows it.
inline Expected<Header> parse_header(std::span<const std::byte> bytes, const Limits& limits = {},
                                     const std::string& file = {}) {
  auto parsed = parse_header_only(bytes, limits, file);
  if (!parsed) return parsed;
  Header& h = *parsed;
  const std::uint64_t size = bytes.size();
  const std::uint64_t avail = size - h.data_offset;
  if (h.nbytes > avail) {
    return make_error(Errc::kTruncated,
                      "array needs " + std::to_string(h.nbytes) + " data bytes, file has " +
                          std::to_string(avail),
                      size, file);
  }
  if (h.nbytes < avail && !limits.allow_trailing_bytes) {
    return make_error(Errc::kInvalid,
                      std::to_string(avail - h.nbytes) + " trailing bytes after the array data",
                      h.data_offset + h.nbytes, file);
  }
  return h;
}

// A parsed array over borrowed bytes: `data` is the raw payload in the file's
// byte order and memory order (zero-copy).
struct ArrayView {
  Header header;
  std::span<const std::byte> data;

  // True when `data` is already little-endian C order (no copy needed).
  bool is_native_c_order() const noexcept {
    std::size_t big_dims = 0;
    for (auto d : header.shape) big_dims += d > 1;
    return !header.descr.needs_swap() && (!header.fortran_order || big_dims <= 1);
  }
};

inline Expected<ArrayView> read_array(std::span<const std::byte> bytes, const Limits& limits = {},
                                      const std::string& file = {}) {
  auto h = parse_header(bytes, limits, file);
  if (!h) return std::move(h).error();
  ArrayView v;
  v.data =
      bytes.subspan(static_cast<std::size_t>(h->data_offset), static_cast<std::size_t>(h->nbytes));
  v.header = std::move(*h);
  return v;
}

// Copies the array into little-endian C order (byte swap for '>' files,
// transpose for fortran_order). Complex items swap each half separately.
inline std::vector<std::byte> to_c_order(const ArrayView& a) {
  const Header& h = a.header;
  const std::size_t isz = h.descr.itemsize;
  std::vector<std::byte> out(a.data.size());
  std::size_t big_dims = 0;
  for (auto d : h.shape) big_dims += d > 1;
  if (!h.fortran_order || big_dims <= 1 || h.numel == 0) {
    if (!out.empty()) std::memcpy(out.data(), a.data.data(), out.size());
  } else {
    // Fortran layout: element (i0..ik) sits at sum(i_d * prod(shape[<d])).
    const std::size_t r = h.shape.size();
    std::vector<std::uint64_t> fstride(r), idx(r, 0);
    std::uint64_t s = 1;
    for (std::size_t d = 0; d < r; ++d) {
      fstride[d] = s;
      s *= h.shape[d];
    }
    std::uint64_t src = 0;
    for (std::uint64_t i = 0; i < h.numel; ++i) {
      std::memcpy(out.data() + i * isz, a.data.data() + src * isz, isz);
      for (std::size_t d = r; d-- > 0;) {  // C-order odometer, last axis fastest
        src += fstride[d];
        if (++idx[d] < h.shape[d]) break;
        src -= fstride[d] * h.shape[d];
        idx[d] = 0;
      }
    }
  }
  if (h.descr.needs_swap()) {
    const std::size_t part = h.descr.kind == Kind::kComplex ? isz / 2 : isz;
    for (std::size_t off = 0; off < out.size(); off += part) {
      std::reverse(out.begin() + static_cast<std::ptrdiff_t>(off),
                   out.begin() + static_cast<std::ptrdiff_t>(off + part));
    }
  }
  return out;
}

// A .npy file, memory-mapped, validated.
class File {
 public:
  static Expected<File> open(const std::string& path, const Limits& limits = {},
                             MappedFile::Mode mode = MappedFile::Mode::kAuto) {
    auto m = MappedFile::open(path, mode);
    if (!m) return std::move(m).error();
    return from_mapped(std::move(*m), limits);
  }
  static Expected<File> from_mapped(MappedFile m, const Limits& limits = {}) {
    auto v = read_array(m.bytes(), limits, m.path());
    if (!v) return std::move(v).error();
    File f;
    f.map_ = std::move(m);
    f.view_ = std::move(*v);
    return f;
  }
  const Header& header() const noexcept { return view_.header; }
  const ArrayView& array() const noexcept { return view_; }
  std::span<const std::byte> data() const noexcept { return view_.data; }
  const std::string& path() const noexcept { return map_.path(); }

 private:
  MappedFile map_;
  ArrayView view_;
};

// ------------------------------------------------------------------ writer --
// The complete header (magic through '\n') exactly as np.save (NumPy >= 1.24)
// writes it for a C-order array: sorted-key dict, growth padding, 64-byte
// alignment, version 1.0 unless the header needs 2.0 (npy.md §1.1).
inline std::string header_bytes(const Descr& d, std::span<const std::uint64_t> shape,
                                bool fortran_order = false) {
  std::string dict = "{'descr': '" + d.text() +
                     "', 'fortran_order': " + (fortran_order ? "True" : "False") + ", 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dict += ',';
  dict += "), }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[fortran_order ? shape.size() - 1 : 0]).size();
    if (digits < 21) dict.append(21 - digits, ' ');  // GROWTH_AXIS_MAX_DIGITS
  }
  const std::size_t hlen = dict.size() + 1;
  for (int version = 1; version <= 2; ++version) {
    const std::size_t len_bytes = version == 1 ? 2 : 4;
    const std::size_t pad = 64 - (6 + 2 + len_bytes + hlen) % 64;  // 1..64, never 0
    const std::uint64_t total = hlen + pad;
    if (version == 1 && total > 0xFFFF) continue;
    std::string out(reinterpret_cast<const char*>(kMagic), 6);
    out += static_cast<char>(version);
    out += '\0';
    if (version == 1) {
      out += static_cast<char>(total & 0xFF);
      out += static_cast<char>(total >> 8);
    } else {
      for (int b = 0; b < 4; ++b) out += static_cast<char>((total >> (8 * b)) & 0xFF);
    }
    out += dict;
    out.append(pad, ' ');
    out += '\n';
    return out;
  }
  return {};  // unreachable: a 4 GiB header cannot come from a 64-dim shape
}

// Streams one .npy into a sink: header at start(), then the C-order
// little-endian data in any number of chunks.
template <ByteSink Sink>
class Writer {
 public:
  static Expected<Writer> start(Sink& sink, const Descr& d, std::vector<std::uint64_t> shape) {
    const auto n = checked_product<std::uint64_t>(shape);
    const auto nb = n ? checked_mul<std::uint64_t>(*n, d.itemsize) : std::nullopt;
    if (!nb) return make_error(Errc::kBadArgument, "array size overflows");
    Writer w;
    w.sink_ = &sink;
    w.left_ = *nb;
    const std::string h = header_bytes(d, shape);
    EDGEQUANT_TRY(sink.write(std::as_bytes(std::span(h))));
    return w;
  }
  Status write(std::span<const std::byte> bytes) {
    if (bytes.size() > left_)
      return make_error(Errc::kBadArgument, "more data than the shape holds");
    left_ -= bytes.size();
    return sink_->write(bytes);
  }
  Status finish() const {
    if (left_ != 0)
      return make_error(Errc::kBadArgument, std::to_string(left_) + " array bytes missing");
    return {};
  }

 private:
  Sink* sink_ = nullptr;
  std::uint64_t left_ = 0;
};

inline Expected<std::vector<std::byte>> serialize(const Descr& d, std::vector<std::uint64_t> shape,
                                                  std::span<const std::byte> data) {
  MemorySink sink;
  auto w = Writer<MemorySink>::start(sink, d, std::move(shape));
  if (!w) return std::move(w).error();
  EDGEQUANT_TRY(w->write(data));
  EDGEQUANT_TRY(w->finish());
  return sink.take();
}

// Writes `path` atomically.
inline Status save(const std::string& path, const Descr& d, std::vector<std::uint64_t> shape,
                   std::span<const std::byte> data) {
  auto f = AtomicFile::create(path);
  if (!f) return std::move(f).error();
  auto w = Writer<AtomicFile>::start(*f, d, std::move(shape));
  if (!w) return std::move(w).error();
  EDGEQUANT_TRY(w->write(data));
  EDGEQUANT_TRY(w->finish());
  return f->commit();
}

}  // namespace edgequant::npy
