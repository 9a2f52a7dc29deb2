// ZIP archives as .npz uses them: a hostile-input reader (central directory,
// local headers, ZIP64, stored and deflated entries) and a streaming writer;
// specs/npy.md §2. Deflate needs zlib: define EDGEQUANT_HAVE_ZLIB=1 and link
// -lz (the CMake target does both when zlib is found).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/utf8.hpp"
#include "edgequant/io/atomic_file.hpp"

#if defined(EDGEQUANT_HAVE_ZLIB) && EDGEQUANT_HAVE_ZLIB && !defined(EDGEQUANT_NO_ZLIB)
#define EDGEQUANT_ZIP_DEFLATE 1
#include <zlib.h>
#else
#define EDGEQUANT_ZIP_DEFLATE 0
#endif

namespace edgequant::zip {

// Record signatures and limits (PKWARE APPNOTE 4.3; npy.md §2).
inline constexpr std::uint32_t kLocalSig = 0x04034b50;
inline constexpr std::uint32_t kCentralSig = 0x02014b50;
inline constexpr std::uint32_t kEocdSig = 0x06054b50;
inline constexpr std::uint32_t kEocd64Sig = 0x06064b50;
inline constexpr std::uint32_t kEocd64LocatorSig = 0x07064b50;
inline constexpr std::size_t kLocalSize = 30, kCentralSize = 46, kEocdSize = 22;
inline constexpr std::size_t kEocd64Size = 56, kLocatorSize = 20;
inline constexpr std::uint16_t kStored = 0, kDeflated = 8;

inline constexpr bool deflate_available() noexcept { return EDGEQUANT_ZIP_DEFLATE != 0; }

// ------------------------------------------------------------------ CRC-32 --
namespace detail {
inline const std::array<std::uint32_t, 256>& crc_table() {
  static const std::array<std::uint32_t, 256> t = [] {
    std::array<std::uint32_t, 256> r{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;  // reflected IEEE
      r[i] = c;
    }
    return r;
  }();
  return t;
}
}  // namespace detail

// Running CRC-32 as zip stores it: crc32(0, all bytes), chainable.
inline std::uint32_t crc32(std::uint32_t crc, std::span<const std::byte> b) {
#if EDGEQUANT_ZIP_DEFLATE
  while (!b.empty()) {
    const std::size_t n = std::min<std::size_t>(b.size(), std::size_t{1} << 30);
    crc = static_cast<std::uint32_t>(
        ::crc32(crc, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(n)));
    b = b.subspan(n);
  }
  return crc;
#else
  const auto& t = detail::crc_table();
  crc = ~crc;
  for (std::byte x : b) crc = t[(crc ^ static_cast<std::uint8_t>(x)) & 0xFF] ^ (crc >> 8);
  return ~crc;
#endif
}

// ------------------------------------------------------------------ reader --
struct Entry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = kStored;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_offset = 0;    // file offset of the local header
  std::uint64_t data_offset = 0;     // file offset of the (compressed) data
  std::uint64_t central_offset = 0;  // file offset of the central-directory record
};

struct Limits {
  std::size_t max_entries = std::size_t{1} << 20;
  std::uint64_t max_member_bytes = std::uint64_t{1} << 36;  // per inflated member (zip bombs)
};

namespace detail {
inline std::uint16_t u16(const unsigned char* p) { return load_le<std::uint16_t>(p); }
inline std::uint32_t u32(const unsigned char* p) { return load_le<std::uint32_t>(p); }
inline std::uint64_t u64(const unsigned char* p) { return load_le<std::uint64_t>(p); }

// Refuses names that could escape a folder if ever extracted, and empties.
inline bool safe_name(std::string_view n) {
  if (n.empty() || n.front() == '/' || n.find('\0') != std::string_view::npos) return false;
  if (n.find('\\') != std::string_view::npos) return false;
  std::size_t start = 0;
  while (start <= n.size()) {
    const std::size_t slash = std::min(n.find('/', start), n.size());
    if (n.substr(start, slash - start) == "..") return false;
    start = slash + 1;
  }
  return true;
}
}  // namespace detail

