// .onnx files: read_model (mapped, zero-copy) with external data confined to
// the model's folder, and write_model (atomic, streamed) that moves large
// initializers to a side file (specs/onnx.md §5).
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/formats/onnx/model.hpp"
#include "edgequant/formats/onnx/reader.hpp"
#include "edgequant/formats/onnx/writer.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace edgequant::onnx {

// ---- external data: where a location may point -------------------------------

struct ExternalDataOptions {
  // A file with more than one hard link may be another name of a file outside
  // the model folder; refused unless allowed (onnx >= 1.21 refuses them too).
  bool allow_hardlinks = false;
};

// Lexical rules for an external data location (§5): a non-empty relative path
// with no ".." component, no NUL, no drive letter and no leading separator.
// Backslashes count as separators too (a Windows reader would treat them so).
inline Status check_location(std::string_view loc) {
  const auto bad = [&](const std::string& why) {
    return make_error(Errc::kInvalid, "external data location '" + std::string(loc) + "' " + why);
  };
  if (loc.empty()) return bad("is empty");
  if (loc.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
  if (loc[0] == '/' || loc[0] == '\\') return bad("is an absolute path (refused)");
  if (loc.size() >= 2 && loc[1] == ':' &&
      ((loc[0] >= 'A' && loc[0] <= 'Z') || (loc[0] >= 'a' && loc[0] <= 'z'))) {
    return bad("starts with a drive letter (refused)");
  }
  std::size_t start = 0;
  while (start <= loc.size()) {
    std::size_t end = loc.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = loc.size();
    if (loc.substr(start, end - start) == "..")
      return bad("contains '..' (refused: it would leave the model folder)");
    start = end + 1;
  }
  return {};
}

namespace detail {

inline std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
inline std::string base_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline Expected<std::string> real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) {
    return make_error(Errc::kIo, std::string("cannot resolve path: ") + std::strerror(errno),
                      kNoOffset, p);
  }
  return std::string(buf);
}

// Canonical path of an open file descriptor (Linux /proc; elsewhere the path).
inline Expected<std::string> fd_real_path(int fd, const std::string& path) {
#if defined(__linux__)
  char buf[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
#else
  (void)fd;
#endif
  return real_path(path);
}

inline bool inside(const std::string& dir, const std::string& file) {
  if (dir == "/") return file.size() > 1 && file[0] == '/';
  return file.size() > dir.size() + 1 && file.compare(0, dir.size(), dir) == 0 &&
         file[dir.size()] == '/';
}

}  // namespace detail

// Opens the external data files of one model, each once, refusing any that is
// outside the model folder: absolute paths and '..' (CVE-2022-25882,
// CVE-2024-27318), a symbolic link as the file itself, directories that are
// symbolic links leading out (canonical containment), and files with several
// hard links (CVE-2026-27489/34446/34447 lineage).
class ExternalDataFiles {
 public:
  explicit ExternalDataFiles(std::string model_dir, ExternalDataOptions opt = {})
      : dir_(model_dir.empty() ? std::string(".") : std::move(model_dir)), opt_(opt) {}

  Expected<std::shared_ptr<const MappedFile>> open(const std::string& location) {
    if (auto it = cache_.find(location); it != cache_.end()) return it->second;
    EDGEQUANT_TRY(check_location(location));
    const std::string path = dir_ + "/" + location;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP) {
        return make_error(Errc::kInvalid,
                          "external data location '" + location + "' is a symbolic link (refused)",
                          kNoOffset, path);
      }
      return make_error(err == ENOENT ? Errc::kNotFound : Errc::kIo,
                        "cannot open external data '" + location + "': " + std::strerror(err),
                        kNoOffset, path);
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return make_error(Errc::kIo, std::string("cannot stat: ") + std::strerror(errno), kNoOffset,
                        path);
    }
    if (!S_ISREG(st.st_mode)) {
      return make_error(Errc::kInvalid,
                        "external data location '" + location + "' is not a regular file",
                        kNoOffset, path);
    }
    if (st.st_nlink > 1 && !opt_.allow_hardlinks) {
      return make_error(Errc::kInvalid,
                        "external data file '" + location + "' has " + std::to_string(st.st_nlink) +
                            " hard links (refused: another link may be outside the model folder)",
                        kNoOffset, path);
    }
    if (base_real_.empty()) {
      auto b = detail::real_path(dir_);
      if (!b) return std::move(b).error();
      base_real_ = *b;
    }
    auto real = detail::fd_real_path(fd, path);
    if (!real) return std::move(real).error();
    if (!detail::inside(base_real_, *real)) {
      return make_error(Errc::kInvalid,
                        "external data location '" + location + "' resolves to '" + *real +
                            "', outside the model folder '" + base_real_ + "' (refused)",
                        kNoOffset, path);
    }
    auto mf = MappedFile::map_fd(fd, path);
    if (!mf) return std::move(mf).error();
    auto shared = std::make_shared<const MappedFile>(std::move(*mf));
    cache_.emplace(location, shared);
    return shared;
  }

  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
  std::string base_real_;
  ExternalDataOptions opt_;
  std::map<std::string, std::shared_ptr<const MappedFile>> cache_;
};

