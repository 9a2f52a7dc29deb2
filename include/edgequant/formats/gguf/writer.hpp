// Streaming GGUF writer: header, metadata and tensor infos first, then tensor
// data one tensor (or chunk) at a time with ggml's padding (specs/gguf.md §4, §6).
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf/format.hpp"
#include "edgequant/formats/gguf/reader.hpp"
#include "edgequant/formats/gguf/value.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/schemes/ggml_type.hpp"

namespace edgequant::gguf {

// A sink the writer can finish: AtomicFile (files) or MemorySink (tests).
template <class S>
concept Sink = ByteSink<S> && requires(S s) {
  { s.commit() } -> std::same_as<Status>;
};

// One tensor to write. The dimensions are stored as given (n_dims of them);
// ggml's own writer drops trailing 1s: use `ggml_n_dims` to match it.
struct TensorSpec {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::uint32_t n_dims = 1;
  std::array<std::uint64_t, kMaxDims> ne{1, 1, 1, 1};  // ggml order, ne[0] = row length

  static TensorSpec make(std::string name, GgmlType type, std::span<const std::uint64_t> ne) {
    TensorSpec t;
    t.name = std::move(name);
    t.type = type;
    t.n_dims = static_cast<std::uint32_t>(ne.size());
    for (std::size_t i = 0; i < ne.size() && i < kMaxDims; ++i) t.ne[i] = ne[i];
    if (ne.size() > kMaxDims)
      t.n_dims = static_cast<std::uint32_t>(ne.size());  // rejected at write
    return t;
  }
  static TensorSpec make(std::string name, GgmlType type, std::initializer_list<std::uint64_t> ne) {
    return make(std::move(name), type, std::span<const std::uint64_t>(ne.begin(), ne.size()));
  }
  static TensorSpec from(const TensorInfo& t) {
    TensorSpec s;
    s.name = std::string(t.name);
    s.type = t.type;
    s.n_dims = t.n_dims;
    s.ne = t.ne;
    return s;
  }
  // Drops trailing 1-sized dimensions as ggml's writer does (§3).
  TensorSpec& ggml_dims() noexcept {
    n_dims = ggml_n_dims(ne);
    return *this;
  }

  // Byte size, after checking the spec (name, dims, type, block multiple).
  Expected<std::uint64_t> nbytes() const {
    const std::string what = "tensor '" + name + "'";
    if (name.size() > kMaxNameBytes) {
      return make_error(Errc::kInvalid, what + ": name longer than 63 bytes (GGML_MAX_NAME)");
    }
    if (n_dims > kMaxDims) return make_error(Errc::kInvalid, what + ": more than 4 dimensions");
    const auto info = ggml_type_info(static_cast<std::uint32_t>(type));
    if (!info) return make_error(Errc::kInvalid, what + ": not a ggml type id");
    for (std::uint32_t d = 0; d < kMaxDims; ++d) {
      if (ne[d] == 0 || ne[d] > static_cast<std::uint64_t>(INT64_MAX)) {
        return make_error(Errc::kInvalid, what + ": dimension " + std::to_string(d) + " is " +
                                              std::to_string(ne[d]) + " (must be 1..2^63-1)");
      }
      if (d >= n_dims && ne[d] != 1) {
        return make_error(Errc::kInvalid, what + ": dimension " + std::to_string(d) +
                                              " is beyond n_dims but not 1");
      }
    }
    auto elems = checked_product<std::uint64_t>(ne);
    if (!elems || *elems > static_cast<std::uint64_t>(INT64_MAX)) {
      return make_error(Errc::kOverflow, what + ": element count overflows int64");
    }
    if (ne[0] % info->block_elems != 0) {
      return make_error(Errc::kInvalid, what + ": row length " + std::to_string(ne[0]) +
                                            " is not a multiple of the " + std::string(info->name) +
                                            " block size " + std::to_string(info->block_elems));
    }
    auto row = checked_mul<std::uint64_t>(ne[0] / info->block_elems, info->block_bytes);
    auto n = row ? checked_mul<std::uint64_t>(*row, ne[1] * ne[2] * ne[3]) : std::nullopt;
    if (!n) return make_error(Errc::kOverflow, what + ": byte size overflows 64 bits");
    return *n;
  }
};

// Everything a GGUF file holds before its data.
struct Layout {
  Metadata metadata;
  std::vector<TensorSpec> tensors;
  // Data alignment. ggml writes 32 for new files whatever `general.alignment`
  // says (§4); a file read back keeps its own. The writer insists the two agree.
  std::uint64_t alignment = kDefaultAlignment;

