// Hugging Face sharded safetensors checkpoints: model.safetensors.index.json
// (weight_map, metadata.total_size) read as one model and written with a
// maximum shard size; specs/safetensors.md §5.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/json.hpp"
#include "edgequant/formats/safetensors.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace edgequant::safetensors {

// §5.1: "{prefix}-00001-of-00003.safetensors" (1-based, 5-digit padding), or
// "{prefix}.safetensors" for a single shard.
inline std::string shard_file_name(std::string_view prefix, std::size_t index, std::size_t count) {
  if (count <= 1) return std::string(prefix) + ".safetensors";
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", index + 1, count);
  return std::string(prefix) + buf;
}
inline std::string index_file_name(std::string_view prefix) {
  return std::string(prefix) + ".safetensors.index.json";
}

struct OpenOptions {
  Limits limits;
  std::string prefix = "model";                 // file-name prefix inside a folder (§5.1)
  std::uint64_t max_index_bytes = 100'000'000;  // the index is untrusted input too
};

// A model spread over one or more safetensors files, read as one: every shard
// validated (§3), the index checked against the shards (§5.2, §5.4), tensor
// names unique across shards.
class ShardedModel {
 public:
  struct Entry {
    std::uint32_t shard;  // index into shards()
    const TensorInfo* info;
  };