// A parsed archive over borrowed bytes (a mapping). Every entry's central
// record, local header and data range is checked; entries may not overlap.
class Archive {
 public:
  static Expected<Archive> parse(std::span<const std::byte> bytes, const Limits& limits = {},
                                 const std::string& file = {}) {
    using namespace detail;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::uint64_t size = bytes.size();
    if (size < kEocdSize)
      return make_error(Errc::kBadMagic, "not a zip archive (too short)", 0, file);
    // The end record sits in the last 22 + 65535 bytes; its comment must
    // reach exactly to the end of the file (no trailing data).
    std::uint64_t eocd = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t lowest = size - kEocdSize > 0xFFFF ? size - kEocdSize - 0xFFFF : 0;
    for (std::uint64_t pos = size - kEocdSize + 1; pos-- > lowest;) {
      if (u32(p + pos) == kEocdSig && pos + kEocdSize + u16(p + pos + 20) == size) {
        eocd = pos;
        break;
      }
    }
    if (eocd == std::numeric_limits<std::uint64_t>::max()) {
      return make_error(Errc::kBadMagic, "not a zip archive (no end-of-central-directory record)",
                        size - kEocdSize, file);
    }
    const unsigned char* e = p + eocd;
    if (u16(e + 4) != 0 || u16(e + 6) != 0 || u16(e + 8) != u16(e + 10)) {
      return make_error(Errc::kUnsupported, "multi-disk zip archives are not supported", eocd,
                        file);
    }
    std::uint64_t count = u16(e + 10);
    std::uint64_t cd_size = u32(e + 12);
    std::uint64_t cd_offset = u32(e + 16);
    std::uint64_t end_records = eocd;  // the central directory must end before this
    if (eocd >= kLocatorSize && u32(p + eocd - kLocatorSize) == kEocd64LocatorSig) {
      const unsigned char* loc = p + eocd - kLocatorSize;
      const std::uint64_t rec = u64(loc + 8);
      if (u32(loc + 4) != 0 || u32(loc + 16) > 1) {
        return make_error(Errc::kUnsupported, "multi-disk zip64 archives are not supported",
                          eocd - kLocatorSize, file);
      }
      if (!range_within(rec, kEocd64Size, eocd - kLocatorSize) || u32(p + rec) != kEocd64Sig) {
        return make_error(Errc::kInvalid, "zip64 locator points to no zip64 end record",
                          eocd - kLocatorSize, file);
      }
      const unsigned char* z = p + rec;
      if (u32(z + 16) != 0 || u32(z + 20) != 0 || u64(z + 24) != u64(z + 32)) {
        return make_error(Errc::kUnsupported, "multi-disk zip64 archives are not supported", rec,
                          file);
      }
      count = u64(z + 32);
      cd_size = u64(z + 40);
      cd_offset = u64(z + 48);
      end_records = rec;
    }
    if (!range_within(cd_offset, cd_size, end_records)) {
      return make_error(Errc::kInvalid, "central directory lies outside the archive", eocd, file);
    }
    if (count > cd_size / kCentralSize) {
      return make_error(Errc::kInvalid,
                        std::to_string(count) + " entries cannot fit a " + std::to_string(cd_size) +
                            "-byte central directory",
                        eocd, file);
    }
    if (count > limits.max_entries) {
      return make_error(Errc::kLimit,
                        "more than " + std::to_string(limits.max_entries) + " zip entries", eocd,
                        file);
    }

    Archive a;
    a.entries_.reserve(static_cast<std::size_t>(count));
    std::uint64_t at = cd_offset;
    const std::uint64_t cd_end = cd_offset + cd_size;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!range_within(at, kCentralSize, cd_end) || u32(p + at) != kCentralSig) {
        return make_error(Errc::kInvalid, "bad central directory record " + std::to_string(i), at,
                          file);
      }
      const unsigned char* c = p + at;
      Entry en;
      en.central_offset = at;
      en.flags = u16(c + 8);
      en.method = u16(c + 10);
      en.crc32 = u32(c + 16);
      en.compressed_size = u32(c + 20);
      en.uncompressed_size = u32(c + 24);
      const std::size_t nlen = u16(c + 28), xlen = u16(c + 30), klen = u16(c + 32);
      std::uint32_t disk = u16(c + 34);
      en.local_offset = u32(c + 42);
      const std::uint64_t rec_len = kCentralSize + nlen + xlen + klen;
      if (!range_within(at, rec_len, cd_end)) {
        return make_error(Errc::kInvalid, "central directory record runs past the directory", at,
                          file);
      }
      en.name.assign(reinterpret_cast<const char*>(c + kCentralSize), nlen);
      // ZIP64 extended information (APPNOTE 4.5.3): only the saturated fields.
      const unsigned char* x = c + kCentralSize + nlen;
      std::size_t xleft = xlen;
      while (xleft >= 4) {
        const std::uint16_t id = u16(x), len = u16(x + 2);
        if (len > xleft - 4) {
          return make_error(Errc::kInvalid, "extra field runs past its record", at, file);
        }
        if (id == 0x0001) {
          const unsigned char* z = x + 4;
          std::size_t zl = len;
          auto take64 = [&](std::uint64_t& v) {
            if (zl < 8) return false;
            v = u64(z);
            z += 8;
            zl -= 8;
            return true;
          };
          bool ok = true;
          if (en.uncompressed_size == 0xFFFFFFFFu) ok = ok && take64(en.uncompressed_size);
          if (en.compressed_size == 0xFFFFFFFFu) ok = ok && take64(en.compressed_size);
          if (en.local_offset == 0xFFFFFFFFu) ok = ok && take64(en.local_offset);
          if (ok && disk == 0xFFFF) {
            if (zl < 4)
              ok = false;
            else
              disk = u32(z);
          }
          if (!ok) return make_error(Errc::kInvalid, "zip64 extra field is too short", at, file);
        }
        x += 4 + len;
        xleft -= 4 + len;
      }
      if (disk != 0) {
        return make_error(Errc::kUnsupported, "multi-disk zip archives are not supported", at,
                          file);
      }
      if (en.flags & 0x41) {  // bit 0: encrypted, bit 6: strong encryption
        return make_error(Errc::kUnsupported, "encrypted zip entry \"" + en.name + "\"", at, file);
      }
      if (en.method != kStored && en.method != kDeflated) {
        return make_error(Errc::kUnsupported,
                          "zip entry \"" + en.name + "\" uses compression method " +
                              std::to_string(en.method) + " (supported: stored, deflated)",
                          at, file);
      }
      if (en.flags & 0x800) {
        if (edgequant::detail::first_invalid_utf8(en.name) != std::string_view::npos) {
          return make_error(Errc::kInvalid, "entry name flagged UTF-8 is not valid UTF-8", at,
                            file);
        }
      } else if (std::any_of(en.name.begin(), en.name.end(),
                             [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; })) {
        return make_error(Errc::kUnsupported, "non-ASCII entry name without the UTF-8 flag (CP437)",
                          at, file);
      }
      if (!safe_name(en.name)) {
        return make_error(Errc::kInvalid,
                          "unsafe entry name \"" + en.name + "\" (empty, absolute or ..)", at,
                          file);
      }
      if (en.method == kStored && en.compressed_size != en.uncompressed_size) {
        return make_error(Errc::kInvalid, "stored entry \"" + en.name + "\" has different sizes",
                          at, file);
      }
      // Local header: before the central directory, same name and method.
      if (!range_within(en.local_offset, kLocalSize, cd_offset) ||
          u32(p + en.local_offset) != kLocalSig) {
        return make_error(Errc::kInvalid,
                          "entry \"" + en.name + "\" has no local header at its offset",
                          en.local_offset < size ? en.local_offset : at, file);
      }
      const unsigned char* l = p + en.local_offset;
      const std::uint64_t lnlen = u16(l + 26), lxlen = u16(l + 28);
      if (u16(l + 8) != en.method) {
        return make_error(Errc::kInvalid,
                          "entry \"" + en.name + "\": local and central methods differ",
                          en.local_offset, file);
      }
      const std::uint64_t data = en.local_offset + kLocalSize + lnlen + lxlen;
      if (!range_within(en.local_offset + kLocalSize, lnlen + lxlen, cd_offset) || lnlen != nlen ||
          std::memcmp(l + kLocalSize, en.name.data(), nlen) != 0) {
        return make_error(Errc::kInvalid, "entry \"" + en.name + "\": local header name differs",
                          en.local_offset, file);
      }
      if (!range_within(data, en.compressed_size, cd_offset)) {
        return make_error(Errc::kTruncated, "entry \"" + en.name + "\": data runs past the archive",
                          data, file);
      }
      en.data_offset = data;
      a.entries_.push_back(std::move(en));
      at += rec_len;
    }
    // No two entries share bytes (overlapping entries are a zip-bomb trick).
    std::vector<const Entry*> order;
    for (const auto& en : a.entries_) order.push_back(&en);
    std::sort(order.begin(), order.end(),
              [](const Entry* x, const Entry* y) { return x->local_offset < y->local_offset; });
    for (std::size_t i = 1; i < order.size(); ++i) {
      if (order[i - 1]->data_offset + order[i - 1]->compressed_size > order[i]->local_offset) {
        return make_error(
            Errc::kInvalid,
            "entries \"" + order[i - 1]->name + "\" and \"" + order[i]->name + "\" overlap",
            order[i]->local_offset, file);
      }
    }
    // Duplicate names would make lookups ambiguous.
    a.by_name_.resize(a.entries_.size());
    for (std::uint32_t i = 0; i < a.by_name_.size(); ++i) a.by_name_[i] = i;
    std::sort(a.by_name_.begin(), a.by_name_.end(), [&](std::uint32_t x, std::uint32_t y) {
      return a.entries_[x].name < a.entries_[y].name;
    });
    for (std::size_t i = 1; i < a.by_name_.size(); ++i) {
      const Entry& x = a.entries_[a.by_name_[i - 1]];
      const Entry& y = a.entries_[a.by_name_[i]];
      if (x.name == y.name) {
        return make_error(Errc::kInvalid, "duplicate zip entry \"" + y.name + "\"",
                          std::max(x.central_offset, y.central_offset), file);
      }
    }
    a.file_ = file;
    a.bytes_ = bytes;
    return a;
  }

  std::span<const Entry> entries() const noexcept { return entries_; }
  const Entry* find(std::string_view name) const noexcept {
    auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                               [&](std::uint32_t i, std::string_view n) {
                                 return std::string_view(entries_[i].name) < n;
                               });
    if (it == by_name_.end() || entries_[*it].name != name) return nullptr;
    return &entries_[*it];
  }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  // The entry's bytes as stored (compressed for deflated entries).
  std::span<const std::byte> raw(const Entry& e) const noexcept {
    return bytes_.subspan(static_cast<std::size_t>(e.data_offset),
                          static_cast<std::size_t>(e.compressed_size));
  }
  const std::string& file() const noexcept { return file_; }

 private:
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> by_name_;
  std::span<const std::byte> bytes_;
  std::string file_;
};

