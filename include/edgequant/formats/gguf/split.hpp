// gguf-split sets (specs/gguf.md §8): Model reads one file or a whole set as
// one model; split() and merge() write sets the way llama.cpp's gguf-split does.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "edgequant/core/error.hpp"
#include "edgequant/formats/gguf/format.hpp"
#include "edgequant/formats/gguf/reader.hpp"
#include "edgequant/formats/gguf/value.hpp"
#include "edgequant/formats/gguf/writer.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace edgequant::gguf {

inline constexpr std::string_view kSplitNoKey = "split.no";                  // u16, 0-based
inline constexpr std::string_view kSplitCountKey = "split.count";            // u16
inline constexpr std::string_view kSplitTensorsKey = "split.tensors.count";  // i32, all shards
inline constexpr std::uint64_t kSplitDefaultMaxTensors = 128;                // gguf-split default

// `<prefix>-%05d-of-%05d.gguf` with the 1-based shard number (llama_split_path).
inline std::string split_path(std::string_view prefix, std::uint32_t split_no,
                              std::uint32_t count) {
  char tail[40];
  std::snprintf(tail, sizeof tail, "-%05u-of-%05u.gguf", split_no + 1, count);
  return std::string(prefix) + tail;
}

// The prefix of a shard path, if it ends exactly with that shard's postfix
// (llama_split_prefix).
inline std::optional<std::string> split_prefix(std::string_view path, std::uint32_t split_no,
                                               std::uint32_t count) {
  const std::string tail = split_path("", split_no, count);
  if (path.size() <= tail.size() || path.substr(path.size() - tail.size()) != tail)
    return std::nullopt;
  return std::string(path.substr(0, path.size() - tail.size()));
}

// A model in one GGUF file or in a gguf-split set, checked as llama.cpp's
// loader does: shard i carries split.no = i, the tensor total matches
// split.tensors.count, no tensor name appears twice.
template <LimitsPolicy L = Limits>
class Model {
 public:
  using ShardReader = Reader<MappedFile, L>;
  struct Entry {
    std::uint32_t shard;
    const TensorInfo* info;
  };

  // `path` may name any shard of a set; the others are found by name.
  static Expected<Model> open(const std::string& path, L limits = {}) {
    Model m;
    auto first = ShardReader::open_file(path, limits);
    if (!first) return std::move(first).error();
    auto count = first->template get_or<std::uint16_t>(kSplitCountKey, 0);
    if (!count) return std::move(count).error();
    if (*count <= 1) {
      m.paths_.push_back(path);
      m.shards_.push_back(std::move(*first));
      EDGEQUANT_TRY(m.index());
      return m;
    }
    auto no = first->template get<std::uint16_t>(kSplitNoKey);
    if (!no) return std::move(no).error();
    auto prefix = split_prefix(path, *no, *count);
    if (!prefix) {
      return make_error(Errc::kInvalid,
                        "shard " + std::to_string(*no + 1) + " of " + std::to_string(*count) +
                            ": the file name does not end with " + split_path("", *no, *count) +
                            ", so the other shards cannot be found",
                        kNoOffset, path);
    }
    m.shards_.reserve(*count);
    for (std::uint32_t i = 0; i < *count; ++i) {
      std::string p = split_path(*prefix, i, *count);
      Expected<ShardReader> r = i == *no ? std::move(first) : ShardReader::open_file(p, limits);
      if (!r) return std::move(r).error();
      auto sno = r->template get<std::uint16_t>(kSplitNoKey);
      if (!sno) return std::move(sno).error();
      if (*sno != i) {
        return make_error(Errc::kInvalid,
                          "split.no is " + std::to_string(*sno) + ", expected " + std::to_string(i),
                          r->find(kSplitNoKey)->value.offset(), p);
      }
      if (const KeyValue* c = r->find(kSplitCountKey)) {
        auto cv = c->value.template as<std::uint16_t>();
        if (!cv || *cv != *count) {
          return make_error(Errc::kInvalid,
                            "split.count differs from the first shard's " + std::to_string(*count),
                            c->value.offset(), p);
        }
      }
      m.paths_.push_back(std::move(p));
      m.shards_.push_back(std::move(*r));
    }
    EDGEQUANT_TRY(m.index());
    auto total = m.shards_[0].template get_or<std::int32_t>(kSplitTensorsKey, -1);
    if (!total) return std::move(total).error();
    if (*total >= 0 && static_cast<std::uint64_t>(*total) != m.entries_.size()) {
      return make_error(Errc::kInvalid,
                        "split.tensors.count is " + std::to_string(*total) + " but the " +
                            std::to_string(*count) + " shards hold " +
                            std::to_string(m.entries_.size()) + " tensors",
                        kNoOffset, m.paths_[0]);
    }
    return m;
  }

  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;