  // `path` may be a folder, an index file (*.index.json) or one .safetensors
  // file. In a folder: {prefix}.safetensors.index.json if present, else
  // {prefix}.safetensors, else every {prefix}*.safetensors (as mlx-lm loads).
  static Expected<ShardedModel> open(const std::string& path, const OpenOptions& opt = {}) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path p(path);
    if (fs::is_directory(p, ec)) {
      const fs::path index = p / index_file_name(opt.prefix);
      if (fs::exists(index, ec)) return open_index(index.string(), opt);
      const fs::path single = p / (opt.prefix + ".safetensors");
      if (fs::exists(single, ec)) return open_files({single.string()}, opt, {});
      std::vector<std::string> found;
      for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > opt.prefix.size() + 12 &&
            name.compare(0, opt.prefix.size(), opt.prefix) == 0 && name.ends_with(".safetensors") &&
            it->is_regular_file(ec)) {
          found.push_back(it->path().string());
        }
      }
      if (ec) return make_error(Errc::kIo, "cannot list folder: " + ec.message(), kNoOffset, path);
      if (found.empty()) {
        return make_error(Errc::kNotFound,
                          "no " + index_file_name(opt.prefix) + " and no " + opt.prefix +
                              "*.safetensors in the folder",
                          kNoOffset, path);
      }
      std::sort(found.begin(), found.end());
      return open_files(found, opt, {});
    }
    if (path.ends_with(".index.json")) return open_index(path, opt);
    return open_files({path}, opt, {});
  }

  std::span<const File> shards() const noexcept { return shards_; }
  // Every tensor, shard by shard and in data order inside a shard: the order
  // that reads each mapping sequentially.
  std::span<const Entry> tensors() const noexcept { return entries_; }
  const Entry* find(std::string_view name) const noexcept {
    auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                               [&](std::uint32_t i, std::string_view n) {
                                 return std::string_view(entries_[i].info->name) < n;
                               });
    if (it == by_name_.end() || entries_[*it].info->name != name) return nullptr;
    return &entries_[*it];
  }
  std::span<const std::byte> data(const Entry& e) const noexcept {
    return shards_[e.shard].data(*e.info);
  }
  const File& shard_of(const Entry& e) const noexcept { return shards_[e.shard]; }
  // Drops the tensor's pages from the resident set once it has been used.
  void release(const Entry& e) const noexcept { shards_[e.shard].release(*e.info); }

  // Sum of all tensors' bytes, and what the index declares (informative: HF
  // loaders do not check it, so neither do we; inspect shows a mismatch).
  std::uint64_t total_size() const noexcept { return total_size_; }
  std::optional<std::uint64_t> declared_total_size() const noexcept { return declared_total_; }
  const std::string& index_path() const noexcept { return index_path_; }  // empty without an index

 private:
  static bool plain_file_name(std::string_view s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos &&
           s.find('\\') == std::string_view::npos && s.find('\0') == std::string_view::npos;
  }

  static Expected<ShardedModel> open_index(const std::string& index_path, const OpenOptions& opt) {
    namespace fs = std::filesystem;
    auto m = MappedFile::open(index_path);  // mapped: the size is checked before any read
    if (!m) return std::move(m).error();
    if (m->size() > opt.max_index_bytes) {
      return make_error(
          Errc::kLimit,
          "index file is larger than " + std::to_string(opt.max_index_bytes) + " bytes", 0,
          index_path);
    }
    const std::string_view text(reinterpret_cast<const char*>(m->data()), m->size());
    auto doc = edgequant::detail::parse_json_strict(text, index_path);
    if (!doc) return std::move(doc).error();
    std::vector<std::pair<std::string, std::string>> wmap;  // tensor -> shard file
    std::optional<std::uint64_t> declared;
    try {
      if (!doc->is_object()) {
        return make_error(Errc::kTypeMismatch, "index is not a JSON object", 0, index_path);
      }
      const auto wm = doc->find("weight_map");
      if (wm == doc->end())
        return make_error(Errc::kInvalid, "index has no \"weight_map\"", 0, index_path);
      if (!wm->is_object()) {
        return make_error(Errc::kTypeMismatch, "\"weight_map\" is not an object", 0, index_path);
      }
      for (const auto& [k, v] : wm->items()) {
        if (!v.is_string()) {
          return make_error(Errc::kTypeMismatch, "weight_map entry \"" + k + "\" is not a string",
                            0, index_path);
        }
        const auto& f = v.get_ref<const std::string&>();
        if (!plain_file_name(f)) {
          return make_error(Errc::kInvalid,
                            "weight_map entry \"" + k + "\" names \"" + f +
                                "\", which is not a plain file name in the index's folder",
                            0, index_path);
        }
        wmap.emplace_back(k, f);
      }
      if (const auto md = doc->find("metadata"); md != doc->end() && md->is_object()) {
        if (const auto ts = md->find("total_size"); ts != md->end()) {
          if (ts->is_number_unsigned()) {
            declared = ts->get<std::uint64_t>();
          } else if (ts->is_number_float()) {  // some writers emit 1.5e10; keep if integral
            const double d = ts->get<double>();
            if (d >= 0 && d < 1.8e19 && static_cast<double>(static_cast<std::uint64_t>(d)) == d) {
              declared = static_cast<std::uint64_t>(d);
            }
          }
        }
      }
    } catch (const std::exception& e) {
      return make_error(Errc::kInvalid, std::string("index: ") + e.what(), kNoOffset, index_path);
    }
    const fs::path dir = fs::path(index_path).parent_path();
    std::vector<std::string> files;
    for (const auto& kv : wmap) files.push_back(kv.second);
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    for (auto& f : files) f = (dir / f).string();
    auto model = open_files(files, opt, index_path);
    if (!model) return model;
    model->declared_total_ = declared;
    EDGEQUANT_TRY(model->check_weight_map(wmap, dir));
    return model;
  }

  static Expected<ShardedModel> open_files(const std::vector<std::string>& files,
                                           const OpenOptions& opt, std::string index_path) {
    ShardedModel m;
    m.index_path_ = std::move(index_path);
    m.shards_.reserve(files.size());
    for (const auto& f : files) {
      auto file = File::open(f, opt.limits);
      if (!file) return std::move(file).error();
      m.shards_.push_back(std::move(*file));
    }
    for (std::uint32_t s = 0; s < m.shards_.size(); ++s) {
      for (const auto& t : m.shards_[s].tensors()) {
        m.entries_.push_back({s, &t});
        const auto sum = checked_add<std::uint64_t>(m.total_size_, t.nbytes());
        if (!sum) return make_error(Errc::kOverflow, "total tensor size overflows");
        m.total_size_ = *sum;
      }
    }
    m.by_name_.resize(m.entries_.size());
    for (std::uint32_t i = 0; i < m.by_name_.size(); ++i) m.by_name_[i] = i;
    const auto& ent = m.entries_;
    std::sort(m.by_name_.begin(), m.by_name_.end(), [&](std::uint32_t a, std::uint32_t b) {
      return ent[a].info->name < ent[b].info->name;
    });
    for (std::size_t i = 1; i < m.by_name_.size(); ++i) {
      const Entry& a = ent[m.by_name_[i - 1]];
      const Entry& b = ent[m.by_name_[i]];
      if (a.info->name == b.info->name) {  // §5.4 step 3: never let one silently win
        return make_error(Errc::kInvalid,
                          "tensor \"" + b.info->name + "\" is in both " +
                              m.shards_[a.shard].path() + " and " + m.shards_[b.shard].path(),
                          b.info->header_offset, m.shards_[b.shard].path());
      }
    }
    return m;
  }

  Status check_weight_map(const std::vector<std::pair<std::string, std::string>>& wmap,
                          const std::filesystem::path& dir) const {
    std::vector<std::string_view> listed;
    listed.reserve(wmap.size());
    for (const auto& [name, file] : wmap) {
      listed.push_back(name);
      const Entry* e = find(name);
      const std::string want = (dir / file).string();
      if (!e) {
        return make_error(
            Errc::kNotFound,
            "index maps tensor \"" + name + "\" to " + file + ", which does not hold it", kNoOffset,
            index_path_);
      }
      if (shards_[e->shard].path() != want) {
        return make_error(Errc::kInvalid,
                          "index maps tensor \"" + name + "\" to " + file + ", but it is in " +
                              shards_[e->shard].path(),
                          kNoOffset, index_path_);
      }
    }
    std::sort(listed.begin(), listed.end());
    for (const Entry& e : entries_) {
      if (!std::binary_search(listed.begin(), listed.end(), std::string_view(e.info->name))) {
        return make_error(Errc::kInvalid,
                          "shard " + shards_[e.shard].path() + " holds tensor \"" + e.info->name +
                              "\", which the index does not list",
                          kNoOffset, index_path_);
      }
    }
    return {};
  }

  std::vector<File> shards_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> by_name_;
  std::uint64_t total_size_ = 0;
  std::optional<std::uint64_t> declared_total_;
  std::string index_path_;
};