inline Status check_crc(const Entry& e, std::span<const std::byte> data, const std::string& file) {
  if (crc32(0, data) != e.crc32) {
    return make_error(Errc::kInvalid, "entry \"" + e.name + "\": CRC-32 mismatch", e.data_offset,
                      file);
  }
  return {};
}

// Inflates a deflated entry. Memory grows with the output actually produced
// (never allocated up front from the declared size), and the output must be
// exactly the declared size, at most limits.max_member_bytes. If `prefix_only`
// is nonzero, stops after that many bytes (to check an embedded header first).
inline Expected<std::vector<std::byte>> inflate(const Archive& a, const Entry& e,
                                                const Limits& limits = {},
                                                std::size_t prefix_only = 0) {
  if (e.method != kDeflated) return make_error(Errc::kBadArgument, "entry is not deflated");
  if (e.uncompressed_size > limits.max_member_bytes) {
    return make_error(Errc::kLimit,
                      "entry \"" + e.name + "\" inflates to " +
                          std::to_string(e.uncompressed_size) + " bytes, over the limit of " +
                          std::to_string(limits.max_member_bytes),
                      e.central_offset, a.file());
  }
#if EDGEQUANT_ZIP_DEFLATE
  const std::uint64_t want =
      prefix_only ? std::min<std::uint64_t>(prefix_only, e.uncompressed_size) : e.uncompressed_size;
  // One spare byte past the declared size detects streams that run longer.
  const std::uint64_t cap = prefix_only ? want : want + 1;
  std::vector<std::byte> out;
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) {  // raw deflate (zip method 8)
    return make_error(Errc::kIo, "zlib inflateInit2 failed");
  }
  const auto src = a.raw(e);
  std::size_t in_done = 0, produced = 0;
  int rc = Z_OK;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= cap) break;
      out.resize(static_cast<std::size_t>(
          std::min<std::uint64_t>(cap, std::max<std::uint64_t>(out.size() * 2, 1 << 16))));
    }
    const std::size_t in_chunk = std::min<std::size_t>(src.size() - in_done, 1u << 30);
    zs.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(src.data() + in_done));
    zs.avail_in = static_cast<uInt>(in_chunk);
    const std::size_t out_chunk = std::min<std::size_t>(out.size() - produced, 1u << 30);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out_chunk);
    rc = ::inflate(&zs, Z_NO_FLUSH);
    in_done += in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && in_done == src.size()) {
      inflateEnd(&zs);
      return make_error(Errc::kTruncated, "entry \"" + e.name + "\": deflate stream ends early",
                        e.data_offset, a.file());
    }
    if (rc != Z_OK) {
      const std::string why = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
      inflateEnd(&zs);
      return make_error(Errc::kInvalid,
                        "entry \"" + e.name + "\": corrupt deflate data (" + why + ")",
                        e.data_offset, a.file());
    }
  }
  inflateEnd(&zs);
  out.resize(std::min<std::size_t>(produced, static_cast<std::size_t>(cap)));
  if (prefix_only) return out;
  if (produced != e.uncompressed_size || rc != Z_STREAM_END) {
    return make_error(Errc::kInvalid,
                      "entry \"" + e.name + "\" inflates to " +
                          (produced > e.uncompressed_size ? "more" : "fewer") +
                          " than its declared " + std::to_string(e.uncompressed_size) + " bytes",
                      e.data_offset, a.file());
  }
  return out;