  bool is_split() const noexcept {
    return shards_.size() > 1 || shards_[0].contains(kSplitCountKey);
  }
  std::span<const ShardReader> shards() const noexcept { return shards_; }
  const std::vector<std::string>& paths() const noexcept { return paths_; }
  // Metadata comes from the first shard (the others hold only split keys).
  const ShardReader& first() const noexcept { return shards_[0]; }
  std::span<const KeyValue> metadata() const noexcept { return shards_[0].metadata(); }
  template <class T>
  Expected<T> get(std::string_view key) const {
    return shards_[0].template get<T>(key);
  }

  // All tensors, shard by shard, each shard in file order.
  std::span<const Entry> tensors() const noexcept { return entries_; }
  const Entry* find_tensor(std::string_view name) const noexcept {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  Expected<Tensor> tensor(std::string_view name) const {
    const Entry* e = find_tensor(name);
    if (!e)
      return make_error(Errc::kNotFound, "tensor '" + std::string(name) + "' not found", kNoOffset,
                        paths_[0]);
    return tensor(*e);
  }
  Tensor tensor(const Entry& e) const noexcept { return shards_[e.shard].tensor(*e.info); }
  std::span<const std::byte> tensor_data(const Entry& e) const noexcept {
    return tensor(e).bytes();
  }
  std::uint64_t data_bytes() const noexcept {
    std::uint64_t n = 0;
    for (const auto& e : entries_) n += e.info->nbytes;
    return n;
  }

 private:
  Model() = default;
  Status index() {
    for (std::uint32_t s = 0; s < shards_.size(); ++s) {
      for (const TensorInfo& t : shards_[s].tensors()) {
        if (auto it = index_.find(t.name); it != index_.end()) {
          return make_error(Errc::kInvalid,
                            "tensor '" + std::string(t.name) + "' is also in " +
                                paths_[entries_[it->second].shard],
                            t.info_offset, paths_[s]);
        }
        index_.emplace(t.name, entries_.size());
        entries_.push_back(Entry{s, &t});
      }
    }
    return {};
  }

  std::vector<ShardReader> shards_;
  std::vector<std::string> paths_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, std::size_t> index_;
};

struct SplitOptions {
  std::uint64_t max_bytes = 0;                          // --split-max-size; 0: split by count
  std::uint64_t max_tensors = kSplitDefaultMaxTensors;  // --split-max-tensors
  bool no_tensor_first_split = false;                   // shard 1 holds metadata only
  std::function<void(std::uint64_t done, std::uint64_t total)> progress = {};
};

// What each output file gets: its layout and the input tensors, in order.
struct SplitPlan {
  std::vector<Layout> shards;
  std::vector<std::vector<std::size_t>> tensors;  // indices into Model::tensors()
};

// gguf-split --split: a new shard starts at tensor i when i % max_tensors == 0
// (i > 0), or (by size) when the running sum of 32-padded sizes would exceed
// max_bytes. Shard 1 gets every input KV, all shards split.no,
// split.tensors.count, then split.count (the order ggml's set-to-end gives).
template <class M>
Expected<SplitPlan> plan_split(const M& in, const SplitOptions& opt) {
  if (opt.max_bytes == 0 && opt.max_tensors == 0) {
    return make_error(Errc::kBadArgument, "split: max tensors per shard must be > 0");
  }
  const auto n = in.tensors().size();
  if (n > static_cast<std::size_t>(INT32_MAX)) {
    return make_error(Errc::kUnsupported,
                      "split: more tensors than split.tensors.count (i32) can hold");
  }
  // gguf-split pads to 32; a file with another alignment keeps its own (so
  // that every shard stays readable) and every shard then says so.
  const std::uint64_t align = in.first().alignment();
  SplitPlan p;
  auto new_shard = [&](bool allow_empty) -> Status {
    if (!p.shards.empty() && p.tensors.back().empty() && !allow_empty) {
      return make_error(
          Errc::kBadArgument,
          "split: a shard would hold no tensor; the size or tensor limit is too small");
    }
    Layout l;
    l.alignment = align;
    if (p.shards.empty()) {
      l.metadata.copy_from(in.first());
    } else if (align != kDefaultAlignment) {
      l.metadata.set(kAlignmentKey, static_cast<std::uint32_t>(align));
    }
    l.metadata.set(kSplitNoKey, static_cast<std::uint16_t>(p.shards.size()));
    l.metadata.set(kSplitCountKey, std::uint16_t{0});  // placeholder, set again below
    l.metadata.set(kSplitTensorsKey, static_cast<std::int32_t>(n));
    p.shards.push_back(std::move(l));
    p.tensors.emplace_back();
    return {};
  };
  EDGEQUANT_TRY(new_shard(false));
  if (opt.no_tensor_first_split) EDGEQUANT_TRY(new_shard(true));
  std::uint64_t cur = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const TensorInfo& t = *in.tensors()[i].info;
    const std::uint64_t padded = align_up(t.nbytes, align);
    const std::uint64_t next = cur + padded;
    const bool split = opt.max_bytes ? next > opt.max_bytes : (i > 0 && i % opt.max_tensors == 0);
    if (split) {
      EDGEQUANT_TRY(new_shard(false));
      cur = padded;
    } else {
      cur = next;
    }
    p.shards.back().tensors.push_back(TensorSpec::from(t).ggml_dims());
    p.tensors.back().push_back(i);
  }
  if (p.shards.size() > 65535)
    return make_error(Errc::kUnsupported, "split: more than 65535 shards");
  for (auto& l : p.shards)
    l.metadata.set(kSplitCountKey, static_cast<std::uint16_t>(p.shards.size()));
  return p;
}

