// Protobuf binary wire format without libprotobuf: a hardened decoder over untrusted
// bytes and an encoder over any ByteSink (specs/onnx.md §1).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"

namespace edgequant::pb {

enum class WireType : std::uint8_t {
  kVarint = 0,
  kI64 = 1,
  kLen = 2,
  kStartGroup = 3,  // deprecated groups: skipped when unknown, never written
  kEndGroup = 4,
  kI32 = 5,
};

constexpr std::string_view wire_type_name(WireType w) noexcept {
  switch (w) {
    case WireType::kVarint:
      return "VARINT";
    case WireType::kI64:
      return "I64";
    case WireType::kLen:
      return "LEN";
    case WireType::kStartGroup:
      return "SGROUP";
    case WireType::kEndGroup:
      return "EGROUP";
    case WireType::kI32:
      return "I32";
  }
  return "?";
}

inline constexpr std::uint32_t kMaxFieldNumber = (1u << 29) - 1;  // protobuf's field-number limit
inline constexpr int kMaxVarintBytes = 10;                        // 64 bits / 7 bits per byte

// Where a value sits in nested messages, for error messages such as
// "graph.node[3].attribute[1].t.dims". Lives on the parser's stack: each level
// points at its parent, so building one costs nothing until an error is printed.
struct Path {
  const Path* parent = nullptr;
  std::string_view name;    // field name; empty for the root message
  std::int64_t index = -1;  // element index of a repeated field, or -1

  Path child(std::string_view n, std::int64_t i = -1) const { return Path{this, n, i}; }

  std::string str() const {
    std::vector<const Path*> chain;
    for (const Path* p = this; p; p = p->parent) chain.push_back(p);
    std::string s;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Path* p = *it;
      if (p->name.empty() && p->index < 0) continue;
      if (!s.empty() && !p->name.empty()) s += '.';
      s += p->name;
      if (p->index >= 0) s += "[" + std::to_string(p->index) + "]";
    }
    return s.empty() ? std::string("<root>") : s;
  }
};

// "graph.node[3].dims: reason" at an absolute byte offset.
inline Error path_error(Errc code, const Path& path, std::uint64_t offset, std::string_view what) {
  return make_error(code, path.str() + ": " + std::string(what), offset);
}

// Decodes a varint at p[0..n). Returns the number of bytes used, 0 when the
// buffer ends inside it, -1 when it is longer than 10 bytes or overflows 64 bits.
// Non-minimal encodings of up to 10 bytes are accepted, as protobuf does.
inline int decode_varint(const std::byte* p, std::size_t n, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (static_cast<std::size_t>(i) >= n) return 0;
    const auto b = static_cast<std::uint8_t>(p[i]);
    if (i == kMaxVarintBytes - 1 && b > 1) return -1;  // bits beyond 64
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      out = v;
      return i + 1;
    }
  }
  return -1;
}

constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// One record of a message: key and payload.
struct Field {
  std::uint32_t number = 0;
  WireType wire = WireType::kVarint;
  std::uint64_t value = 0;            // VARINT, I32 and I64 payloads
  std::span<const std::byte> bytes;   // LEN payload
  std::uint64_t offset = 0;           // absolute offset of the key
  std::uint64_t payload_offset = 0;   // absolute offset of the payload (after a LEN's length)
  std::span<const std::byte> record;  // key through end of payload (kept for unknown fields)
};

// Iterates over the records of one message held in `buf`, whose first byte is
// at absolute offset `base` of the file. Every length is checked against the
// buffer; nothing is allocated.
class Decoder {
 public:
  Decoder(std::span<const std::byte> buf, std::uint64_t base, const Path& path,
          int group_depth_limit = 32) noexcept
      : buf_(buf), base_(base), path_(&path), group_limit_(group_depth_limit) {}

  bool done() const noexcept { return pos_ >= buf_.size(); }
  std::uint64_t offset() const noexcept { return base_ + pos_; }

