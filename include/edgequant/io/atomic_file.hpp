// Output sinks: AtomicFile (temp file + fsync + rename; nothing partial is ever
// visible) and MemorySink, plus cleanup of temp files on SIGINT/SIGTERM.
#pragma once

#include <atomic>
#include <concepts>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgequant/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#error "edgequant/io/atomic_file.hpp needs POSIX (open, fsync, rename)"
#endif

namespace edgequant {

// A sink accepts bytes in order and knows how many it has taken.
template <class S>
concept ByteSink = requires(S s, std::span<const std::byte> b) {
  { s.write(b) } -> std::same_as<Status>;
  { s.position() } -> std::convertible_to<std::uint64_t>;
};

namespace detail {

// Temp files currently open, so that a signal handler can remove them. Fixed
// slots of fixed-size paths: the handler may only use async-signal-safe calls.
struct TempRegistry {
  static constexpr int kSlots = 64;
  static constexpr std::size_t kPathMax = 4096;
  std::atomic<int> state[kSlots] = {};  // 0 free, 1 being written, 2 live
  char paths[kSlots][kPathMax] = {};

  int add(const std::string& p) noexcept {
    if (p.size() >= kPathMax) return -1;
    for (int i = 0; i < kSlots; ++i) {
      int expected = 0;
      if (state[i].compare_exchange_strong(expected, 1)) {
        std::memcpy(paths[i], p.c_str(), p.size() + 1);
        state[i].store(2);
        return i;
      }
    }
    return -1;  // more than kSlots concurrent outputs: still correct, just not signal-cleaned
  }
  void remove(int slot) noexcept {
    if (slot >= 0) state[slot].store(0);
  }
  void unlink_all() noexcept {
    for (int i = 0; i < kSlots; ++i) {
      if (state[i].load() == 2) ::unlink(paths[i]);
    }
  }
};

inline TempRegistry& temp_registry() noexcept {
  static TempRegistry r;
  return r;
}

inline void cleanup_signal_handler(int sig) {
  temp_registry().unlink_all();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace detail

// Makes SIGINT/SIGTERM/SIGHUP remove every unfinished AtomicFile before the
// process dies (Ctrl-C leaves nothing behind). Call once from main().
inline void install_signal_cleanup() noexcept {
  (void)detail::temp_registry();  // construct before any handler can run
  std::signal(SIGINT, detail::cleanup_signal_handler);
  std::signal(SIGTERM, detail::cleanup_signal_handler);
#ifdef SIGHUP
  std::signal(SIGHUP, detail::cleanup_signal_handler);
#endif
}

// Writes `path` atomically: bytes go to a temp file in the same folder, which
// commit() fsyncs and renames over `path`. Destroying an uncommitted AtomicFile
// (error, exception, early return) removes the temp file.
class AtomicFile {
 public:
  AtomicFile() = default;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  AtomicFile(AtomicFile&& o) noexcept { *this = std::move(o); }
  AtomicFile& operator=(AtomicFile&& o) noexcept {
    if (this != &o) {
      abandon();
      fd_ = std::exchange(o.fd_, -1);
      slot_ = std::exchange(o.slot_, -1);
      pos_ = std::exchange(o.pos_, 0);
      path_ = std::move(o.path_);
      tmp_ = std::move(o.tmp_);
      buf_ = std::move(o.buf_);
    }
    return *this;
  }
  ~AtomicFile() { abandon(); }

  static Expected<AtomicFile> create(const std::string& path) {
    AtomicFile f;
    f.path_ = path;
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty()) return make_error(Errc::kBadArgument, "output path names a folder", kNoOffset, path);
    f.tmp_ = dir + "." + base + ".edgequant-tmp-XXXXXX";
    std::vector<char> tmpl(f.tmp_.begin(), f.tmp_.end());
    tmpl.push_back('\0');
    const int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
      return make_error(Errc::kIo, std::string("cannot create temp file: ") + std::strerror(errno),
                        kNoOffset, path);
    }
    f.tmp_.assign(tmpl.data());
    f.fd_ = fd;
    f.slot_ = detail::temp_registry().add(f.tmp_);
    // mkstemp creates 0600; use the usual mode for outputs (umask applies).
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    f.buf_.reserve(kBufSize);
    return f;
  }

