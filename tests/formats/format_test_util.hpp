// Helpers for the format tests: byte buffers, scratch folders, and running
// /usr/bin/python3 (with numpy) as an independent oracle.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace eqfmt {

inline std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> b(s.size());
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return b;
}
inline std::string str_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
inline void put_u64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
// A safetensors file from a header text and data bytes (N = header size).
inline std::vector<std::byte> st_file(std::string_view header, std::string_view data = {}) {
  std::string s;
  put_u64(s, header.size());
  s += header;
  s += data;
  return bytes_of(s);
}
inline std::string hex(std::span<const std::byte> b) {
  static const char* d = "0123456789abcdef";
  std::string o;
  for (auto x : b) {
    o += d[static_cast<unsigned>(x) >> 4];
    o += d[static_cast<unsigned>(x) & 15];
  }
  return o;
}
template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

// A fresh scratch folder, removed on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("eq_fmt_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, std::span<const std::byte> b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
inline std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

// A one-entry zip whose entry "x.npy" is `content` as deflate method 8,
// encoded by hand as a single stored deflate block (RFC 1951 §3.2.4), so
// that tests can make deflated archives without zlib.
inline std::vector<std::byte> hand_deflated_zip(std::span<const std::byte> content,
                                                std::uint32_t crc) {
  std::string s;
  auto p16 = [&](unsigned v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>((v >> 8) & 0xFF);
  };
  auto p32 = [&](std::uint32_t v) {
    p16(v & 0xFFFF);
    p16(v >> 16);
  };
  const unsigned n = static_cast<unsigned>(content.size());  // < 65536
  std::string deflated;
  deflated += '\x01';  // BFINAL=1, BTYPE=00 (stored)
  deflated += static_cast<char>(n & 0xFF);
  deflated += static_cast<char>(n >> 8);
  deflated += static_cast<char>(~n & 0xFF);
  deflated += static_cast<char>((~n >> 8) & 0xFF);
  deflated += str_of(content);
  const std::string name = "x.npy";
  p32(0x04034b50);
  p16(20), p16(0), p16(8), p16(0), p16(0x21);
  p32(crc), p32(static_cast<std::uint32_t>(deflated.size())), p32(n);
  p16(static_cast<unsigned>(name.size())), p16(0);
  s += name + deflated;
  const std::size_t cd = s.size();
  p32(0x02014b50);
  p16(20), p16(20), p16(0), p16(8), p16(0), p16(0x21);
  p32(crc), p32(static_cast<std::uint32_t>(deflated.size())), p32(n);
  p16(static_cast<unsigned>(name.size())), p16(0), p16(0), p16(0), p16(0);
  p32(0), p32(0);
  s += name;
  const std::size_t cd_size = s.size() - cd;
  p32(0x06054b50);
  p16(0), p16(0), p16(1), p16(1);
  p32(static_cast<std::uint32_t>(cd_size)), p32(static_cast<std::uint32_t>(cd));
  p16(0);
  return bytes_of(s);
}

// True when /usr/bin/python3 can import numpy; prints a visible skip
// message otherwise.
inline bool have_numpy() {
  static const int ok =
      std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0 ? 1 : 0;
  if (!ok)
    MESSAGE("SKIPPED: /usr/bin/python3 with numpy not available (apt install python3-numpy)");
  return ok == 1;
}

// Runs a Python script (written to a temp file) with arguments and returns
// its stdout; `ok` is false if it exited non-zero.
inline std::string run_python(const std::string& script, const std::vector<std::string>& args,
                              bool& ok) {
  TempDir d("py");
  const std::string sp = d.file("script.py");
  {
    std::ofstream f(sp);
    f << script;
  }
  std::string cmd = "/usr/bin/python3 " + sp;
  for (const auto& a : args) cmd += " '" + a + "'";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    ok = false;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ok = ::pclose(p) == 0;
  return out;
}

}  // namespace eqfmt