  // The layout of a parsed file: its KVs, tensor infos (n_dims as stored)
  // and alignment. Writing it with the reader's tensor data reproduces the file.
  template <class R>
  static Layout from(const R& reader) {
    Layout l;
    l.metadata.copy_from(reader);
    l.tensors.reserve(reader.tensors().size());
    for (const TensorInfo& t : reader.tensors()) l.tensors.push_back(TensorSpec::from(t));
    l.alignment = reader.alignment();
    return l;
  }
};

struct WriterOptions {
  // Arrays of arrays are valid per docs/gguf.md but ggml rejects them (§2).
  bool allow_nested_arrays = false;
};

// Where each tensor lands, and the encoded header (checked, ready to write).
struct Plan {
  std::vector<std::byte> header;       // header + KVs + tensor infos + zero padding
  std::uint64_t header_bytes = 0;      // its size (kept once the writer has sent it)
  std::vector<std::uint64_t> offsets;  // per tensor, relative to the data section
  std::vector<std::uint64_t> nbytes;
  std::uint64_t data_bytes = 0;  // Σ padded sizes
  std::uint64_t file_bytes() const noexcept { return header_bytes + data_bytes; }
};

inline Expected<Plan> plan(const Layout& l, const WriterOptions& opt = {}) {
  if (!is_power_of_two(l.alignment) || l.alignment > (std::uint64_t{1} << 31)) {
    return make_error(Errc::kInvalid, "alignment " + std::to_string(l.alignment) +
                                          " is not a power of two (up to 2^31)");
  }
  if (const Value* a = l.metadata.find(kAlignmentKey)) {
    const auto v = a->get<std::uint32_t>();
    if (!v) return make_error(Errc::kTypeMismatch, "general.alignment must be u32");
    if (*v != l.alignment) {
      return make_error(Errc::kInvalid, "general.alignment is " + std::to_string(*v) +
                                            " but the data would be aligned to " +
                                            std::to_string(l.alignment) +
                                            "; readers would misplace every tensor");
    }
  } else if (l.alignment != kDefaultAlignment) {
    return make_error(Errc::kInvalid, "alignment " + std::to_string(l.alignment) +
                                          " needs a general.alignment key (readers assume 32)");
  }
  Plan p;
  std::vector<std::byte>& h = p.header;
  h.insert(h.end(), reinterpret_cast<const std::byte*>(kMagic),
           reinterpret_cast<const std::byte*>(kMagic) + 4);
  Value::put<std::uint32_t>(h, kVersion);
  Value::put<std::int64_t>(h, static_cast<std::int64_t>(l.tensors.size()));
  Value::put<std::int64_t>(h, static_cast<std::int64_t>(l.metadata.size()));
  for (const auto& e : l.metadata) {
    if (e.key.empty()) return make_error(Errc::kInvalid, "empty metadata key");
    if (e.key.size() > 65535)
      return make_error(Errc::kInvalid, "metadata key longer than 65535 bytes");
    if (!opt.allow_nested_arrays && e.value.depth() > 1) {
      return make_error(Errc::kUnsupported,
                        "key '" + e.key +
                            "' holds an array of arrays, which ggml cannot read "
                            "(WriterOptions::allow_nested_arrays)");
    }
    Value::put_string(h, e.key);
    Value::put<std::uint32_t>(h, static_cast<std::uint32_t>(e.value.type()));
    e.value.encode(h);
  }
  std::unordered_set<std::string_view> names;
  std::uint64_t off = 0;
  for (const TensorSpec& t : l.tensors) {
    auto n = t.nbytes();
    if (!n) return std::move(n).error();
    if (!names.insert(t.name).second)
      return make_error(Errc::kInvalid, "duplicate tensor name '" + t.name + "'");
    Value::put_string(h, t.name);
    Value::put<std::uint32_t>(h, t.n_dims);
    for (std::uint32_t d = 0; d < t.n_dims; ++d)
      Value::put<std::int64_t>(h, static_cast<std::int64_t>(t.ne[d]));
    Value::put<std::uint32_t>(h, static_cast<std::uint32_t>(t.type));
    Value::put<std::uint64_t>(h, off);
    p.offsets.push_back(off);
    p.nbytes.push_back(*n);
    auto padded = checked_add<std::uint64_t>(*n, l.alignment - 1);
    auto next = padded ? checked_add<std::uint64_t>(off, *padded / l.alignment * l.alignment)
                       : std::nullopt;
    if (!next) return make_error(Errc::kOverflow, "total tensor data size overflows 64 bits");
    off = *next;
  }
  p.data_bytes = off;
  h.resize(static_cast<std::size_t>(align_up(h.size(), l.alignment)), std::byte{0});
  p.header_bytes = h.size();
  return p;
}

// Writes one GGUF file: begin() writes everything up to the data section,
// then the tensors' bytes are appended in layout order (whole or in chunks),
// each followed by its zero padding; finish() checks and commits the sink.
template <Sink S>
class Writer {
 public:
  static Expected<Writer> begin(S sink, const Layout& layout, const WriterOptions& opt = {}) {
    auto p = plan(layout, opt);
    if (!p) return std::move(p).error();
    Writer w(std::forward<S>(sink), std::move(*p), layout.alignment);
    for (const auto& t : layout.tensors) w.names_.push_back(t.name);
    EDGEQUANT_TRY(w.sink_.write(std::span<const std::byte>(w.plan_.header)));
    w.plan_.header.clear();
    w.plan_.header.shrink_to_fit();
    return w;
  }

