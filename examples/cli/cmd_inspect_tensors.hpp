// `edgequant inspect` for tensor containers: .safetensors files, Hugging Face
// folders (sharded or not), .npy and .npz. Human table or --json. The
// inspect_* functions are meant to be called by a shared `inspect` command
// that also handles GGUF; inspect_tensor_file() says whether a path is ours.
#pragma once

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "edgequant/formats/hf_sharded.hpp"
#include "edgequant/formats/npy.hpp"
#include "edgequant/formats/npz.hpp"
#include "edgequant/formats/safetensors.hpp"
#include "edgequant/io/mapped_file.hpp"

namespace eqcli {

enum class TensorFormat { kNone, kSafetensors, kNpy, kNpz };

// By name, or by the first bytes when the name does not say: "\x93NUMPY" is
// npy, "PK" a zip (npz), a u64 length then '{' safetensors; a folder is a
// (possibly sharded) safetensors model.
inline TensorFormat detect_tensor_format(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return TensorFormat::kSafetensors;
  if (path.ends_with(".safetensors") || path.ends_with(".index.json"))
    return TensorFormat::kSafetensors;
  if (path.ends_with(".npy")) return TensorFormat::kNpy;
  if (path.ends_with(".npz")) return TensorFormat::kNpz;
  unsigned char head[9] = {};
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    const std::size_t n = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    if (n >= 6 && std::memcmp(head, edgequant::npy::kMagic, 6) == 0) return TensorFormat::kNpy;
    if (n >= 4 && head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5))
      return TensorFormat::kNpz;
    // safetensors has no magic: a small header length, then the JSON's '{'.
    if (n == 9 && head[8] == '{' && head[6] == 0 && head[7] == 0) return TensorFormat::kSafetensors;
  }
  return TensorFormat::kNone;
}

namespace detail {

inline std::string shape_text(const std::vector<std::uint64_t>& shape, bool json) {
  std::string s = json ? "[" : "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += json ? ", " : ", ";
    s += std::to_string(shape[i]);
  }
  if (!json && shape.size() == 1) s += ",";
  return s + (json ? "]" : ")");
}

inline std::string human_bytes(std::uint64_t b) {
  char buf[32];
  if (b < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  } else if (b < (1ull << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  } else if (b < (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1 << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1 << 30));
  }
  return buf;
}

inline std::string metadata_json(const edgequant::safetensors::Metadata& md) {
  if (md.form != edgequant::safetensors::Metadata::Form::kObject) return "null";  // absent or null
  std::string s = "{";
  for (std::size_t i = 0; i < md.entries.size(); ++i) {
    if (i) s += ", ";
    s += "\"" + json_escape(md.entries[i].first) + "\": \"" + json_escape(md.entries[i].second) +
         "\"";
  }
  return s + "}";
}

// A member's npy header, inflating only its first bytes when deflated.
inline edgequant::Expected<edgequant::npy::Header> npz_member_header(
    const edgequant::npz::File& f, const edgequant::zip::Entry& e, const std::string& path) {
  using namespace edgequant;
  const std::string where = path + ":" + e.name;
  if (e.method == zip::kStored) return npy::parse_header(f.archive().raw(e), {}, where);
  auto head = zip::inflate(f.archive(), e, {}, 12 + npy::Limits{}.max_header_bytes);
  if (!head) return std::move(head).error();
  return npy::parse_header_only(*head, {}, where);
}

}  // namespace detail

