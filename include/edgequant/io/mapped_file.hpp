// Read-only memory-mapped file, with a plain-read fallback, as a span of bytes.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "edgequant/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#define EDGEQUANT_HAVE_MMAP 1
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#define EDGEQUANT_HAVE_MMAP 0
#endif

namespace edgequant {

// Owns a read-only view of a whole file. Move-only. Views (tensor views, readers)
// borrow from it and must not outlive it.
class MappedFile {
 public:
  enum class Mode : std::uint8_t {
    kAuto,  // mmap, falling back to reading into memory if mmap fails
    kMmap,  // mmap only
    kRead,  // read into an owned buffer (pipes, special files, tests)
  };

  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }
  MappedFile& operator=(MappedFile&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      mapped_ = std::exchange(o.mapped_, false);
      owned_ = std::move(o.owned_);
      path_ = std::move(o.path_);
    }
    return *this;
  }
  ~MappedFile() { release(); }

  static Expected<MappedFile> open(const std::string& path, Mode mode = Mode::kAuto) {
    MappedFile f;
    f.path_ = path;
#if EDGEQUANT_HAVE_MMAP
    if (mode != Mode::kRead) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return io_error(path, "cannot open");
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        Error e = io_error(path, "cannot stat");
        ::close(fd);
        return e;
      }
      if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return make_error(Errc::kIo, "is a directory", kNoOffset, path);
      }
      if (S_ISREG(st.st_mode)) {
        f.size_ = static_cast<std::size_t>(st.st_size);
        if (f.size_ == 0) {  // mmap of 0 bytes fails; an empty view is fine
          ::close(fd);
          return f;
        }
        void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (p != MAP_FAILED) {
          f.data_ = static_cast<const std::byte*>(p);
          f.mapped_ = true;
          return f;
        }
        if (mode == Mode::kMmap) return io_error(path, "mmap failed");
      } else {
        ::close(fd);
        if (mode == Mode::kMmap) {
          return make_error(Errc::kIo, "not a regular file; cannot mmap", kNoOffset, path);
        }
      }
    }
#else
    if (mode == Mode::kMmap) {
      return make_error(Errc::kUnsupported, "mmap is not available on this platform",
                        kNoOffset, path);
    }
#endif
    return read_whole(path);
  }

#if EDGEQUANT_HAVE_MMAP
  // Maps a regular file the caller has already opened (and checked, e.g. for
  // containment); the caller keeps ownership of `fd`. Falls back to reading.
  static Expected<MappedFile> map_fd(int fd, const std::string& name) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error(name, "cannot stat");
    if (!S_ISREG(st.st_mode)) return make_error(Errc::kIo, "not a regular file", kNoOffset, name);
    MappedFile f;
    f.path_ = name;
    f.size_ = static_cast<std::size_t>(st.st_size);
    if (f.size_ == 0) return f;
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f.data_ = static_cast<const std::byte*>(p);
      f.mapped_ = true;
      return f;
    }
    auto buf = std::make_unique<std::byte[]>(f.size_);
    std::size_t n = 0;
    while (n < f.size_) {
      const ssize_t r = ::pread(fd, buf.get() + n, f.size_ - n, static_cast<off_t>(n));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return io_error(name, "read failed");
      n += static_cast<std::size_t>(r);
    }
    f.owned_ = std::move(buf);
    f.data_ = f.owned_.get();
    return f;
  }
#endif

  // Wraps bytes already in memory (tests, fuzzers). The bytes are copied.
  static MappedFile from_bytes(std::span<const std::byte> bytes, std::string name = "<memory>") {
    MappedFile f;
    f.path_ = std::move(name);
    f.owned_ = std::make_unique<std::byte[]>(bytes.size() ? bytes.size() : 1);
    if (!bytes.empty()) std::memcpy(f.owned_.get(), bytes.data(), bytes.size());
    f.data_ = f.owned_.get();
    f.size_ = bytes.size();
    return f;
  }

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  bool is_mapped() const noexcept { return mapped_; }

  // Hints that the range will be read sequentially soon (madvise); no-op otherwise.
  void advise_sequential() const noexcept {
#if EDGEQUANT_HAVE_MMAP
    if (mapped_) ::madvise(const_cast<std::byte*>(data_), size_, MADV_SEQUENTIAL);
#endif
  }

  // Drops the pages wholly inside [offset, offset + len) from this process's
  // resident set (MADV_DONTNEED; they are read from the file again if touched).
  // Streaming readers call it after each tensor so that resident memory stays
  // bounded by the tensors in use, whatever the file size. No-op unless mapped.
  void release_range(std::uint64_t offset, std::uint64_t len) const noexcept {
#if EDGEQUANT_HAVE_MMAP
    if (!mapped_ || offset >= size_ || len == 0) return;
    const std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t end = len > size_ - offset ? size_ : offset + len;
    const std::uint64_t first = (offset + page - 1) / page * page;
    // The file's last page may be partial: release it when the range reaches EOF.
    const std::uint64_t last = end == size_ ? (end + page - 1) / page * page : end / page * page;
    if (last > first) ::madvise(const_cast<std::byte*>(data_) + first, last - first, MADV_DONTNEED);
#else
    (void)offset;
    (void)len;
#endif
  }

 private:
  static Error io_error(const std::string& path, const char* what) {
    return make_error(Errc::kIo, std::string(what) + ": " + std::strerror(errno), kNoOffset,
                      path);
  }

  static Expected<MappedFile> read_whole(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (!fp) return io_error(path, "cannot open");
    MappedFile f;
    f.path_ = path;
    std::size_t cap = 1 << 16;
    auto buf = std::make_unique<std::byte[]>(cap);
    std::size_t n = 0;
    for (;;) {
      if (n == cap) {
        auto bigger = std::make_unique<std::byte[]>(cap * 2);
        std::memcpy(bigger.get(), buf.get(), n);
        buf = std::move(bigger);
        cap *= 2;
      }
      const std::size_t got = std::fread(buf.get() + n, 1, cap - n, fp);
      n += got;
      if (got == 0) break;
    }
    const bool failed = std::ferror(fp) != 0;
    std::fclose(fp);
    if (failed) return io_error(path, "read failed");
    f.owned_ = std::move(buf);
    f.data_ = f.owned_.get();
    f.size_ = n;
    return f;
  }

  void release() noexcept {
#if EDGEQUANT_HAVE_MMAP
    if (mapped_ && data_) ::munmap(const_cast<std::byte*>(data_), size_);
#endif
    data_ = nullptr;
    size_ = 0;
    mapped_ = false;
    owned_.reset();
  }

  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
  std::unique_ptr<std::byte[]> owned_;
  std::string path_;
};

}  // namespace edgequant
