// `quantize-raw` / `dequantize-raw`: rows of little-endian float32 <-> the
// concatenated quantized rows of one type. Streams in chunks of rows, writes
// atomically, shows progress on a terminal.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cli/codecs.hpp"
#include "cli/common.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace eqcli {

namespace detail {
// About 64 MiB of float32 per chunk: bounded memory for any input size.
inline std::size_t chunk_rows(std::size_t cols) {
  return std::max<std::size_t>(1, (std::size_t{64} << 20) / (cols * sizeof(float)));
}

inline edgequant::Expected<std::size_t> cols_option(const Args& a) {
  auto cols = a.uint_value("cols", 0);
  if (!cols) return cols.error();
  if (*cols == 0) return edgequant::make_error(edgequant::Errc::kBadArgument, "--cols N is required (N > 0)");
  return static_cast<std::size_t>(*cols);
}
}  // namespace detail

inline Command quantize_raw_command() {
  return {"quantize-raw", "--type T --cols N [--imatrix W.f32] [--threads K] IN.f32 OUT.bin",
          "quantize rows of float32 to one type (raw bytes out)",
          {{"type", true, "type name (see `edgequant types`), case-insensitive"},
           {"cols", true, "row length N (a multiple of the type's block size)"},
           {"imatrix", true, "N float32 importance weights, one per column"},
           {"threads", true, "threads (default: all); output never depends on it"}},
          [](const Args& a) -> int {
            if (a.positional().size() != 2) return fail_usage("quantize-raw needs IN.f32 and OUT.bin");
            auto type = a.value("type");
            if (!type) return fail_usage("--type is required");
            auto codec = find_codec(*type);
            if (!codec) return fail(codec.error());
            auto cols = detail::cols_option(a);
            if (!cols) return fail(cols.error());
            auto threads = a.uint_value("threads", 0);
            if (!threads) return fail(threads.error());
            const std::string& in_path = a.positional()[0];
            auto in = edgequant::MappedFile::open(in_path);
            if (!in) return fail(in.error());
            if (in->size() % sizeof(float) != 0) {
              return fail(edgequant::make_error(edgequant::Errc::kInvalid,
                                                "size " + std::to_string(in->size()) +
                                                    " is not a multiple of 4 (float32)",
                                                edgequant::kNoOffset, in_path));
            }
            const std::size_t n = in->size() / sizeof(float);
            if (*cols % codec->block_elems != 0) {
              return fail(edgequant::make_error(
                  edgequant::Errc::kBadArgument,
                  "--cols " + std::to_string(*cols) + " is not a multiple of the " + codec->name +
                      " block size " + std::to_string(codec->block_elems)));
            }
            if (n % *cols != 0) {
              return fail(edgequant::make_error(edgequant::Errc::kInvalid,
                                                std::to_string(n) + " floats are not a whole number of rows of " +
                                                    std::to_string(*cols),
                                                edgequant::kNoOffset, in_path));
            }
            std::vector<float> imatrix;
            if (auto ip = a.value("imatrix")) {
              auto im = edgequant::MappedFile::open(*ip);
              if (!im) return fail(im.error());
              if (im->size() != *cols * sizeof(float)) {
                return fail(edgequant::make_error(
                    edgequant::Errc::kInvalid,
                    "imatrix has " + std::to_string(im->size()) + " bytes; expected " +
                        std::to_string(*cols) + " float32 (one per column)",
                    edgequant::kNoOffset, *ip));
              }
              imatrix.resize(*cols);
              std::memcpy(imatrix.data(), im->data(), im->size());
            }
            const std::size_t rows = n / *cols;
            // Aligned copy source: the mapping is page-aligned, so floats are aligned.
            const float* src = reinterpret_cast<const float*>(in->data());
            auto out = edgequant::AtomicFile::create(a.positional()[1]);
            if (!out) return fail(out.error());
            edgequant::QuantizeOptions opt;
            opt.importance = imatrix;
            opt.threads = static_cast<unsigned>(*threads);
            const std::size_t step = detail::chunk_rows(*cols);
            std::vector<std::byte> buf;
            Progress progress("quantize " + codec->name, rows);
            for (std::size_t r = 0; r < rows; r += step) {
              const std::size_t nr = std::min(step, rows - r);
              buf.resize(nr * codec->row_bytes(*cols));
              auto st = codec->quantize(std::span<const float>(src + r * *cols, nr * *cols), *cols,
                                        buf, opt);
              if (!st) {
                edgequant::Error e = std::move(st).error();
                if (e.offset != edgequant::kNoOffset) e.offset += r * *cols;
                if (e.code == edgequant::Errc::kNonFinite) {
                  e.what = "input value is not finite at element " + std::to_string(e.offset) +
                           " (row " + std::to_string(e.offset / *cols) + ", column " +
                           std::to_string(e.offset % *cols) + ")";
                  e.offset = e.offset * sizeof(float);  // byte offset in the file
                }
                return fail(std::move(e).in_file(in_path));
              }
              if (auto w = out->write(buf); !w) return fail(w.error());
              progress.update(r + nr, (r + nr) * *cols * sizeof(float));
            }
            progress.finish();
            if (auto c = out->commit(); !c) return fail(c.error());
            return 0;
          }};
}

