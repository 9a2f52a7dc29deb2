// MappedFile and AtomicFile: mapping, fallback, atomic replace, cleanup.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

using namespace edgequant;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  auto d = fs::temp_directory_path() / ("eq_io_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
std::size_t count_entries(const fs::path& d) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(d)) ++n;
  return n;
}
}  // namespace

TEST_CASE("MappedFile maps, reads, and reports errors with the path") {
  const auto dir = temp_dir();
  const auto p = (dir / "data.bin").string();
  {
    std::ofstream f(p, std::ios::binary);
    f << "hello mapped world";
  }
  for (auto mode : {MappedFile::Mode::kAuto, MappedFile::Mode::kMmap, MappedFile::Mode::kRead}) {
    auto m = MappedFile::open(p, mode);
    REQUIRE(m);
    CHECK(m->size() == 18);
    CHECK(std::string(reinterpret_cast<const char*>(m->data()), 5) == "hello");
    CHECK(m->is_mapped() == (mode != MappedFile::Mode::kRead));
  }
  auto missing = MappedFile::open((dir / "nope.bin").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kIo);
  CHECK(missing.error().message().find("nope.bin") != std::string::npos);
  auto folder = MappedFile::open(dir.string());
  REQUIRE_FALSE(folder);
  const auto empty = (dir / "empty.bin").string();
  { std::ofstream f(empty, std::ios::binary); }
  auto e = MappedFile::open(empty);
  REQUIRE(e);
  CHECK(e->size() == 0);
  fs::remove_all(dir);
}

TEST_CASE("AtomicFile: nothing visible until commit; abandoned output leaves no trace") {
  const auto dir = temp_dir();
  const auto out = (dir / "out.bin").string();
  {
    std::ofstream f(out, std::ios::binary);
    f << "old contents";
  }
  {
    auto w = AtomicFile::create(out);
    REQUIRE(w);
    REQUIRE(w->write("new", 3));
    REQUIRE(w->write_zeros(5));
    CHECK(w->position() == 8);
    CHECK(fs::exists(w->temp_path()));
    // Not committed: destructor removes the temp file, the old file stays.
  }
  CHECK(count_entries(dir) == 1);
  {
    std::ifstream f(out, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(s == "old contents");
  }
  {
    auto w = AtomicFile::create(out);
    REQUIRE(w);
    std::string big(3 << 20, 'x');  // larger than the write buffer
    REQUIRE(w->write(big.data(), big.size()));
    REQUIRE(w->write("end", 3));
    REQUIRE(w->commit());
  }
  CHECK(fs::file_size(out) == (3u << 20) + 3);
  CHECK(count_entries(dir) == 1);
  auto bad = AtomicFile::create((dir / "missing_dir" / "x.bin").string());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::kIo);
  fs::remove_all(dir);
}

TEST_CASE("MemorySink collects bytes") {
  MemorySink s;
  REQUIRE(s.write("ab", 2));
  REQUIRE(s.write_zeros(2));
  CHECK(s.position() == 4);
  CHECK(s.bytes()[1] == std::byte{'b'});
  CHECK(s.bytes()[3] == std::byte{0});
}