  Expected<Field> next() {
    Field f;
    const std::size_t start = pos_;
    f.offset = base_ + pos_;
    std::uint64_t key = 0;
    EDGEQUANT_TRY(varint(key, "field key"));
    if (key > 0xffffffffu) return err(Errc::kInvalid, f.offset, "field key exceeds 32 bits");
    f.number = static_cast<std::uint32_t>(key >> 3);
    const auto wt = static_cast<std::uint8_t>(key & 7);
    if (f.number == 0) return err(Errc::kInvalid, f.offset, "field number 0");
    if (wt > 5) {
      return err(Errc::kInvalid, f.offset, "invalid wire type " + std::to_string(wt));
    }
    f.wire = static_cast<WireType>(wt);
    switch (f.wire) {
      case WireType::kVarint:
        EDGEQUANT_TRY(varint(f.value, "varint field"));
        f.payload_offset = f.offset + (pos_ - start);
        break;
      case WireType::kI64:
      case WireType::kI32: {
        const std::size_t w = f.wire == WireType::kI64 ? 8 : 4;
        f.payload_offset = base_ + pos_;
        if (buf_.size() - pos_ < w) {
          return err(Errc::kTruncated, f.payload_offset,
                     "field " + std::to_string(f.number) + ": fixed-width value truncated");
        }
        if (w == 8)
          f.value = load_le<std::uint64_t>(buf_.data() + pos_);
        else
          f.value = load_le<std::uint32_t>(buf_.data() + pos_);
        pos_ += w;
        break;
      }
      case WireType::kLen: {
        std::uint64_t len = 0;
        EDGEQUANT_TRY(varint(len, "length"));
        f.payload_offset = base_ + pos_;
        if (len > buf_.size() - pos_) {
          return err(Errc::kTruncated, f.payload_offset,
                     "field " + std::to_string(f.number) + ": length " + std::to_string(len) +
                         " runs past the end of its message (" +
                         std::to_string(buf_.size() - pos_) + " bytes left)");
        }
        f.bytes = buf_.subspan(pos_, static_cast<std::size_t>(len));
        pos_ += static_cast<std::size_t>(len);
        break;
      }
      case WireType::kStartGroup:
        f.payload_offset = base_ + pos_;
        EDGEQUANT_TRY(skip_group(f.number, 1));
        break;
      case WireType::kEndGroup:
        return err(Errc::kInvalid, f.offset, "end-group without a start-group");
    }
    f.record = buf_.subspan(start, pos_ - start);
    return f;
  }

  Error err(Errc code, std::uint64_t off, std::string_view what) const {
    return path_error(code, *path_, off, what);
  }

 private:
  Status varint(std::uint64_t& out, const char* what) {
    const int n = decode_varint(buf_.data() + pos_, buf_.size() - pos_, out);
    if (n == 0)
      return err(Errc::kTruncated, base_ + pos_, std::string(what) + ": varint truncated");
    if (n < 0) {
      return err(Errc::kInvalid, base_ + pos_,
                 std::string(what) + ": varint longer than 10 bytes or over 64 bits");
    }
    pos_ += static_cast<std::size_t>(n);
    return {};
  }

