// `inspect FILE` and `validate FILE...`: dispatch on the file's magic (or
// extension) to a per-format handler. A new format adds one entry to
// file_formats().
#pragma once

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cmd_inspect_onnx.hpp"
#include "cli/common.hpp"
#include "cli/cmd_inspect_tensors.hpp"
#include "cli/gguf_print.hpp"
#include "edgequant/formats/gguf.hpp"

namespace eqcli {

struct FileFormat {
  std::string_view name;
  // True if this handler owns the file (magic in `head`, or the extension).
  std::function<bool(std::span<const std::byte> head, std::string_view path)> sniff;
  std::function<int(const std::string& path, const InspectOptions&)> inspect;
  // Checks the whole file; on success a one-line summary.
  std::function<edgequant::Expected<std::string>(const std::string& path)> validate;
};

namespace detail {
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace detail

inline FileFormat gguf_file_format() {
  return {
      "gguf",
      [](std::span<const std::byte> head, std::string_view path) {
        const bool magic = head.size() >= 4 && (std::memcmp(head.data(), "GGUF", 4) == 0 ||
                                                std::memcmp(head.data(), "FUGG", 4) == 0);
        return magic || detail::ends_with(path, ".gguf");
      },
      [](const std::string& path, const InspectOptions& opt) -> int {
        auto r = edgequant::GgufReader<>::open_file(path);
        if (!r) return fail(r.error());
        const std::string out =
            opt.json ? gguf_print::json(*r, path, opt) : gguf_print::text(*r, path, opt);
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
      },
      [](const std::string& path) -> edgequant::Expected<std::string> {
        // A shard of a split set is checked together with the whole set.
        auto m = edgequant::GgufModel<>::open(path);
        if (!m) return std::move(m).error();
        std::string s = "GGUF v" + std::to_string(m->first().version()) + ", " +
                        std::to_string(m->metadata().size()) + " keys, " +
                        std::to_string(m->tensors().size()) + " tensors";
        if (m->shards().size() > 1)
          s += ", split set of " + std::to_string(m->shards().size()) + " files";
        return s;
      },
  };
}

// safetensors (file, index or Hugging Face folder), .npy and .npz.
inline FileFormat tensor_file_format() {
  return {
      "safetensors/npy/npz",
      [](std::span<const std::byte>, std::string_view path) {
        return detect_tensor_format(std::string(path)) != TensorFormat::kNone;
      },
      [](const std::string& path, const InspectOptions& opt) -> int {
        return inspect_tensor_file(path, opt.json).value_or(1);
      },
      [](const std::string& path) -> edgequant::Expected<std::string> {
        using namespace edgequant;
        switch (detect_tensor_format(path)) {
          case TensorFormat::kSafetensors: {
            auto m = safetensors::ShardedModel::open(path);
            if (!m) return std::move(m).error();
            return "safetensors, " + std::to_string(m->shards().size()) + " file(s), " +
                   std::to_string(m->tensors().size()) + " tensors, " +
                   std::to_string(m->total_size()) + " bytes";
          }
          case TensorFormat::kNpy: {
            auto f = npy::File::open(path);
            if (!f) return std::move(f).error();
            return "npy " + std::to_string(f->header().major) + "." +
                   std::to_string(f->header().minor) + ", descr " + f->header().descr.text() +
                   ", " + std::to_string(f->header().nbytes) + " bytes";
          }
          case TensorFormat::kNpz: {
            auto f = npz::File::open(path);
            if (!f) return std::move(f).error();
            for (const auto& e : f->entries()) {
              auto h = detail::npz_member_header(*f, e, path);
              if (!h) return std::move(h).error();
            }
            return "npz, " + std::to_string(f->entries().size()) + " members";
          }
          case TensorFormat::kNone:
            break;
        }
        return make_error(Errc::kUnsupported, "not a tensor file", kNoOffset, path);
      },
  };
}

// ONNX has no magic: the extension, or a ModelProto opening with a small
// ir_version (field 1, varint: 0x08 then 1..31) followed by another field key.
inline FileFormat onnx_file_format() {
  return {
      "onnx",
      [](std::span<const std::byte> head, std::string_view path) {
        const auto b = [&](std::size_t i) { return std::to_integer<unsigned>(head[i]); };
        const bool magic = head.size() >= 3 && b(0) == 0x08 && b(1) >= 1 && b(1) <= 31 &&
                           (b(2) == 0x12 || b(2) == 0x1a || b(2) == 0x22 || b(2) == 0x2a ||
                            b(2) == 0x3a || b(2) == 0x42);
        return magic || detail::ends_with(path, ".onnx");
      },
      [](const std::string& path, const InspectOptions& opt) -> int {
        return inspect_onnx(path, {opt.json});
      },
      [](const std::string& path) -> edgequant::Expected<std::string> {
        auto m = edgequant::onnx::read_model(path);
        if (!m) return std::move(m).error();
        const auto r = edgequant::onnx::validate(*m);
        if (!r.ok()) {
          for (const auto& f : r.findings) {
            if (f.error) {
              return edgequant::make_error(edgequant::Errc::kInvalid,
                                           f.where + ": " + f.what + " (" +
                                               std::to_string(r.errors()) + " errors)",
                                           edgequant::kNoOffset, path);
            }
          }
        }
        std::size_t nodes = m->graph ? m->graph->node.size() : 0;
        std::size_t inits = m->graph ? m->graph->initializer.size() : 0;
        return "ONNX IR " + std::to_string(m->ir_version) + ", " + std::to_string(nodes) +
               " nodes, " + std::to_string(inits) + " initializers, " +
               std::to_string(r.warnings()) + " warnings";
      },
  };
}

// Every format inspect/validate know, first match wins.
inline std::vector<FileFormat> file_formats() {
  return {
      gguf_file_format(),
      onnx_file_format(),
      tensor_file_format(),
  };
}

inline edgequant::Expected<FileFormat> find_format(const std::string& path) {
  std::byte head[64] = {};
  std::size_t n = 0;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    n = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
  } else {
    return edgequant::make_error(edgequant::Errc::kIo,
                                 std::string("cannot open: ") + std::strerror(errno),
                                 edgequant::kNoOffset, path);
  }
  for (auto& fmt : file_formats()) {
    if (fmt.sniff(std::span<const std::byte>(head, n), path)) return fmt;
  }
  std::string known;
  for (const auto& fmt : file_formats())
    known += (known.empty() ? "" : ", ") + std::string(fmt.name);
  return edgequant::make_error(edgequant::Errc::kBadMagic,
                               "unknown file format (known: " + known + ")", edgequant::kNoOffset,
                               path);
}

inline Command inspect_command() {
  return {"inspect",
          "[--json] [--tensors] [--full] FILE",
          "show a model file's metadata and tensors (GGUF, ONNX, safetensors/HF folder, NPY, NPZ)",
          {{"json", false, "one JSON document (schema edgequant.inspect/1, docs/gguf.md)"},
           {"tensors", false, "list every tensor: name, type, shape, offset, bytes"},
           {"full", false, "print arrays in full (default: first elements and the length)"}},
          [](const Args& a) -> int {
            if (a.positional().size() != 1) return fail_usage("inspect needs exactly one FILE");
            const std::string& path = a.positional()[0];
            auto fmt = find_format(path);
            if (!fmt) return fail(fmt.error());
            InspectOptions opt;
            opt.json = a.flag("json");
            opt.tensors = a.flag("tensors");
            opt.full = a.flag("full");
            return fmt->inspect(path, opt);
          }};
}

inline Command validate_command() {
  return {"validate",
          "[--json] FILE...",
          "check model files as hostile input; exit 0 only if every file is valid",
          {{"json", false, "one JSON document: {\"files\": [{\"file\", \"ok\", ...}]}"}},
          [](const Args& a) -> int {
            if (a.positional().empty()) return fail_usage("validate needs at least one FILE");
            const bool json = a.flag("json");
            int bad = 0;
            std::string out = json ? "{\"files\": [" : "";
            bool first = true;
            for (const auto& path : a.positional()) {
              auto fmt = find_format(path);
              auto res = fmt ? fmt->validate(path) : edgequant::Expected<std::string>(fmt.error());
              if (!res) ++bad;
              if (json) {
                out += first ? "\n  {" : ",\n  {";
                first = false;
                out += "\"file\": " + gguf_print::json_string(path) +
                       ", \"ok\": " + (res ? "true" : "false");
                if (fmt) out += ", \"format\": \"" + std::string(fmt->name) + "\"";
                if (res) {
                  out += ", \"summary\": " + gguf_print::json_string(*res);
                } else {
                  const auto& e = res.error();
                  out += ", \"code\": \"" + std::string(edgequant::errc_name(e.code)) + "\"";
                  if (e.offset != edgequant::kNoOffset)
                    out += ", \"offset\": " + std::to_string(e.offset);
                  out += ", \"error\": " + gguf_print::json_string(e.message());
                }
                out += "}";
              } else if (res) {
                std::printf("%s: ok (%s)\n", path.c_str(), res->c_str());
              } else {
                edgequant::Error e = res.error();
                e.file.clear();  // the line starts with the path already
                std::printf("%s: INVALID: %s\n", path.c_str(), e.message().c_str());
              }
            }
            if (json) {
              out += first ? "]}\n" : "\n]}\n";
              std::fwrite(out.data(), 1, out.size(), stdout);
            }
            return bad ? 1 : 0;
          }};
}

}  // namespace eqcli