// Loads one external tensor's bytes as a view into its mapped data file.
inline Status load_external_tensor(Tensor& t, ExternalDataFiles& files) {
  auto ref = t.external_ref();
  if (!ref) return std::move(ref).error();
  auto file = files.open(ref->location);
  if (!file) {
    Error e = std::move(file).error();
    e.what = "tensor '" + t.name + "': " + e.what;
    return e;
  }
  const std::string& fname = (*file)->path();
  const std::uint64_t size = (*file)->size();
  if (ref->offset > size) {
    return make_error(Errc::kTruncated,
                      "tensor '" + t.name + "': external data offset " +
                          std::to_string(ref->offset) + " is past the end (" +
                          std::to_string(size) + " bytes)",
                      ref->offset, fname);
  }
  const std::uint64_t len = ref->length ? *ref->length : size - ref->offset;
  if (!range_within(ref->offset, len, size)) {
    return make_error(Errc::kTruncated,
                      "tensor '" + t.name + "': external data [" + std::to_string(ref->offset) +
                          ", +" + std::to_string(len) + ") runs past the end of the file (" +
                          std::to_string(size) + " bytes)",
                      ref->offset, fname);
  }
  auto want = t.expected_bytes();
  if (!want) return std::move(want).error().in_file(fname);
  if (*want != len) {
    return make_error(Errc::kInvalid,
                      "tensor '" + t.name + "': external data length " + std::to_string(len) +
                          ", dims and type call for " + std::to_string(*want),
                      ref->offset, fname);
  }
  t.data = Bytes::view((*file)->bytes().subspan(static_cast<std::size_t>(ref->offset),
                                                static_cast<std::size_t>(len)),
                       *file);
  t.data_loaded = true;
  return {};
}

// Loads every external tensor of the model (views into mapped files).
inline Status load_external_data(Model& m, const std::string& model_dir,
                                 const ExternalDataOptions& opt = {}) {
  ExternalDataFiles files(model_dir, opt);
  Status st;
  for_each_tensor(m, [&](Tensor& t, TensorRole) {
    if (st && t.is_external() && !t.data_loaded) st = load_external_tensor(t, files);
  });
  return st;
}

// ---- reading -------------------------------------------------------------------

struct ReadOptions {
  ParseOptions parse;
  bool load_external = true;  // map external data now (else: only the references)
  ExternalDataOptions external;
  MappedFile::Mode mode = MappedFile::Mode::kAuto;
};

// Reads a .onnx file. Raw and external payloads are views into mapped files
// that the tensors keep alive.
inline Expected<Model> read_model(const std::string& path, const ReadOptions& opt = {}) {
  auto mf = MappedFile::open(path, opt.mode);
  if (!mf) return std::move(mf).error();
  auto file = std::make_shared<const MappedFile>(std::move(*mf));
  auto m = parse_model(file->bytes(), file, opt.parse, path);
  if (!m) return m;
  if (opt.load_external) {
    if (auto s = load_external_data(*m, detail::dir_of(path), opt.external); !s) {
      return std::move(s).error().in_file(path);
    }
  }
  return m;
}

// ---- writing -------------------------------------------------------------------