namespace detail {
// Writes one layout with the given model tensors, atomically.
template <class M>
Status write_shard(const M& in, const Layout& l, const std::vector<std::size_t>& idx,
                   const std::string& path, std::uint64_t& done, std::uint64_t total,
                   const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  auto f = AtomicFile::create(path);
  if (!f) return std::move(f).error();
  auto w = Writer<AtomicFile>::begin(std::move(*f), l);
  if (!w) return std::move(w).error().in_file(path);
  for (std::size_t i : idx) {
    const auto bytes = in.tensor_data(in.tensors()[i]);
    // Chunks keep progress live on large tensors; the mapping is read once.
    constexpr std::size_t kChunk = std::size_t{64} << 20;
    for (std::size_t off = 0; off < bytes.size(); off += kChunk) {
      const auto part = bytes.subspan(off, std::min(kChunk, bytes.size() - off));
      auto st = w->write(part);
      if (!st) return std::move(st).error().in_file(path);
      done += part.size();
      if (progress) progress(done, total);
    }
  }
  auto st = w->finish();
  if (!st) return std::move(st).error().in_file(path);
  return st;
}
}  // namespace detail

// Writes the shards `<out_prefix>-0000i-of-0000N.gguf`; returns their paths.
// Each shard is atomic; if one fails, the shards already written are removed.
template <class M>
Expected<std::vector<std::string>> split(const M& in, const std::string& out_prefix,
                                         const SplitOptions& opt) {
  auto p = plan_split(in, opt);
  if (!p) return std::move(p).error();
  const auto count = static_cast<std::uint32_t>(p->shards.size());
  std::vector<std::string> out;
  std::uint64_t done = 0;
  const std::uint64_t total = in.data_bytes();
  for (std::uint32_t s = 0; s < count; ++s) {
    std::string path = split_path(out_prefix, s, count);
    auto st = detail::write_shard(in, p->shards[s], p->tensors[s], path, done, total, opt.progress);
    if (!st) {
      for (const auto& q : out) std::remove(q.c_str());
      return std::move(st).error();
    }
    out.push_back(std::move(path));
  }
  return out;
}

// The merged layout: the first shard's KVs with split.count set to 0 (so it
// moves to the end, as gguf-split --merge does), then every tensor in order.
template <class M>
Expected<Layout> plan_merge(const M& in) {
  if (!in.first().contains(kSplitCountKey)) {
    return make_error(Errc::kBadArgument,
                      "merge: the input has no split.count key (not a split set)", kNoOffset,
                      in.paths()[0]);
  }
  Layout l;
  l.alignment = in.first().alignment();
  l.metadata.copy_from(in.first());
  l.metadata.set(kSplitCountKey, std::uint16_t{0});
  for (const auto& e : in.tensors()) l.tensors.push_back(TensorSpec::from(*e.info).ggml_dims());
  return l;
}

template <class M>
Status merge(const M& in, const std::string& out_path,
             const std::function<void(std::uint64_t, std::uint64_t)>& progress = {}) {
  auto l = plan_merge(in);
  if (!l) return std::move(l).error();
  std::vector<std::size_t> all(in.tensors().size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::uint64_t done = 0;
  return detail::write_shard(in, *l, all, out_path, done, in.data_bytes(), progress);
}

}  // namespace edgequant::gguf

namespace edgequant {
template <class L = gguf::Limits>
using GgufModel = gguf::Model<L>;
}  // namespace edgequant