  // Skips the body of a group up to its matching end-group, iteratively, with
  // nested groups bounded by group_limit_.
  Status skip_group(std::uint32_t number, int depth) {
    if (depth > group_limit_) return err(Errc::kLimit, base_ + pos_, "groups nested too deeply");
    for (;;) {
      if (done()) return err(Errc::kTruncated, base_ + pos_, "group without an end-group");
      const std::uint64_t at = base_ + pos_;
      std::uint64_t key = 0;
      EDGEQUANT_TRY(varint(key, "field key"));
      if (key > 0xffffffffu) return err(Errc::kInvalid, at, "field key exceeds 32 bits");
      const auto num = static_cast<std::uint32_t>(key >> 3);
      const auto wt = static_cast<std::uint8_t>(key & 7);
      if (num == 0) return err(Errc::kInvalid, at, "field number 0");
      std::uint64_t v = 0;
      switch (wt) {
        case 0:
          EDGEQUANT_TRY(varint(v, "varint field"));
          break;
        case 1:
        case 5: {
          const std::size_t w = wt == 1 ? 8 : 4;
          if (buf_.size() - pos_ < w)
            return err(Errc::kTruncated, base_ + pos_, "fixed-width value truncated");
          pos_ += w;
          break;
        }
        case 2:
          EDGEQUANT_TRY(varint(v, "length"));
          if (v > buf_.size() - pos_)
            return err(Errc::kTruncated, base_ + pos_, "length runs past the end");
          pos_ += static_cast<std::size_t>(v);
          break;
        case 3:
          EDGEQUANT_TRY(skip_group(num, depth + 1));
          break;
        case 4:
          if (num != number)
            return err(Errc::kInvalid, at, "end-group does not match its start-group");
          return {};
        default:
          return err(Errc::kInvalid, at, "invalid wire type " + std::to_string(wt));
      }
    }
  }

  std::span<const std::byte> buf_;
  std::uint64_t base_;
  const Path* path_;
  int group_limit_;
  std::size_t pos_ = 0;
};

// ---- typed views of a field (wire type checked) -----------------------------

inline Status expect_wire(const Field& f, WireType w, const Path& path) {
  if (f.wire == w) return {};
  return path_error(Errc::kInvalid, path, f.offset,
                    "field " + std::to_string(f.number) + " has wire type " +
                        std::string(wire_type_name(f.wire)) + ", expected " +
                        std::string(wire_type_name(w)));
}

// int64/uint64/enum/bool: the varint as two's complement (no zigzag in ONNX).
inline Expected<std::int64_t> as_int64(const Field& f, const Path& path) {
  EDGEQUANT_TRY(expect_wire(f, WireType::kVarint, path));
  return static_cast<std::int64_t>(f.value);
}
// int32: protobuf keeps the low 32 bits of the (sign-extended) varint.
inline Expected<std::int32_t> as_int32(const Field& f, const Path& path) {
  EDGEQUANT_TRY(expect_wire(f, WireType::kVarint, path));
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(f.value));
}
inline Expected<float> as_float(const Field& f, const Path& path) {
  EDGEQUANT_TRY(expect_wire(f, WireType::kI32, path));
  float v;
  const auto u = static_cast<std::uint32_t>(f.value);
  std::memcpy(&v, &u, 4);
  return v;
}
inline Expected<double> as_double(const Field& f, const Path& path) {
  EDGEQUANT_TRY(expect_wire(f, WireType::kI64, path));
  double v;
  std::memcpy(&v, &f.value, 8);
  return v;
}
inline Expected<std::string_view> as_bytes(const Field& f, const Path& path) {
  EDGEQUANT_TRY(expect_wire(f, WireType::kLen, path));
  return std::string_view(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
}

// Appends a repeated scalar given either packed (one LEN record) or unpacked
// (one record per element): protobuf requires readers to accept both.
// T: std::int64_t, std::uint64_t, std::int32_t (varints), float (I32), double (I64).
template <class T>
Status append_repeated(const Field& f, std::vector<T>& out, const Path& path) {
  constexpr bool kFixed = std::is_floating_point_v<T>;
  constexpr WireType kElem = std::is_same_v<T, float>    ? WireType::kI32
                             : std::is_same_v<T, double> ? WireType::kI64
                                                         : WireType::kVarint;
  if (f.wire == kElem) {
    if constexpr (std::is_same_v<T, float>) {
      out.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(f.value)));
    } else if constexpr (std::is_same_v<T, double>) {
      out.push_back(std::bit_cast<double>(f.value));
    } else {
      out.push_back(static_cast<T>(f.value));
    }
    return {};
  }
  if (f.wire != WireType::kLen) {
    return path_error(Errc::kInvalid, path, f.offset,
                      "field " + std::to_string(f.number) + " has wire type " +
                          std::string(wire_type_name(f.wire)) + ", expected " +
                          std::string(wire_type_name(kElem)) + " or packed LEN");
  }
  const std::byte* p = f.bytes.data();
  const std::size_t n = f.bytes.size();
  if constexpr (kFixed) {
    if (n % sizeof(T) != 0) {
      return path_error(Errc::kInvalid, path, f.payload_offset,
                        "packed field " + std::to_string(f.number) + ": " + std::to_string(n) +
                            " bytes is not a multiple of " + std::to_string(sizeof(T)));
    }
    const std::size_t old = out.size();
    out.resize(old + n / sizeof(T));  // the bytes exist: n is a checked length
    if (n) std::memcpy(out.data() + old, p, n);
  } else {
    std::size_t pos = 0;
    while (pos < n) {
      std::uint64_t v = 0;
      const int k = decode_varint(p + pos, n - pos, v);
      if (k == 0) {
        return path_error(Errc::kTruncated, path, f.payload_offset + pos,
                          "packed field " + std::to_string(f.number) + ": varint truncated");
      }
      if (k < 0) {
        return path_error(Errc::kInvalid, path, f.payload_offset + pos,
                          "packed field " + std::to_string(f.number) +
                              ": varint longer than 10 bytes or over 64 bits");
      }
      out.push_back(static_cast<T>(v));
      pos += static_cast<std::size_t>(k);
    }
  }
  return {};
}