// ------------------------------------------------------------------ writer --
enum class ShardPolicy : std::uint8_t {
  // huggingface_hub split_state_dict_into_shards_factory (§5.3): in the given
  // order; a tensor over the limit gets a shard of its own (appended at once);
  // otherwise the current shard is closed when the tensor would tip it over.
  kHub,
  // mlx-lm make_shards: close the current shard whenever size + tensor would
  // exceed the limit, even when it is empty (an oversized first tensor leaves
  // an empty first shard).
  kMlx,
};

struct ShardOptions {
  // Limit on the sum of tensor bytes per shard (headers not counted): the
  // hub's decimal "5GB" by default; mlx-lm uses 5 << 30.
  std::uint64_t max_shard_bytes = 5'000'000'000;
  ShardPolicy policy = ShardPolicy::kHub;
  std::string prefix = "model";
  bool index_for_single = false;  // mlx-lm writes an index even for one shard
  WriteOptions file_options;
};

struct ShardPlan {
  std::string file_name;
  Layout layout;
};

// Splits `specs` (in state-dict order) into shards and lays out each shard.
inline Expected<std::vector<ShardPlan>> plan_shards(const std::vector<TensorSpec>& specs,
                                                    const Metadata& md, const ShardOptions& opt) {
  std::vector<std::vector<TensorSpec>> groups;
  std::vector<TensorSpec> cur;
  std::uint64_t cur_size = 0;
  for (const auto& s : specs) {
    const auto nb = tensor_nbytes(s.dtype, s.shape);
    if (!nb) {
      return make_error(Errc::kBadArgument,
                        "tensor \"" + s.name + "\": shape overflows or is not whole bytes");
    }
    const auto grown = checked_add<std::uint64_t>(cur_size, *nb);
    if (!grown) return make_error(Errc::kOverflow, "shard size overflows");
    if (opt.policy == ShardPolicy::kHub && *nb > opt.max_shard_bytes) {
      groups.push_back({s});
      continue;
    }
    // The hub never closes an empty shard here (its tensor fits the limit);
    // mlx-lm does when the first tensor is oversized.
    if (*grown > opt.max_shard_bytes) {
      groups.push_back(std::move(cur));
      cur.clear();
      cur_size = 0;
    }
    cur.push_back(s);
    cur_size += *nb;
  }
  if (!cur.empty() || groups.empty()) groups.push_back(std::move(cur));
  std::vector<ShardPlan> out;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto lay = plan(std::move(groups[i]), md, opt.file_options);
    if (!lay) return std::move(lay).error();
    out.push_back({shard_file_name(opt.prefix, i, groups.size()), std::move(*lay)});
  }
  // Names must be unique across shards too.
  std::vector<std::string_view> names;
  for (const auto& sp : out) {
    for (const auto& t : sp.layout.tensors) names.push_back(t.name);
  }
  std::sort(names.begin(), names.end());
  if (auto it = std::adjacent_find(names.begin(), names.end()); it != names.end()) {
    return make_error(Errc::kBadArgument, "duplicate tensor name \"" + std::string(*it) + "\"");
  }
  return out;
}