  Status write(std::span<const std::byte> b) {
    if (fd_ < 0) return make_error(Errc::kIo, "write after close", pos_, path_);
    if (buf_.size() + b.size() > kBufSize) {
      EDGEQUANT_TRY(flush());
      if (b.size() >= kBufSize) {
        EDGEQUANT_TRY(write_fd(b.data(), b.size()));
        pos_ += b.size();
        return {};
      }
    }
    buf_.insert(buf_.end(), b.begin(), b.end());
    pos_ += b.size();
    return {};
  }
  Status write(const void* p, std::size_t n) {
    return write(std::span<const std::byte>(static_cast<const std::byte*>(p), n));
  }
  // Appends `n` zero bytes (padding).
  Status write_zeros(std::size_t n) {
    static constexpr std::byte kZeros[256] = {};
    while (n) {
      const std::size_t k = n < sizeof(kZeros) ? n : sizeof(kZeros);
      EDGEQUANT_TRY(write(kZeros, k));
      n -= k;
    }
    return {};
  }

  // Writes out the buffered bytes and frees the buffer: for outputs kept open
  // but idle until a joint commit (the shards of a sharded checkpoint).
  Status flush_and_release() {
    if (fd_ < 0) return make_error(Errc::kIo, "flush after close", pos_, path_);
    EDGEQUANT_TRY(flush());
    std::vector<std::byte>().swap(buf_);
    return {};
  }

  std::uint64_t position() const noexcept { return pos_; }
  const std::string& path() const noexcept { return path_; }
  const std::string& temp_path() const noexcept { return tmp_; }

  // Flushes, fsyncs, renames over the destination, fsyncs the folder.
  Status commit() {
    if (fd_ < 0) return make_error(Errc::kIo, "commit after close", pos_, path_);
    EDGEQUANT_TRY(flush());
    if (::fsync(fd_) != 0) return fail("fsync failed");
    if (::close(fd_) != 0) {
      fd_ = -1;
      return fail("close failed");
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return fail("rename failed");
    detail::temp_registry().remove(slot_);
    slot_ = -1;
    tmp_.clear();
    const auto slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);  // best effort: some file systems refuse fsync on folders
      ::close(dfd);
    }
    return {};
  }

  // Drops the output: the temp file is removed, the destination untouched.
  void abandon() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    tmp_.clear();
    detail::temp_registry().remove(slot_);
    slot_ = -1;
  }

 private:
  static constexpr std::size_t kBufSize = std::size_t{1} << 20;

  Status flush() {
    if (buf_.empty()) return {};
    EDGEQUANT_TRY(write_fd(buf_.data(), buf_.size()));
    buf_.clear();
    return {};
  }
  Status write_fd(const std::byte* p, std::size_t n) {
    while (n) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return fail("write failed");
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return {};
  }
  Error fail(const char* what) {
    Error e = make_error(Errc::kIo, std::string(what) + ": " + std::strerror(errno), kNoOffset,
                         path_);
    abandon();
    return e;
  }

  int fd_ = -1;
  int slot_ = -1;
  std::uint64_t pos_ = 0;
  std::string path_;
  std::string tmp_;
  std::vector<std::byte> buf_;
};

// Sink into a growable byte vector (tests, fuzzers, in-memory round trips).
class MemorySink {
 public:
  Status write(std::span<const std::byte> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return {};
  }
  Status write(const void* p, std::size_t n) {
    return write(std::span<const std::byte>(static_cast<const std::byte*>(p), n));
  }
  Status write_zeros(std::size_t n) {
    bytes_.insert(bytes_.end(), n, std::byte{0});
    return {};
  }
  std::uint64_t position() const noexcept { return bytes_.size(); }
  Status commit() { return {}; }
  const std::vector<std::byte>& bytes() const noexcept { return bytes_; }
  std::vector<std::byte> take() noexcept { return std::move(bytes_); }

 private:
  std::vector<std::byte> bytes_;
};

static_assert(ByteSink<AtomicFile>);
static_assert(ByteSink<MemorySink>);

}  // namespace edgequant