struct WriteOptions {
  enum class External : std::uint8_t {
    kAuto,      // keep external tensors external; move more out only past max_inline_bytes
    kInline,    // everything in the .onnx (fails past 2 GiB)
    kExternal,  // every initializer of at least size_threshold bytes in the data file
  };
  External external = External::kAuto;
  std::string data_location;            // relative; default "<model file name>.data"
  std::uint64_t size_threshold = 1024;  // onnx.save's default threshold
  std::uint64_t align_threshold = std::uint64_t{1} << 20;  // §5: pad tensors >= 1 MiB ...
  std::uint64_t alignment = 4096;                          // ... to a 4096-byte offset (0: never)
  std::uint64_t max_inline_bytes = std::uint64_t{1900} << 20;  // §1: headroom below 2 GiB
  bool attributes_too = false;  // also move tensors of node attributes (onnx's convert_attribute)
  // Called after each payload of the data file: bytes done, bytes in all.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

namespace detail {

// Raw-encodable tensors the writer may move to the data file, in model order.
inline std::vector<const Tensor*> external_candidates(const Model& m, bool attributes_too) {
  std::vector<const Tensor*> out;
  for_each_tensor(m, [&](const Tensor& t, TensorRole r) {
    if (r == TensorRole::kSparse || (r == TensorRole::kAttribute && !attributes_too)) return;
    if (data_type_info(t.data_type).bits == 0 || t.payload_size() == 0) return;
    if (t.storage == Storage::kNone && !t.lazy) return;  // no payload (empty or string)
    out.push_back(&t);
  });
  return out;
}

}  // namespace detail

// Writes a model to `path` atomically. Tensors chosen by `opt.external` go to
// one data file beside it (written first, also atomically); both files appear
// only once both are complete. Payloads stream from their views or producers.
inline Status write_model(const Model& m, const std::string& path, const WriteOptions& opt = {}) {
  using detail::ExternalSlot;
  const auto cands = detail::external_candidates(m, opt.attributes_too);
  std::vector<const Tensor*> chosen;
  const auto choose = [&](auto pred) {
    chosen.clear();
    for (const Tensor* t : cands) {
      if (pred(*t)) chosen.push_back(t);
    }
  };
  std::unordered_map<const Tensor*, ExternalSlot> plan;
  std::uint64_t data_size = 0;
  const auto layout = [&]() -> Status {
    plan.clear();
    std::uint64_t pos = 0;
    for (const Tensor* t : chosen) {
      const std::uint64_t len = t->payload_size();
      if (opt.alignment > 1 && len >= opt.align_threshold) {
        auto up = checked_add<std::uint64_t>(pos, opt.alignment - 1);
        if (!up)
          return make_error(Errc::kOverflow, "external data offset overflows", kNoOffset, path);
        pos = *up / opt.alignment * opt.alignment;
      }
      plan[t] = ExternalSlot{pos, len};
      auto end = checked_add<std::uint64_t>(pos, len);
      if (!end) return make_error(Errc::kOverflow, "external data size overflows", kNoOffset, path);
      pos = *end;
    }
    data_size = pos;
    return {};
  };
  const std::string location =
      opt.data_location.empty() ? detail::base_of(path) + ".data" : opt.data_location;
  detail::WriteCtx w{&plan, location};
  using Mode = WriteOptions::External;
  if (opt.external == Mode::kAuto) {
    choose([](const Tensor& t) { return t.storage == Storage::kExternal; });
    EDGEQUANT_TRY(layout());
    auto size = detail::serialized_size(m, w);
    if (!size) return std::move(size).error().in_file(path);
    if (*size > opt.max_inline_bytes) {
      choose([&](const Tensor& t) {
        return t.storage == Storage::kExternal || t.payload_size() >= opt.size_threshold;
      });
      EDGEQUANT_TRY(layout());
    }
  } else if (opt.external == Mode::kExternal) {
    choose([&](const Tensor& t) {
      return t.storage == Storage::kExternal || t.payload_size() >= opt.size_threshold;
    });
    EDGEQUANT_TRY(layout());
  }
  auto size = detail::serialized_size(m, w);
  if (!size) return std::move(size).error().in_file(path);
  if (*size > kMaxProtobufBytes) {
    return make_error(Errc::kLimit,
                      "model would be " + std::to_string(*size) +
                          " bytes, past protobuf's 2 GiB limit: write its tensors as external data",
                      kNoOffset, path);
  }
  for (const Tensor* t : chosen) {
    if (!t->has_bytes() && !t->lazy) {
      return make_error(Errc::kInvalid, "tensor '" + t->name + "': external data not loaded",
                        kNoOffset, path);
    }
  }

  AtomicFile data;
  if (!chosen.empty()) {
    EDGEQUANT_TRY(check_location(location));
    const std::string data_path = detail::dir_of(path) + "/" + location;
    if (data_path == path || location == detail::base_of(path)) {
      return make_error(Errc::kBadArgument, "external data file would overwrite the model",
                        kNoOffset, path);
    }
    auto f = AtomicFile::create(data_path);
    if (!f) return std::move(f).error();
    data = std::move(*f);
    pb::Encoder<AtomicFile> e(data);
    std::uint64_t done = 0;
    for (const Tensor* t : chosen) {
      const ExternalSlot& s = plan[t];
      EDGEQUANT_TRY(data.write_zeros(static_cast<std::size_t>(s.offset - data.position())));
      EDGEQUANT_TRY(detail::payload(e, *t));
      done += s.length;
      if (opt.progress) opt.progress(done, data_size);
    }
  }
  auto out = AtomicFile::create(path);
  if (!out) return std::move(out).error();
  {
    pb::Encoder<AtomicFile> e(*out);
    EDGEQUANT_TRY(detail::body(e, m, w));
  }
  if (!chosen.empty()) EDGEQUANT_TRY(data.commit());
  return out->commit();
}

}  // namespace edgequant::onnx