// ---- encoder ----------------------------------------------------------------

// Counts bytes instead of writing them: the size pass of nested messages.
struct CountingSink {
  std::uint64_t n = 0;
  Status write(std::span<const std::byte> b) {
    n += b.size();
    return {};
  }
  std::uint64_t position() const noexcept { return n; }
};

// Writes records to a sink. Fields are written in the order the caller gives;
// ONNX writers call them in ascending field number, as protobuf's serializers do.
template <class Sink>
class Encoder {
 public:
  explicit Encoder(Sink& s) noexcept : s_(&s) {}
  Sink& sink() noexcept { return *s_; }
  std::uint64_t position() const { return s_->position(); }

  Status raw(std::span<const std::byte> b) { return b.empty() ? Status{} : s_->write(b); }
  Status raw(std::string_view b) {
    return raw(std::span<const std::byte>(reinterpret_cast<const std::byte*>(b.data()), b.size()));
  }
  Status varint(std::uint64_t v) {
    std::byte buf[kMaxVarintBytes];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<std::byte>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<std::byte>(v);
    return s_->write(std::span<const std::byte>(buf, n));
  }
  Status key(std::uint32_t number, WireType w) {
    return varint((static_cast<std::uint64_t>(number) << 3) | static_cast<std::uint64_t>(w));
  }
  // int64/enum/bool: two's complement, so negatives take 10 bytes.
  Status field_int64(std::uint32_t number, std::int64_t v) {
    EDGEQUANT_TRY(key(number, WireType::kVarint));
    return varint(static_cast<std::uint64_t>(v));
  }
  Status field_uint64(std::uint32_t number, std::uint64_t v) {
    EDGEQUANT_TRY(key(number, WireType::kVarint));
    return varint(v);
  }
  // int32 is sign-extended to 64 bits on the wire.
  Status field_int32(std::uint32_t number, std::int32_t v) {
    return field_int64(number, static_cast<std::int64_t>(v));
  }
  Status field_float(std::uint32_t number, float v) {
    EDGEQUANT_TRY(key(number, WireType::kI32));
    std::byte b[4];
    std::memcpy(b, &v, 4);
    return s_->write(std::span<const std::byte>(b, 4));
  }
  Status field_double(std::uint32_t number, double v) {
    EDGEQUANT_TRY(key(number, WireType::kI64));
    std::byte b[8];
    std::memcpy(b, &v, 8);
    return s_->write(std::span<const std::byte>(b, 8));
  }
  Status len_header(std::uint32_t number, std::uint64_t len) {
    EDGEQUANT_TRY(key(number, WireType::kLen));
    return varint(len);
  }
  Status field_bytes(std::uint32_t number, std::span<const std::byte> b) {
    EDGEQUANT_TRY(len_header(number, b.size()));
    return raw(b);
  }
  Status field_string(std::uint32_t number, std::string_view s) {
    EDGEQUANT_TRY(len_header(number, s.size()));
    return raw(s);
  }
  // Packed float/double: the host is little-endian (core/checked.hpp).
  template <class T>
  Status packed_fixed(std::uint32_t number, std::span<const T> v) {
    static_assert(std::is_floating_point_v<T>);
    EDGEQUANT_TRY(len_header(number, v.size_bytes()));
    return raw(std::as_bytes(v));
  }
  // Packed varints of int32 (sign-extended), int64 or uint64 elements.
  template <class T>
  Status packed_varint(std::uint32_t number, std::span<const T> v) {
    std::uint64_t len = 0;
    for (T x : v) len += varint_size(to_u64(x));
    EDGEQUANT_TRY(len_header(number, len));
    std::byte buf[1024];
    std::size_t n = 0;
    for (T x : v) {
      if (n + kMaxVarintBytes > sizeof buf) {
        EDGEQUANT_TRY(s_->write(std::span<const std::byte>(buf, n)));
        n = 0;
      }
      std::uint64_t u = to_u64(x);
      while (u >= 0x80) {
        buf[n++] = static_cast<std::byte>((u & 0x7f) | 0x80);
        u >>= 7;
      }
      buf[n++] = static_cast<std::byte>(u);
    }
    return n ? s_->write(std::span<const std::byte>(buf, n)) : Status{};
  }
  // Unpacked: one record per element (how protobuf writes fields not declared packed).
  template <class T>
  Status unpacked_varint(std::uint32_t number, std::span<const T> v) {
    for (T x : v) {
      EDGEQUANT_TRY(key(number, WireType::kVarint));
      EDGEQUANT_TRY(varint(to_u64(x)));
    }
    return {};
  }
  Status unpacked_float(std::uint32_t number, std::span<const float> v) {
    for (float x : v) EDGEQUANT_TRY(field_float(number, x));
    return {};
  }

