// Errors as values: Errc codes, Error (code + file + offset + reason) and Expected<T>.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "edgequant/core/config.hpp"

namespace edgequant {

// Stable codes: tests, `--json` output and exit statuses use them. Append only.
enum class Errc : std::uint8_t {
  kOk = 0,
  kIo,            // open/read/write/rename failed (errno text in the message)
  kBadMagic,      // not the expected file format
  kTruncated,     // input ends before a structure it announces
  kOverflow,      // a size or count overflows 64 bits or the address space
  kLimit,         // a configured limit (bytes, counts, depth) is exceeded
  kUnsupported,   // well-formed but not supported (version, type, feature)
  kInvalid,       // malformed: a value breaks the format's rules
  kBadArgument,   // caller error: wrong length, unknown name, bad option
  kNotFound,      // missing key, tensor, file
  kTypeMismatch,  // value present with another type
  kNonFinite,     // NaN or Inf in data that must be finite
  kNeedsImportance,  // the scheme refuses to quantize without an imatrix
  kCancelled,     // interrupted (signal, user)
};

constexpr std::string_view errc_name(Errc c) noexcept {
  switch (c) {
    case Errc::kOk: return "ok";
    case Errc::kIo: return "io";
    case Errc::kBadMagic: return "bad_magic";
    case Errc::kTruncated: return "truncated";
    case Errc::kOverflow: return "overflow";
    case Errc::kLimit: return "limit";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kInvalid: return "invalid";
    case Errc::kBadArgument: return "bad_argument";
    case Errc::kNotFound: return "not_found";
    case Errc::kTypeMismatch: return "type_mismatch";
    case Errc::kNonFinite: return "non_finite";
    case Errc::kNeedsImportance: return "needs_importance";
    case Errc::kCancelled: return "cancelled";
  }
  return "unknown";
}

inline constexpr std::uint64_t kNoOffset = ~std::uint64_t{0};

struct Error {
  Errc code = Errc::kInvalid;
  std::uint64_t offset = kNoOffset;  // byte offset in `file`, or element index
  std::string what;                  // the reason, in words
  std::string file;                  // the file (or object) concerned, if any

  // "file: offset N: what" — the form every CLI prints.
  std::string message() const {
    std::string m;
    if (!file.empty()) m += file + ": ";
    if (offset != kNoOffset) m += "offset " + std::to_string(offset) + ": ";
    m += what;
    return m;
  }
  // Adds the file name where a lower layer did not know it.
  Error&& in_file(std::string_view f) && {
    if (file.empty()) file = std::string(f);
    return std::move(*this);
  }
};

inline Error make_error(Errc code, std::string what,
                        std::uint64_t offset = kNoOffset,
                        std::string file = {}) {
  return Error{code, offset, std::move(what), std::move(file)};
}

// Tag wrapper so `return unexpected(err)` reads like std::expected.
struct Unexpected {
  Error error;
};
inline Unexpected unexpected(Error e) { return Unexpected{std::move(e)}; }

// Minimal std::expected<T, Error> (C++23 is not available in GCC 12).
template <class T>
class [[nodiscard]] Expected {
 public:
  using value_type = T;

  template <class U = T,
            std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                 !std::is_same_v<std::decay_t<U>, Expected> &&
                                 !std::is_same_v<std::decay_t<U>, Error> &&
                                 !std::is_same_v<std::decay_t<U>, Unexpected>,
                             int> = 0>
  Expected(U&& v) : has_(true) {  // NOLINT: implicit like std::expected
    new (&storage_.value) T(std::forward<U>(v));
  }
  Expected(Error e) : has_(false) {  // NOLINT
    new (&storage_.error) Error(std::move(e));
  }
  Expected(Unexpected u) : Expected(std::move(u.error)) {}  // NOLINT

  Expected(const Expected& o) : has_(o.has_) {
    if (has_) new (&storage_.value) T(o.storage_.value);
    else new (&storage_.error) Error(o.storage_.error);
  }
  Expected(Expected&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
      : has_(o.has_) {
    if (has_) new (&storage_.value) T(std::move(o.storage_.value));
    else new (&storage_.error) Error(std::move(o.storage_.error));
  }
  Expected& operator=(Expected o) noexcept(
      std::is_nothrow_move_constructible_v<T>) {
    destroy();
    has_ = o.has_;
    if (has_) new (&storage_.value) T(std::move(o.storage_.value));
    else new (&storage_.error) Error(std::move(o.storage_.error));
    return *this;
  }
  ~Expected() { destroy(); }

  bool has_value() const noexcept { return has_; }
  explicit operator bool() const noexcept { return has_; }

  // Precondition: has_value().
  T& value() & {
    EDGEQUANT_ASSERT(has_);
    return storage_.value;
  }
  const T& value() const& {
    EDGEQUANT_ASSERT(has_);
    return storage_.value;
  }
  T&& value() && {
    EDGEQUANT_ASSERT(has_);
    return std::move(storage_.value);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !has_value().
  const Error& error() const& {
    EDGEQUANT_ASSERT(!has_);
    return storage_.error;
  }
  Error&& error() && {
    EDGEQUANT_ASSERT(!has_);
    return std::move(storage_.error);
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_ ? storage_.value : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void destroy() noexcept {
    if (has_) storage_.value.~T();
    else storage_.error.~Error();
  }
  union Storage {
    Storage() {}
    ~Storage() {}
    T value;
    Error error;
  } storage_;
  bool has_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  using value_type = void;
  Expected() = default;
  Expected(Error e) : error_(std::move(e)), has_(false) {}  // NOLINT
  Expected(Unexpected u) : Expected(std::move(u.error)) {}  // NOLINT

  bool has_value() const noexcept { return has_; }
  explicit operator bool() const noexcept { return has_; }
  void value() const { EDGEQUANT_ASSERT(has_); }
  const Error& error() const& {
    EDGEQUANT_ASSERT(!has_);
    return error_;
  }
  Error&& error() && {
    EDGEQUANT_ASSERT(!has_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool has_ = true;
};

using Status = Expected<void>;

inline Status ok() { return {}; }

}  // namespace edgequant

// Early return of the error of an Expected-returning expression.
#define EDGEQUANT_TRY(expr)                                   \
  do {                                                        \
    auto&& edgequant_try_result_ = (expr);                    \
    if (!edgequant_try_result_)                               \
      return std::move(edgequant_try_result_).error();        \
  } while (0)
