// NumPy .npz (a zip of .npy members): reader over a mapping (stored members
// zero-copy, deflated ones inflated with bounded memory) and writer; npy.md §2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/npy.hpp"
#include "edgequant/formats/zip.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace edgequant::npz {

struct Limits {
  zip::Limits zip;
  npy::Limits npy;
  bool verify_crc = true;  // as Python's zipfile does on read
};

// One loaded member. For stored members `view.data` borrows the archive's
// mapping; for deflated ones it points into `owned`. Move-only (the view may
// point into this object's own buffer).
struct Array {
  npy::ArrayView view;
  std::vector<std::byte> owned;

  Array() = default;
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;
  Array(Array&&) noexcept = default;
  Array& operator=(Array&&) noexcept = default;
  const npy::Header& header() const noexcept { return view.header; }
  std::span<const std::byte> data() const noexcept { return view.data; }
};

// Member name "<key>.npy" → key (np.load's NpzFile keys).
inline std::string_view key_of(std::string_view member) {
  return member.ends_with(".npy") ? member.substr(0, member.size() - 4) : member;
}

class File {
 public:
  static Expected<File> open(const std::string& path, const Limits& limits = {},
                             MappedFile::Mode mode = MappedFile::Mode::kAuto) {
    auto m = MappedFile::open(path, mode);
    if (!m) return std::move(m).error();
    return from_mapped(std::move(*m), limits);
  }
  static Expected<File> from_mapped(MappedFile m, const Limits& limits = {}) {
    File f;
    f.map_ = std::make_unique<MappedFile>(std::move(m));
    f.limits_ = limits;
    auto a = zip::Archive::parse(f.map_->bytes(), limits.zip, f.map_->path());
    if (!a) return std::move(a).error();
    f.zip_ = std::move(*a);
    return f;
  }

  std::span<const zip::Entry> entries() const noexcept { return zip_.entries(); }
  // Keys in archive order ("<key>.npy" members without the suffix).
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& e : zip_.entries()) k.emplace_back(key_of(e.name));
    return k;
  }
  // By key ("w") or member name ("w.npy").
  const zip::Entry* find(std::string_view key) const {
    if (const auto* e = zip_.find(std::string(key) + ".npy")) return e;
    return zip_.find(key);
  }
  const std::string& path() const noexcept { return map_->path(); }
  const zip::Archive& archive() const noexcept { return zip_; }

  // Loads and validates one member as an array: stored members are checked
  // (CRC) and viewed in place; deflated ones are inflated after their npy
  // header has been read and matched against the declared member size.
  Expected<Array> read(const zip::Entry& e) const {
    const std::string where = path() + ":" + e.name;
    Array out;
    if (e.method == zip::kStored) {
      const auto raw = zip_.raw(e);
      if (limits_.verify_crc) EDGEQUANT_TRY(zip::check_crc(e, raw, path()));
      auto v = npy::read_array(raw, limits_.npy, where);
      if (!v) return std::move(v).error();
      out.view = std::move(*v);
      return out;
    }
    // Zip-bomb guard (npy.md §2): the npy header must announce exactly the
    // declared size before the whole member is inflated.
    auto head = zip::inflate(zip_, e, limits_.zip, 12 + limits_.npy.max_header_bytes);
    if (!head) return std::move(head).error();
    auto h = npy::parse_header_only(*head, limits_.npy, where);
    if (!h) return std::move(h).error();
    const auto announced = checked_add<std::uint64_t>(h->data_offset, h->nbytes);
    if (!announced || *announced != e.uncompressed_size) {
      return make_error(Errc::kInvalid,
                        "npy header announces " +
                            (announced ? std::to_string(*announced) : "an overflowing") +
                            " bytes, the zip entry declares " + std::to_string(e.uncompressed_size),
                        e.data_offset, where);
    }
    auto full = zip::inflate(zip_, e, limits_.zip);
    if (!full) return std::move(full).error();
    if (limits_.verify_crc) EDGEQUANT_TRY(zip::check_crc(e, *full, path()));
    out.owned = std::move(*full);
    auto v = npy::read_array(out.owned, limits_.npy, where);
    if (!v) return std::move(v).error();
    out.view = std::move(*v);
    return out;
  }
  Expected<Array> read(std::string_view key) const {
    const zip::Entry* e = find(key);
    if (!e)
      return make_error(Errc::kNotFound, "no member \"" + std::string(key) + "\"", kNoOffset,
                        path());
    return read(*e);
  }

 private:
  std::unique_ptr<MappedFile> map_;  // stable address: the archive borrows its bytes
  zip::Archive zip_;
  Limits limits_;
};

// Streams an .npz: each add() writes one member "<key>.npy" (npy header as
// np.save writes it, then the data). Stored by default, like np.savez;
// `deflate` gives np.savez_compressed's method.
template <ByteSink Sink>
class Writer {
 public:
  explicit Writer(Sink& sink, zip::WriteOptions opt = {}) : zip_(sink, opt) {}

  Status add(std::string_view key, const npy::Descr& d, std::span<const std::uint64_t> shape,
             std::span<const std::byte> data) {
    const auto n = checked_product<std::uint64_t>(shape);
    const auto nb = n ? checked_mul<std::uint64_t>(*n, d.itemsize) : std::nullopt;
    if (!nb || *nb != data.size()) {
      return make_error(Errc::kBadArgument, "member \"" + std::string(key) + "\": data is " +
                                                std::to_string(data.size()) +
                                                " bytes, shape needs " +
                                                std::to_string(nb.value_or(0)));
    }
    const std::string h = npy::header_bytes(d, shape);
    const std::span<const std::byte> parts[] = {std::as_bytes(std::span(h)), data};
    return zip_.add(std::string(key) + ".npy", parts);
  }
  Status finish() { return zip_.finish(); }

 private:
  zip::Writer<Sink> zip_;
};

}  // namespace edgequant::npz