// The index as huggingface_hub writes it: json.dumps(index, indent=2,
// sort_keys=True) + "\n" (ASCII-escaped strings), §5.2.
inline std::string render_index(const std::vector<ShardPlan>& shards) {
  std::uint64_t total = 0;
  std::vector<std::pair<std::string_view, std::string_view>> wm;
  for (const auto& s : shards) {
    total += s.layout.data_size;
    for (const auto& t : s.layout.tensors) wm.emplace_back(t.name, s.file_name);
  }
  std::sort(wm.begin(), wm.end());
  std::string o = "{\n  \"metadata\": {\n    \"total_size\": " + std::to_string(total) +
                  "\n  },\n  \"weight_map\": {";
  for (std::size_t i = 0; i < wm.size(); ++i) {
    o += i ? ",\n    " : "\n    ";
    edgequant::detail::append_json_string_ascii(o, wm[i].first);
    o += ": ";
    edgequant::detail::append_json_string_ascii(o, wm[i].second);
  }
  o += wm.empty() ? "}\n}\n" : "\n  }\n}\n";
  return o;
}

// Streams a sharded checkpoint into folder `dir`: tensor bytes come in
// next() order (shard by shard, each shard in its layout order). Shards are
// temp files until finish(), which commits them and then writes the index, so
// an interrupted run leaves no partial checkpoint (only hidden temp files if
// the process is killed outright).
class ShardedWriter {
 public:
  static Expected<ShardedWriter> start(const std::string& dir, const std::vector<TensorSpec>& specs,
                                       const Metadata& md = {}, const ShardOptions& opt = {}) {
    auto plans = plan_shards(specs, md, opt);
    if (!plans) return std::move(plans).error();
    ShardedWriter w;
    w.dir_ = dir;
    w.opt_ = opt;
    w.plans_ = std::move(*plans);
    EDGEQUANT_TRY(w.open_shard(0));
    return w;
  }

  const std::vector<ShardPlan>& shards() const noexcept { return plans_; }
  std::size_t current_shard() const noexcept { return shard_; }
  const TensorInfo* next() const noexcept { return writer_ ? writer_->next() : nullptr; }

  Status write(std::span<const std::byte> bytes) {
    EDGEQUANT_TRY(advance());
    if (!writer_) return make_error(Errc::kBadArgument, "more data than the tensors declare");
    EDGEQUANT_TRY(writer_->write(bytes));
    return advance();
  }
  Status write_tensor(std::string_view name, std::span<const std::byte> bytes) {
    EDGEQUANT_TRY(advance());
    if (bytes.empty()) {  // empty tensors take no bytes (any shard)
      for (const auto& p : plans_) {
        for (const auto& t : p.layout.tensors) {
          if (t.name == name && t.nbytes() == 0) return {};
        }
      }
    }
    if (!writer_)
      return make_error(Errc::kBadArgument,
                        "tensor \"" + std::string(name) + "\" comes after the end");
    EDGEQUANT_TRY(writer_->write_tensor(name, bytes));
    return advance();
  }

  Status finish() {
    EDGEQUANT_TRY(advance());
    if (writer_ && writer_->next()) {
      return make_error(Errc::kBadArgument,
                        "tensor \"" + writer_->next()->name + "\" was not written completely");
    }
    for (auto& f : files_) EDGEQUANT_TRY(f->commit());
    if (plans_.size() > 1 || opt_.index_for_single) {
      auto f = AtomicFile::create(path_of(index_file_name(opt_.prefix)));
      if (!f) return std::move(f).error();
      const std::string idx = render_index(plans_);
      EDGEQUANT_TRY(f->write(idx.data(), idx.size()));
      EDGEQUANT_TRY(f->commit());
    }
    files_.clear();
    writer_.reset();
    return {};
  }

 private:
  std::string path_of(const std::string& name) const {
    return (std::filesystem::path(dir_) / name).string();
  }
  Status open_shard(std::size_t i) {
    shard_ = i;
    auto f = AtomicFile::create(path_of(plans_[i].file_name));
    if (!f) return std::move(f).error();
    files_.push_back(std::make_unique<AtomicFile>(std::move(*f)));
    auto w = Writer<AtomicFile>::start(*files_.back(), plans_[i].layout);
    if (!w) return std::move(w).error();
    writer_ = std::make_unique<Writer<AtomicFile>>(std::move(*w));
    return {};
  }
  // Moves to the next shard once the current one is complete.
  Status advance() {
    while (writer_ && !writer_->next() && shard_ + 1 < plans_.size()) {
      EDGEQUANT_TRY(writer_->finish());
      EDGEQUANT_TRY(files_.back()->flush_and_release());
      EDGEQUANT_TRY(open_shard(shard_ + 1));
    }
    return {};
  }

  std::string dir_;
  ShardOptions opt_;
  std::vector<ShardPlan> plans_;
  std::vector<std::unique_ptr<AtomicFile>> files_;
  std::unique_ptr<Writer<AtomicFile>> writer_;
  std::size_t shard_ = 0;
};

}  // namespace edgequant::safetensors