  // A sub-message: `body(enc)` is run once with a counting encoder for the
  // length and once with this one. `body` must write the same bytes both times.
  template <class Body>
  Status message(std::uint32_t number, Body&& body) {
    CountingSink counter;
    Encoder<CountingSink> ce(counter);
    EDGEQUANT_TRY(body(ce));
    EDGEQUANT_TRY(len_header(number, counter.n));
    if constexpr (std::is_same_v<Sink, CountingSink>) {
      // Size pass: one walk per level, so nesting costs linear time, not 2^depth.
      s_->n += counter.n;
      return {};
    } else {
      const std::uint64_t start = s_->position();
      EDGEQUANT_TRY(body(*this));
      if (s_->position() - start != counter.n) {
        return make_error(Errc::kInvalid, "sub-message " + std::to_string(number) +
                                              " wrote a different size than it announced");
      }
      return {};
    }
  }

 private:
  template <class T>
  static std::uint64_t to_u64(T x) noexcept {
    if constexpr (std::is_signed_v<T>)
      return static_cast<std::uint64_t>(static_cast<std::int64_t>(x));
    else
      return static_cast<std::uint64_t>(x);
  }
  Sink* s_;
};

// Size of a message body written by `body` (a counting pass).
template <class Body>
Expected<std::uint64_t> encoded_size(Body&& body) {
  CountingSink c;
  Encoder<CountingSink> e(c);
  EDGEQUANT_TRY(body(e));
  return c.n;
}

}  // namespace edgequant::pb