inline Command dequantize_raw_command() {
  return {"dequantize-raw", "--type T --cols N [--threads K] IN.bin OUT.f32",
          "dequantize raw rows of one type to float32",
          {{"type", true, "type name (see `edgequant types`)"},
           {"cols", true, "row length N"},
           {"threads", true, "threads (default: all)"}},
          [](const Args& a) -> int {
            if (a.positional().size() != 2) return fail_usage("dequantize-raw needs IN.bin and OUT.f32");
            auto type = a.value("type");
            if (!type) return fail_usage("--type is required");
            auto codec = find_codec(*type);
            if (!codec) return fail(codec.error());
            auto cols = detail::cols_option(a);
            if (!cols) return fail(cols.error());
            auto threads = a.uint_value("threads", 0);
            if (!threads) return fail(threads.error());
            if (*cols % codec->block_elems != 0) {
              return fail(edgequant::make_error(
                  edgequant::Errc::kBadArgument,
                  "--cols " + std::to_string(*cols) + " is not a multiple of the " + codec->name +
                      " block size " + std::to_string(codec->block_elems)));
            }
            const std::string& in_path = a.positional()[0];
            auto in = edgequant::MappedFile::open(in_path);
            if (!in) return fail(in.error());
            const std::size_t rb = codec->row_bytes(*cols);
            if (in->size() % rb != 0) {
              return fail(edgequant::make_error(
                  edgequant::Errc::kInvalid,
                  "size " + std::to_string(in->size()) + " is not a whole number of " + codec->name +
                      " rows of " + std::to_string(*cols) + " (" + std::to_string(rb) + " bytes each)",
                  edgequant::kNoOffset, in_path));
            }
            const std::size_t rows = in->size() / rb;
            auto out = edgequant::AtomicFile::create(a.positional()[1]);
            if (!out) return fail(out.error());
            const std::size_t step = detail::chunk_rows(*cols);
            std::vector<float> buf;
            Progress progress("dequantize " + codec->name, rows);
            for (std::size_t r = 0; r < rows; r += step) {
              const std::size_t nr = std::min(step, rows - r);
              buf.resize(nr * *cols);
              auto st = codec->dequantize(in->bytes().subspan(r * rb, nr * rb), *cols, buf,
                                          static_cast<unsigned>(*threads));
              if (!st) return fail(std::move(st).error().in_file(in_path));
              if (auto w = out->write(buf.data(), buf.size() * sizeof(float)); !w) return fail(w.error());
              progress.update(r + nr, (r + nr) * rb);
            }
            progress.finish();
            if (auto c = out->commit(); !c) return fail(c.error());
            return 0;
          }};
}

}  // namespace eqcli
