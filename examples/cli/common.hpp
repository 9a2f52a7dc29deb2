// Shared pieces of the CLI commands: command table entry, error printing,
// progress bar (stderr, only on a terminal), JSON string escaping.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "edgequant/core/error.hpp"

namespace eqcli {

struct Command {
  std::string_view name;
  std::string_view usage;    // arguments after the command name
  std::string_view summary;  // one line
  std::vector<OptionSpec> options;
  std::function<int(const Args&)> run;
};

// Exit statuses: 0 ok, 1 failure (bad input, I/O), 2 usage error.
inline int fail(const edgequant::Error& e) {
  std::fprintf(stderr, "edgequant: error: %s\n", e.message().c_str());
  return e.code == edgequant::Errc::kBadArgument ? 2 : 1;
}
inline int fail_usage(const std::string& msg) {
  std::fprintf(stderr, "edgequant: error: %s (see --help)\n", msg.c_str());
  return 2;
}

// Progress bar on stderr; silent unless stderr is a terminal.
class Progress {
 public:
  Progress(std::string label, std::uint64_t total)
      : label_(std::move(label)), total_(total), tty_(::isatty(2) == 1),
        start_(std::chrono::steady_clock::now()) {}
  ~Progress() { finish(); }
  void update(std::uint64_t done, std::uint64_t bytes = 0, const std::string& what = {}) {
    if (!tty_ || total_ == 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double frac = static_cast<double>(done) / static_cast<double>(total_);
    const int width = 28;
    const int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    const double mbps = secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0;
    const double eta = frac > 0 ? secs * (1 - frac) / frac : 0;
    std::fprintf(stderr, "\r%s [%s] %llu/%llu  %.0f MB/s  ETA %.0fs  %-30.30s", label_.c_str(),
                 bar.c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), mbps, eta, what.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  std::string label_;
  std::uint64_t total_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_{};
};

inline std::string json_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o;
}

}  // namespace eqcli
