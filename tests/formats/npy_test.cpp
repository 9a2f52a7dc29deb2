// .npy: MLX and NumPy golden files, byte-identical writer (against np.save),
// numpy reading our files, and one bad file per header rule.
#include <doctest/doctest.h>

#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "edgequant/core/float_convert.hpp"
#include "edgequant/formats/npy.hpp"
#include "format_test_util.hpp"
#include "test_util.hpp"

// Own namespace: test files share unity translation units.
namespace eqtest_formats_npy_test {

using namespace edgequant;
using namespace edgequant::npy;
using eqfmt::bytes_of;
using eqfmt::str_of;

namespace {

// A .npy with the given header text (no padding added) and data.
std::vector<std::byte> npy_file(const std::string& dict, const std::string& data = {},
                                int major = 1) {
  std::string s("\x93NUMPY", 6);
  s += static_cast<char>(major);
  s += '\0';
  const std::size_t n = dict.size();
  s += static_cast<char>(n & 0xFF);
  s += static_cast<char>((n >> 8) & 0xFF);
  if (major >= 2) {
    s += static_cast<char>((n >> 16) & 0xFF);
    s += static_cast<char>((n >> 24) & 0xFF);
  }
  return bytes_of(s + dict + data);
}

void expect_error(const std::vector<std::byte>& f, Errc code, std::uint64_t offset,
                  const std::string& why, const Limits& l = {}) {
  auto h = parse_header(f, l, "t.npy");
  REQUIRE_FALSE(h);
  CHECK(errc_name(h.error().code) == errc_name(code));
  CHECK(h.error().offset == offset);
  CHECK_MESSAGE(h.error().what.find(why) != std::string::npos, h.error().message());
  CHECK(h.error().file == "t.npy");
}

std::vector<float> floats_of(const std::vector<std::byte>& b) {
  std::vector<float> f(b.size() / 4);
  std::memcpy(f.data(), b.data(), f.size() * 4);
  return f;
}

}  // namespace

TEST_CASE("descr parsing") {
  auto d = parse_descr("<f4");
  REQUIRE(d);
  CHECK(d->kind == Kind::kFloat);
  CHECK(d->itemsize == 4);
  CHECK(parse_descr(">i8")->order == ByteOrder::kBig);
  CHECK(parse_descr(">i8")->needs_swap());
  CHECK_FALSE(parse_descr(">V2")->needs_swap());
  CHECK(parse_descr("|b1")->kind == Kind::kBool);
  CHECK(parse_descr("f8")->order == ByteOrder::kLittle);
  CHECK(parse_descr("=u2")->order == ByteOrder::kLittle);
  CHECK(parse_descr("<c16")->kind == Kind::kComplex);
  auto o = parse_descr("|O");
  REQUIRE_FALSE(o);
  CHECK(o.error().code == Errc::kUnsupported);
  CHECK(o.error().what.find("pickle") != std::string::npos);
  for (const char* bad : {"<U5", "|S3", "<M8", "<f16", "<i3", "|b2", "<c4", "|V0", "<f", "", "<"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_descr(bad));
  }
  CHECK(Descr::of(Kind::kUint, 1).text() == "|u1");
  CHECK(Descr::of(Kind::kFloat, 2).text() == "<f2");
  CHECK(Descr::bfloat16().text() == "<V2");
}

TEST_CASE("MLX-written golden .npy files read as the MLX README says") {
  struct Case {
    const char* name;
    std::vector<std::uint64_t> shape;
    bool fortran;
    std::uint64_t data_offset;
    std::vector<float> values;  // C order
  };
  const Case cases[] = {
      {"mlx/io/mlx_1d_f32.npy", {3}, true, 70, {1, 2, 3}},
      {"mlx/io/mlx_2d_f32.npy", {3, 4}, false, 78, std::vector<float>(12, 0.0f)},
      {"mlx/io/mlx_0d_f32.npy", {}, true, 64, {3}},
      {"mlx/io/mlx_2d_f32_transposed.npy", {4, 3}, true, 76, std::vector<float>(12, 0.0f)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto path = eqtest::golden_file(c.name);
    if (!path) return;
    auto f = File::open(*path);
    REQUIRE(f);
    CHECK(f->header().descr.text() == "<f4");
    CHECK(f->header().shape == c.shape);
    CHECK(f->header().fortran_order == c.fortran);
    CHECK(f->header().data_offset == c.data_offset);
    CHECK(floats_of(to_c_order(f->array())) == c.values);
  }
  auto path = eqtest::golden_file("mlx/io/mlx_1d_bf16.npy");
  if (!path) return;
  auto f = File::open(*path);
  REQUIRE(f);
  CHECK(f->header().descr == Descr{Kind::kVoid, 2, ByteOrder::kLittle});  // '<V2' = bfloat16 (MLX)
  CHECK(f->header().shape == std::vector<std::uint64_t>{2});
  const auto b = to_c_order(f->array());
  REQUIRE(b.size() == 4);
  CHECK(bf16_to_f32(load_le<std::uint16_t>(b.data())) == 1.0f);
  CHECK(bf16_to_f32(load_le<std::uint16_t>(b.data() + 2)) == 2.0f);
}

TEST_CASE("writer: the exact np.save header of npy.md §1.1 and §5") {
  const std::uint64_t shape[] = {3, 4};
  const std::string h = header_bytes(Descr::of(Kind::kFloat, 4), shape);
  REQUIRE(h.size() == 128);
  CHECK(h.substr(0, 10) == std::string("\x93NUMPY\x01\x00\x76\x00", 10));  // HEADER_LEN 118
  CHECK(h.substr(10) == "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" +
                            std::string(58, ' ') + "\n");
  const std::vector<std::byte> zeros(48);
  auto b = serialize(Descr::of(Kind::kFloat, 4), {3, 4}, zeros);
  REQUIRE(b);
  CHECK(b->size() == 128 + 48);
  // Shapes: (), (5,), growth padding keyed to the first axis's digits.
  CHECK(header_bytes(Descr::of(Kind::kFloat, 8), {}).substr(10, 58) ==
        "{'descr': '<f8', 'fortran_order': False, 'shape': (), }   ");
  const std::uint64_t five[] = {5};
  CHECK(header_bytes(Descr::of(Kind::kInt, 1), five).substr(10, 57) ==
        "{'descr': '|i1', 'fortran_order': False, 'shape': (5,), }");
  for (std::uint64_t n : {0ull, 9ull, 1000000ull, 18446744073709551615ull}) {
    const std::uint64_t s[] = {n, 0};
    const std::string hb = header_bytes(Descr::of(Kind::kUint, 2), s);
    CHECK(hb.size() % 64 == 0);
    CHECK(hb.back() == '\n');
    auto parsed = parse_header_only(bytes_of(hb));
    REQUIRE(parsed);
    CHECK(parsed->shape[0] == n);
    CHECK(parsed->data_offset == hb.size());
  }
}

TEST_CASE("reader accepts the header variations of npy.md") {
  SUBCASE("any key order, double quotes, MLX shapes, no trailing comma, newlines inside") {
    const std::string dict = "{\"shape\": (2, 1, ), 'fortran_order': False,\n 'descr': '<i2'}  \n";
    auto h = parse_header(npy_file(dict, "abcd"));
    REQUIRE(h);
    CHECK(h->shape == std::vector<std::uint64_t>{2, 1});
    CHECK(h->descr.kind == Kind::kInt);
    CHECK(h->data_offset == 10 + dict.size());
  }
  SUBCASE("Python 2 long suffixes in versions 1.0 and 2.0") {
    auto h = parse_header(
        npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", "12345678"));
    REQUIRE(h);
    CHECK(h->shape == std::vector<std::uint64_t>{1, 2});
    CHECK_FALSE(parse_header(
        npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }", "12345678", 3)));
  }
  SUBCASE("versions 2.0 and 3.0") {
    CHECK(parse_header(
        npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "abc", 2)));
    CHECK(parse_header(
        npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "abc", 3)));
  }
  SUBCASE("big-endian Fortran-order data is swapped and transposed") {
    // shape (2, 3) >i2 in Fortran order: memory holds column-major values.
    std::string data;
    const int col_major[] = {1, 4, 2, 5, 3, 6};  // C-order matrix [[1,2,3],[4,5,6]]
    for (int v : col_major) {
      data += '\0';
      data += static_cast<char>(v);
    }
    auto f = npy_file("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }", data);
    auto a = read_array(f);
    REQUIRE(a);
    CHECK_FALSE(a->is_native_c_order());
    const auto c = to_c_order(*a);
    std::vector<std::int16_t> v(6);
    std::memcpy(v.data(), c.data(), 12);
    CHECK(v == std::vector<std::int16_t>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("one bad .npy per rule: code and offset") {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string d8(8, '\0');
  CHECK(parse_header(npy_file(ok, d8)));
  expect_error(bytes_of("\x93NUMPX\x01\x00"), Errc::kBadMagic, 0, "magic");
  expect_error(bytes_of("PK\x03\x04"), Errc::kBadMagic, 0, "magic");
  expect_error(bytes_of(std::string("\x93NUMPY\x01", 7)), Errc::kTruncated, 6, "preamble");
  {
    auto f = npy_file(ok, d8);
    f[6] = std::byte{4};
    expect_error(f, Errc::kUnsupported, 6, "version 4.0");
    f[6] = std::byte{1};
    f[7] = std::byte{1};
    expect_error(f, Errc::kUnsupported, 6, "version 1.1");
  }
  {
    auto f = npy_file(ok, d8);
    f.resize(30);
    expect_error(f, Errc::kTruncated, 8, "runs past the end");
  }
  expect_error(npy_file(std::string(10001, ' ')), Errc::kLimit, 8, "exceeds the limit of 10000");
  expect_error(npy_file("[1]"), Errc::kInvalid, 10, "not a dict");
  expect_error(npy_file("{'descr': '<f4', 'shape': (2,), }", d8), Errc::kInvalid, 10,
               "exactly the keys");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", d8),
               Errc::kInvalid, 10 + 56, "unexpected header key 'x'");
  expect_error(
      npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", d8),
      Errc::kInvalid, 10 + 17, "duplicate key 'descr'");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", d8),
               Errc::kTypeMismatch, 10 + 34, "not True or False");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}", d8),
               Errc::kTypeMismatch, 10 + 34, "not True or False");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", d8),
               Errc::kTypeMismatch, 10 + 52, "not a tuple");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", d8),
               Errc::kTypeMismatch, 10 + 50, "not a tuple");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", d8),
               Errc::kTypeMismatch, 10 + 51, "non-negative integer");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", d8),
               Errc::kInvalid, 10 + 52, "expected ',' or ')'");
  expect_error(
      npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", d8),
      Errc::kOverflow, 10 + 70, "overflows");
  expect_error(npy_file("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", d8),
               Errc::kUnsupported, 10 + 10, "pickles");
  expect_error(npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", d8),
               Errc::kUnsupported, 10 + 10, "structured");
  expect_error(npy_file("{'descr': '<U5', 'fortran_order': False, 'shape': (2,)}", d8),
               Errc::kUnsupported, 10 + 10, "unsupported descr");
  expect_error(npy_file("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}", d8),
               Errc::kUnsupported, 10 + 13, "escapes");
  expect_error(npy_file("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", d8),
               Errc::kInvalid, 10 + 9, "expected ':'");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", d8),
               Errc::kInvalid, 10 + 56, "text after");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "1234"),
               Errc::kTruncated, 10 + ok.size() + 4, "needs 8 data bytes, file has 4");
  expect_error(npy_file(ok, d8 + "x"), Errc::kInvalid, 10 + ok.size() + 8, "1 trailing bytes");
  CHECK(parse_header(npy_file(ok, d8 + "x"), Limits{10000, 64, 1u << 20, true}));
  expect_error(
      npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 2), }"),
      Errc::kOverflow, 10, "overflows");
  expect_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1), }"),
               Errc::kLimit, 10 + 56, "more than 2 dimensions", Limits{10000, 2, 1u << 20, false});
  expect_error(npy_file("{'descr': '\xff<f4', 'fortran_order': False, 'shape': (2,), }", d8, 3),
               Errc::kInvalid, 12 + 11, "not valid UTF-8");
}

