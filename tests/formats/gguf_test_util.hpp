// Test helpers for GGUF: a byte writer for hand-made (often broken) files,
// and a parse-from-bytes shortcut.
#pragma once

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "edgequant/formats/gguf.hpp"

namespace eqtest {

// Appends GGUF fields exactly as told: no checks, so tests can build any
// malformed file. All numbers little-endian.
class GgufBytes {
 public:
  template <class T>
  GgufBytes& put(T v) {
    const std::size_t n = b_.size();
    b_.resize(n + sizeof(T));
    std::memcpy(b_.data() + n, &v, sizeof(T));
    return *this;
  }
  GgufBytes& u8(std::uint8_t v) { return put(v); }
  GgufBytes& u16(std::uint16_t v) { return put(v); }
  GgufBytes& u32(std::uint32_t v) { return put(v); }
  GgufBytes& i32(std::int32_t v) { return put(v); }
  GgufBytes& u64(std::uint64_t v) { return put(v); }
  GgufBytes& i64(std::int64_t v) { return put(v); }
  GgufBytes& f32(float v) { return put(v); }
  GgufBytes& raw(std::string_view s) {
    for (char c : s) b_.push_back(static_cast<std::byte>(c));
    return *this;
  }
  GgufBytes& zeros(std::size_t n) {
    b_.resize(b_.size() + n, std::byte{0});
    return *this;
  }
  GgufBytes& str(std::string_view s) { return u64(s.size()).raw(s); }
  GgufBytes& pad(std::size_t align) {
    b_.resize((b_.size() + align - 1) / align * align, std::byte{0});
    return *this;
  }
  GgufBytes& header(std::int64_t n_tensors, std::int64_t n_kv, std::uint32_t version = 3) {
    return raw("GGUF").u32(version).i64(n_tensors).i64(n_kv);
  }
  // Key, type id: the caller appends the value.
  GgufBytes& key(std::string_view k, std::uint32_t type) { return str(k).u32(type); }
  GgufBytes& kv_u32(std::string_view k, std::uint32_t v) { return key(k, 4).u32(v); }
  GgufBytes& kv_str(std::string_view k, std::string_view v) { return key(k, 8).str(v); }
  GgufBytes& tensor(std::string_view name, std::initializer_list<std::int64_t> ne,
                    std::uint32_t type, std::uint64_t offset) {
    str(name).u32(static_cast<std::uint32_t>(ne.size()));
    for (auto d : ne) i64(d);
    return u32(type).u64(offset);
  }

  std::size_t size() const { return b_.size(); }
  const std::vector<std::byte>& bytes() const { return b_; }
  std::vector<std::byte>& bytes() { return b_; }

 private:
  std::vector<std::byte> b_;
};

// The smallest useful valid file: one KV, one F32 [4] tensor at offset 0.
inline GgufBytes minimal_gguf() {
  GgufBytes b;
  b.header(1, 1).kv_str("general.architecture", "test").tensor("w", {4}, 0, 0).pad(32);
  for (int i = 0; i < 4; ++i) b.f32(static_cast<float>(i + 1));
  return b.pad(32);
}

inline edgequant::Expected<edgequant::gguf::Reader<edgequant::gguf::SpanSource>> parse(
    const std::vector<std::byte>& bytes, edgequant::gguf::Limits limits = {}) {
  return edgequant::gguf::Reader<edgequant::gguf::SpanSource>::open(
      edgequant::gguf::SpanSource(std::span<const std::byte>(bytes), "test.gguf"), limits);
}

inline std::vector<std::byte> as_bytes(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> o(v.size());
  if (!v.empty()) std::memcpy(o.data(), v.data(), v.size());
  return o;
}

// The error message of a failed Expected, "" otherwise: safe inside doctest
// *_MESSAGE macros, which also evaluate the message when reporting successes (-s).
template <class E>
std::string why(const E& e) {
  return e ? std::string() : e.error().message();
}

// Runs a shell command; its exit status and stdout.
struct CommandResult {
  int rc = -1;
  std::string out;
};
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

// Single-quoted for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

}  // namespace eqtest