#else
  (void)prefix_only;
  return make_error(Errc::kUnsupported,
                    "unsupported: deflated entry \"" + e.name +
                        "\", built without zlib (define EDGEQUANT_HAVE_ZLIB=1 and link -lz)",
                    e.data_offset, a.file());
#endif
}

// ------------------------------------------------------------------ writer --
struct WriteOptions {
  bool deflate = false;      // method 8 (needs zlib) instead of stored
  int level = 6;             // zlib level; Python's zipfile default
  bool force_zip64 = false;  // ZIP64 extras on every entry, as np.savez does
};

// Streams a zip archive into a sink, one entry at a time: add() computes the
// CRC (and compresses, for deflate, one entry in memory), then writes the
// local header and data; finish() writes the central directory.
template <ByteSink Sink>
class Writer {
 public:
  explicit Writer(Sink& sink, WriteOptions opt = {}) : sink_(&sink), opt_(opt) {}

  // Adds an entry whose content is the concatenation of `parts`.
  Status add(std::string_view name, std::span<const std::span<const std::byte>> parts) {
    if (!detail::safe_name(name) ||
        edgequant::detail::first_invalid_utf8(name) != std::string_view::npos ||
        name.size() > 0xFFFF) {
      return make_error(Errc::kBadArgument, "invalid zip entry name \"" + std::string(name) + "\"");
    }
    if (!names_.insert(std::string(name)).second) {
      return make_error(Errc::kBadArgument, "duplicate zip entry \"" + std::string(name) + "\"");
    }
    Entry e;
    e.name = std::string(name);
    e.local_offset = sink_->position();
    std::uint32_t crc = 0;
    std::uint64_t usize = 0;
    for (const auto& part : parts) {
      crc = crc32(crc, part);
      usize += part.size();
    }
    e.crc32 = crc;
    e.uncompressed_size = usize;
    std::vector<std::byte> packed;
    if (opt_.deflate) {
      e.method = kDeflated;
      auto c = compress(parts, usize);
      if (!c) return std::move(c).error();
      packed = std::move(*c);
      e.compressed_size = packed.size();
    } else {
      e.method = kStored;
      e.compressed_size = usize;
    }
    if (std::any_of(name.begin(), name.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; })) {
      e.flags |= 0x800;  // UTF-8 name
    }
    const bool z64 =
        opt_.force_zip64 || e.uncompressed_size > kZip64Limit || e.compressed_size > kZip64Limit;
    std::string h;
    put32(h, kLocalSig);
    put16(h, z64 ? 45 : 20);
    put16(h, e.flags);
    put16(h, e.method);
    put16(h, 0);       // time 00:00:00
    put16(h, 0x0021);  // date 1980-01-01, as NumPy writes (npy.md §2)
    put32(h, e.crc32);
    put32(h, z64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.compressed_size));
    put32(h, z64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.uncompressed_size));
    put16(h, static_cast<std::uint16_t>(name.size()));
    put16(h, z64 ? 20 : 0);
    h += name;
    if (z64) {
      put16(h, 0x0001);
      put16(h, 16);
      put64(h, e.uncompressed_size);
      put64(h, e.compressed_size);
    }
    EDGEQUANT_TRY(sink_->write(std::as_bytes(std::span(h))));
    e.data_offset = sink_->position();
    if (opt_.deflate) {
      EDGEQUANT_TRY(sink_->write(packed));
    } else {
      for (const auto& part : parts) EDGEQUANT_TRY(sink_->write(part));
    }
    central_.push_back(std::move(e));
    return {};
  }
  Status add(std::string_view name, std::span<const std::byte> data) {
    const std::span<const std::byte> one[] = {data};
    return add(name, one);
  }

  Status finish() {
    const std::uint64_t cd_offset = sink_->position();
    std::string cd;
    for (const auto& e : central_) {
      const bool zu = opt_.force_zip64 || e.uncompressed_size > kZip64Limit;
      const bool zc = opt_.force_zip64 || e.compressed_size > kZip64Limit;
      const bool zo = e.local_offset > kZip64Limit;
      std::string extra;
      if (zu) put64(extra, e.uncompressed_size);
      if (zc) put64(extra, e.compressed_size);
      if (zo) put64(extra, e.local_offset);
      const bool z64 = zu || zc || zo;
      put32(cd, kCentralSig);
      put16(cd, static_cast<std::uint16_t>((3 << 8) | (z64 ? 45 : 20)));  // made by: Unix
      put16(cd, z64 ? 45 : 20);
      put16(cd, e.flags);
      put16(cd, e.method);
      put16(cd, 0);
      put16(cd, 0x0021);
      put32(cd, e.crc32);
      put32(cd, zc ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.compressed_size));
      put32(cd, zu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.uncompressed_size));
      put16(cd, static_cast<std::uint16_t>(e.name.size()));
      put16(cd, static_cast<std::uint16_t>(z64 ? 4 + extra.size() : 0));
      put16(cd, 0);            // comment
      put16(cd, 0);            // disk
      put16(cd, 0);            // internal attributes
      put32(cd, 0600u << 16);  // external: -rw-------, as zipfile writes
      put32(cd, zo ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.local_offset));
      cd += e.name;
      if (z64) {
        put16(cd, 0x0001);
        put16(cd, static_cast<std::uint16_t>(extra.size()));
        cd += extra;
      }
    }
    const std::uint64_t n = central_.size();
    const std::uint64_t cd_size = cd.size();
    const bool z64 = n > 0xFFFF || cd_offset > kZip64Limit || cd_size > kZip64Limit;
    if (z64) {
      const std::uint64_t rec = cd_offset + cd_size;
      put32(cd, kEocd64Sig);
      put64(cd, kEocd64Size - 12);
      put16(cd, (3 << 8) | 45);
      put16(cd, 45);
      put32(cd, 0);
      put32(cd, 0);
      put64(cd, n);
      put64(cd, n);
      put64(cd, cd_size);
      put64(cd, cd_offset);
      put32(cd, kEocd64LocatorSig);
      put32(cd, 0);
      put64(cd, rec);
      put32(cd, 1);
    }
    put32(cd, kEocdSig);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, static_cast<std::uint16_t>(z64 ? 0xFFFF : n));
    put16(cd, static_cast<std::uint16_t>(z64 ? 0xFFFF : n));
    put32(cd, z64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_size));
    put32(cd, z64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_offset));
    put16(cd, 0);
    return sink_->write(std::as_bytes(std::span(cd)));
  }

 private:
  // Python's zipfile switches to ZIP64 above 2 GiB - 1 (ZIP64_LIMIT).
  static constexpr std::uint64_t kZip64Limit = (std::uint64_t{1} << 31) - 1;

  static void put16(std::string& s, std::uint32_t v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>((v >> 8) & 0xFF);
  }
  static void put32(std::string& s, std::uint32_t v) {
    put16(s, v & 0xFFFF);
    put16(s, v >> 16);
  }
  static void put64(std::string& s, std::uint64_t v) {
    put32(s, static_cast<std::uint32_t>(v));
    put32(s, static_cast<std::uint32_t>(v >> 32));
  }

  Expected<std::vector<std::byte>> compress(std::span<const std::span<const std::byte>> parts,
                                            std::uint64_t total) {
#if EDGEQUANT_ZIP_DEFLATE
    z_stream zs{};
    if (deflateInit2(&zs, opt_.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return make_error(Errc::kBadArgument,
                        "zlib deflateInit2 failed (level " + std::to_string(opt_.level) + ")");
    }
    std::vector<std::byte> out(
        static_cast<std::size_t>(std::min<std::uint64_t>(total / 2 + 1024, 1 << 24)));
    std::size_t produced = 0;
    // Runs deflate until it has taken all input (NO_FLUSH) or ended (FINISH).
    auto pump = [&](int flush) {
      int rc = Z_OK;
      do {
        if (produced == out.size()) out.resize(out.size() * 2);
        const std::size_t out_chunk = std::min<std::size_t>(out.size() - produced, 1u << 30);
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
        zs.avail_out = static_cast<uInt>(out_chunk);
        rc = ::deflate(&zs, flush);
        produced += out_chunk - zs.avail_out;
        if (rc == Z_STREAM_ERROR) return false;
      } while (flush == Z_FINISH ? rc != Z_STREAM_END : zs.avail_out == 0);
      return true;
    };
    bool ok = true;
    for (auto in : parts) {
      while (ok && !in.empty()) {
        const std::size_t in_chunk = std::min<std::size_t>(in.size(), 1u << 30);
        zs.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
        zs.avail_in = static_cast<uInt>(in_chunk);
        ok = pump(Z_NO_FLUSH);
        in = in.subspan(in_chunk - zs.avail_in);
      }
    }
    zs.next_in = nullptr;
    zs.avail_in = 0;
    ok = ok && pump(Z_FINISH);
    deflateEnd(&zs);
    if (!ok) return make_error(Errc::kIo, "zlib deflate failed");
    out.resize(produced);
    return out;
#else
    (void)parts;
    (void)total;
    return make_error(Errc::kUnsupported, "unsupported: deflate output, built without zlib");
#endif
  }

  Sink* sink_;
  WriteOptions opt_;
  std::vector<Entry> central_;
  std::unordered_set<std::string> names_;
};

}  // namespace edgequant::zip