TEST_CASE("numpy oracle: np.save files read identically, and our writer's bytes equal np.save's") {
  if (!eqfmt::have_numpy()) return;
  eqfmt::TempDir dir("npy_py");
  const std::string script = R"PY(
import os, sys
import numpy as np
d = sys.argv[1]
arrs = {
    "c_f32": np.arange(12, dtype="<f4").reshape(3, 4) - 5.5,
    "f_f32": np.asfortranarray(np.arange(24, dtype="<f4").reshape(2, 3, 4)),
    "be_i32": (np.arange(6, dtype=">i4") * -3).reshape(2, 3),
    "be_f_f64": np.asfortranarray(np.linspace(-1, 1, 6).astype(">f8").reshape(3, 2)),
    "scalar": np.array(7.5, dtype="<f8"),
    "empty": np.zeros((0, 5), dtype="<i2"),
    "wide": np.zeros((1000000, 0), dtype="<f4"),
    "f16": np.array([1.5, -2, 65504], dtype="<f2"),
    "bool": np.array([True, False, True]),
    "u8": np.arange(5, dtype="u1"),
    "i64": np.array([-(2**62), 3], dtype="<i8"),
    "c64be": np.array([1 + 2j, -3.5j], dtype=">c8"),
    "c128": np.array([0.25 - 1j], dtype="<c16"),
    "void2": np.frombuffer(b"\x80\x3f\x00\x40", dtype="V2"),
}
for k, a in arrs.items():
    np.save(os.path.join(d, k + ".npy"), a)
    c = np.ascontiguousarray(a)
    if c.dtype.kind != "V":
        c = c.astype(c.dtype.newbyteorder("<"))
    print(k, c.tobytes().hex())
for v in [(2, 0), (3, 0)]:
    a = np.arange(4, dtype="<u2")
    with open(os.path.join(d, "ver%d.npy" % v[0]), "wb") as f:
        np.lib.format.write_array(f, a, version=v)
    print("ver%d" % v[0], a.tobytes().hex())
)PY";
  bool ok = false;
  const std::string out = eqfmt::run_python(script, {dir.path().string()}, ok);
  REQUIRE_MESSAGE(ok, out);
  std::istringstream lines(out);
  std::string name, want;
  int n = 0;
  while (lines >> name) {
    want.clear();
    std::getline(lines, want);
    if (!want.empty() && want[0] == ' ') want.erase(0, 1);
    CAPTURE(name);
    auto f = File::open(dir.file(name + ".npy"));
    REQUIRE(f);
    CHECK(eqfmt::hex(to_c_order(f->array())) == want);
    if (name.rfind("ver", 0) == 0) {
      CHECK(f->header().major == (name == "ver2" ? 2 : 3));
      continue;
    }
    // Our header for the same descr/shape/order is np.save's, byte for byte.
    const auto file_bytes = eqfmt::read_bytes(dir.file(name + ".npy"));
    const std::string theirs = str_of(std::span(file_bytes).first(f->header().data_offset));
    CHECK(header_bytes(f->header().descr, f->header().shape, f->header().fortran_order) == theirs);
    ++n;
  }
  CHECK(n == 14);
}