// A .safetensors file, an index file, or a folder: every shard is validated.
inline int inspect_safetensors(const std::string& path, bool json) {
  using namespace edgequant::safetensors;
  auto m = ShardedModel::open(path);
  if (!m) return fail(m.error());
  const auto shards = m->shards();
  if (json) {
    std::printf(
        "{\"format\": \"safetensors\", \"path\": \"%s\", \"index\": %s,\n \"shards\": [",
        json_escape(path).c_str(),
        m->index_path().empty() ? "null" : ("\"" + json_escape(m->index_path()) + "\"").c_str());
    for (std::size_t i = 0; i < shards.size(); ++i) {
      const auto& h = shards[i].header();
      std::printf(
          "%s\n  {\"file\": \"%s\", \"header_bytes\": %llu, \"data_offset\": %llu, \"data_bytes\": "
          "%llu, "
          "\"tensors\": %zu, \"metadata\": %s}",
          i ? "," : "", json_escape(shards[i].path()).c_str(),
          static_cast<unsigned long long>(h.header_len),
          static_cast<unsigned long long>(h.data_offset),
          static_cast<unsigned long long>(h.data_size), h.tensors.size(),
          detail::metadata_json(h.metadata).c_str());
    }
    std::printf(
        "],\n \"total_size\": %llu, \"declared_total_size\": %s,\n \"tensors\": [",
        static_cast<unsigned long long>(m->total_size()),
        m->declared_total_size() ? std::to_string(*m->declared_total_size()).c_str() : "null");
    std::size_t i = 0;
    for (const auto& e : m->tensors()) {
      std::printf(
          "%s\n  {\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": %s, \"bytes\": %llu, \"offset\": "
          "%llu, "
          "\"shard\": %u}",
          i++ ? "," : "", json_escape(e.info->name).c_str(),
          std::string(dtype_name(e.info->dtype)).c_str(),
          detail::shape_text(e.info->shape, true).c_str(),
          static_cast<unsigned long long>(e.info->nbytes()),
          static_cast<unsigned long long>(shards[e.shard].header().data_offset + e.info->begin),
          e.shard);
    }
    std::printf("\n]}\n");
    return 0;
  }
  std::printf("%s: safetensors, %zu file%s%s\n", path.c_str(), shards.size(),
              shards.size() == 1 ? "" : "s",
              m->index_path().empty() ? "" : (", index " + m->index_path()).c_str());
  for (const auto& s : shards) {
    const auto& h = s.header();
    std::printf("  %s: header %llu bytes, data at %llu, %zu tensors, %s\n", s.path().c_str(),
                static_cast<unsigned long long>(h.header_len),
                static_cast<unsigned long long>(h.data_offset), h.tensors.size(),
                detail::human_bytes(h.data_size).c_str());
    if (h.metadata.form == Metadata::Form::kNull) std::printf("    metadata: null\n");
    for (const auto& [k, v] : h.metadata.entries)
      std::printf("    metadata %s = %s\n", k.c_str(), v.c_str());
  }
  std::printf("total: %zu tensors, %s (%llu bytes)", m->tensors().size(),
              detail::human_bytes(m->total_size()).c_str(),
              static_cast<unsigned long long>(m->total_size()));
  if (m->declared_total_size() && *m->declared_total_size() != m->total_size()) {
    std::printf("; index declares total_size %llu (informative, differs)",
                static_cast<unsigned long long>(*m->declared_total_size()));
  }
  std::printf("\n%-48s %-8s %-22s %12s %12s %s\n", "name", "dtype", "shape", "bytes", "offset",
              "shard");
  for (const auto& e : m->tensors()) {
    std::printf(
        "%-48s %-8s %-22s %12llu %12llu %u\n", e.info->name.c_str(),
        std::string(dtype_name(e.info->dtype)).c_str(),
        detail::shape_text(e.info->shape, false).c_str(),
        static_cast<unsigned long long>(e.info->nbytes()),
        static_cast<unsigned long long>(shards[e.shard].header().data_offset + e.info->begin),
        e.shard);
  }
  return 0;
}