  Writer(Writer&&) noexcept = default;
  Writer& operator=(Writer&&) noexcept = default;

  std::size_t tensor_count() const noexcept { return plan_.nbytes.size(); }
  // Index of the tensor the next bytes belong to (== tensor_count() when done).
  std::size_t current() const noexcept { return cur_; }
  std::uint64_t current_remaining() const noexcept {
    return cur_ < tensor_count() ? plan_.nbytes[cur_] - done_ : 0;
  }

  // Next bytes of the current tensor; a chunk never runs into the next tensor.
  Status write(std::span<const std::byte> chunk) {
    while (!chunk.empty()) {
      if (cur_ >= tensor_count()) {
        return make_error(Errc::kBadArgument, "more tensor data than the layout announces");
      }
      const std::uint64_t left = plan_.nbytes[cur_] - done_;
      if (chunk.size() > left) {
        return make_error(Errc::kBadArgument, "chunk of " + std::to_string(chunk.size()) +
                                                  " bytes overruns tensor '" + names_[cur_] +
                                                  "' (" + std::to_string(left) + " bytes left)");
      }
      EDGEQUANT_TRY(sink_.write(chunk));
      done_ += chunk.size();
      chunk = {};
      if (done_ == plan_.nbytes[cur_]) EDGEQUANT_TRY(end_tensor());
    }
    return {};
  }
  // The whole current tensor.
  Status write_tensor(std::span<const std::byte> bytes) {
    if (cur_ >= tensor_count())
      return make_error(Errc::kBadArgument, "every tensor is already written");
    if (done_ != 0 || bytes.size() != plan_.nbytes[cur_]) {
      return make_error(Errc::kBadArgument, "tensor '" + names_[cur_] + "' needs " +
                                                std::to_string(plan_.nbytes[cur_] - done_) +
                                                " bytes, got " + std::to_string(bytes.size()));
    }
    return write(bytes);
  }

  // Every tensor written: commit (AtomicFile: fsync + rename).
  Status finish() {
    if (cur_ != tensor_count()) {
      return make_error(Errc::kBadArgument,
                        "tensor '" + names_[cur_] + "' (" + std::to_string(cur_ + 1) + " of " +
                            std::to_string(tensor_count()) + ") has not been written");
    }
    return sink_.commit();
  }

  S& sink() noexcept { return sink_; }
  const Plan& layout_plan() const noexcept { return plan_; }

 private:
  Writer(S sink, Plan p, std::uint64_t alignment)
      : sink_(std::forward<S>(sink)), plan_(std::move(p)), alignment_(alignment) {}

  Status end_tensor() {
    const std::uint64_t pad = align_up(plan_.nbytes[cur_], alignment_) - plan_.nbytes[cur_];
    static constexpr std::byte kZeros[64] = {};
    for (std::uint64_t left = pad; left;) {
      const std::size_t k = left < sizeof(kZeros) ? static_cast<std::size_t>(left) : sizeof(kZeros);
      EDGEQUANT_TRY(sink_.write(std::span<const std::byte>(kZeros, k)));
      left -= k;
    }
    ++cur_;
    done_ = 0;
    return {};
  }

  S sink_;
  Plan plan_;
  std::uint64_t alignment_;
  std::vector<std::string> names_;
  std::size_t cur_ = 0;
  std::uint64_t done_ = 0;
};

// Re-writes a parsed file from its layout and mapped tensor data into `sink`.
// For any file ggml wrote this reproduces it byte for byte.
template <Sink S, class R>
Status write_copy(const R& reader, S& sink, const WriterOptions& opt = {}) {
  auto w = Writer<S&>::begin(sink, Layout::from(reader), opt);
  if (!w) return std::move(w).error();
  for (const TensorInfo& t : reader.tensors())
    EDGEQUANT_TRY(w->write_tensor(reader.tensor_data(t)));
  return w->finish();
}

// The same into a file, atomically.
template <class R>
Status write_copy_file(const R& reader, const std::string& path, const WriterOptions& opt = {}) {
  auto f = AtomicFile::create(path);
  if (!f) return std::move(f).error();
  auto st = write_copy(reader, *f, opt);
  if (!st) return std::move(st).error().in_file(path);
  return st;
}

}  // namespace edgequant::gguf

namespace edgequant {
template <class S>
using GgufWriter = gguf::Writer<S>;
}  // namespace edgequant