TEST_CASE("numpy oracle: np.load reads what we write") {
  if (!eqfmt::have_numpy()) return;
  eqfmt::TempDir dir("npy_ours");
  const std::vector<float> f = {0.5f, -1.0f, 3.25f, 1e30f, -0.0f, 7.0f};
  std::vector<std::uint16_t> bf;
  for (float x : f) bf.push_back(f32_to_bf16(x));
  const std::vector<std::int64_t> i = {-9, 1LL << 50};
  REQUIRE(save(dir.file("f.npy"), Descr::of(Kind::kFloat, 4), {2, 3}, eqfmt::as_bytes_of(f)));
  REQUIRE(save(dir.file("bf.npy"), Descr::bfloat16(), {6}, eqfmt::as_bytes_of(bf)));
  REQUIRE(
      save(dir.file("i.npy"), Descr::of(Kind::kInt, 8), {}, std::as_bytes(std::span(i).first(1))));
  REQUIRE(save(dir.file("e.npy"), Descr::of(Kind::kBool, 1), {0}, {}));
  CHECK_FALSE(save(dir.file("bad.npy"), Descr::of(Kind::kFloat, 4), {2}, eqfmt::as_bytes_of(f)));
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.npy")));
  bool ok = false;
  const std::string out = eqfmt::run_python(
      "import sys, numpy as np\n"
      "for n in ['f', 'bf', 'i', 'e']:\n"
      "    a = np.load(sys.argv[1] + '/' + n + '.npy')\n"
      "    print(n, a.dtype.str, a.shape, a.tobytes().hex() if a.dtype.kind == 'V' else "
      "a.tolist())\n",
      {dir.path().string()}, ok);
  REQUIRE_MESSAGE(ok, out);
  CHECK(out ==
        "f <f4 (2, 3) [[0.5, -1.0, 3.25], [1.0000000150474662e+30, -0.0, 7.0]]\n"
        "bf |V2 (6,) " +
            eqfmt::hex(eqfmt::as_bytes_of(bf)) +
            "\n"
            "i <i8 () -9\n"
            "e |b1 (0,) []\n");
}

}  // namespace eqtest_formats_npy_test