inline int inspect_npy(const std::string& path, bool json) {
  auto f = edgequant::npy::File::open(path);
  if (!f) return fail(f.error());
  const auto& h = f->header();
  if (json) {
    std::printf(
        "{\"format\": \"npy\", \"path\": \"%s\", \"version\": \"%u.%u\", \"descr\": \"%s\", "
        "\"fortran_order\": %s, \"shape\": %s, \"data_offset\": %llu, \"bytes\": %llu}\n",
        json_escape(path).c_str(), h.major, h.minor, json_escape(h.descr.text()).c_str(),
        h.fortran_order ? "true" : "false", detail::shape_text(h.shape, true).c_str(),
        static_cast<unsigned long long>(h.data_offset), static_cast<unsigned long long>(h.nbytes));
    return 0;
  }
  std::printf("%s: npy %u.%u, descr %s, %s order, shape %s, data at %llu, %s\n", path.c_str(),
              h.major, h.minor, h.descr.text().c_str(), h.fortran_order ? "Fortran" : "C",
              detail::shape_text(h.shape, false).c_str(),
              static_cast<unsigned long long>(h.data_offset),
              detail::human_bytes(h.nbytes).c_str());
  return 0;
}

// Reads each member's npy header (inflating only its first bytes when
// deflated); a member that fails is reported and makes the exit status 1.
inline int inspect_npz(const std::string& path, bool json) {
  using namespace edgequant;
  auto f = npz::File::open(path);
  if (!f) return fail(f.error());
  struct Row {
    const zip::Entry* e;
    Expected<npy::Header> h;
  };
  std::vector<Row> rows;
  int status = 0;
  for (const auto& e : f->entries()) {
    Expected<npy::Header> h = detail::npz_member_header(*f, e, path);
    if (!h) status = 1;
    rows.push_back({&e, std::move(h)});
  }
  if (json) {
    std::printf("{\"format\": \"npz\", \"path\": \"%s\", \"members\": [",
                json_escape(path).c_str());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::printf(
          "%s\n  {\"name\": \"%s\", \"key\": \"%s\", \"method\": \"%s\", \"compressed_size\": "
          "%llu, "
          "\"uncompressed_size\": %llu, ",
          i ? "," : "", json_escape(r.e->name).c_str(), json_escape(npz::key_of(r.e->name)).c_str(),
          r.e->method == zip::kStored ? "stored" : "deflated",
          static_cast<unsigned long long>(r.e->compressed_size),
          static_cast<unsigned long long>(r.e->uncompressed_size));
      if (r.h) {
        std::printf("\"descr\": \"%s\", \"fortran_order\": %s, \"shape\": %s}",
                    json_escape(r.h->descr.text()).c_str(), r.h->fortran_order ? "true" : "false",
                    detail::shape_text(r.h->shape, true).c_str());
      } else {
        std::printf("\"error\": \"%s\", \"error_code\": \"%s\"}",
                    json_escape(r.h.error().message()).c_str(),
                    std::string(errc_name(r.h.error().code)).c_str());
      }
    }
    std::printf("\n]}\n");
    return status;
  }
  std::printf("%s: npz, %zu members\n", path.c_str(), rows.size());
  std::printf("%-32s %-9s %-6s %-22s %12s %12s\n", "key", "method", "descr", "shape", "stored",
              "bytes");
  for (const auto& r : rows) {
    if (!r.h) {
      std::printf("%-32s error: %s\n", std::string(npz::key_of(r.e->name)).c_str(),
                  r.h.error().message().c_str());
      continue;
    }
    std::printf("%-32s %-9s %-6s %-22s %12llu %12llu\n",
                std::string(npz::key_of(r.e->name)).c_str(),
                r.e->method == zip::kStored ? "stored" : "deflated", r.h->descr.text().c_str(),
                detail::shape_text(r.h->shape, false).c_str(),
                static_cast<unsigned long long>(r.e->compressed_size),
                static_cast<unsigned long long>(r.e->uncompressed_size));
  }
  return status;
}

// nullopt when `path` is none of these formats (GGUF and others are then the
// shared inspect command's business); otherwise the exit status.
inline std::optional<int> inspect_tensor_file(const std::string& path, bool json) {
  switch (detect_tensor_format(path)) {
    case TensorFormat::kSafetensors:
      return inspect_safetensors(path, json);
    case TensorFormat::kNpy:
      return inspect_npy(path, json);
    case TensorFormat::kNpz:
      return inspect_npz(path, json);
    case TensorFormat::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace eqcli
