// `gguf-split` and `gguf-merge`: llama.cpp's gguf-split conventions
// (specs/gguf.md §8), streaming from the mapping, every output atomic.
#pragma once

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/common.hpp"
#include "edgequant/formats/gguf.hpp"

namespace eqcli {

namespace detail {
// "4G", "500M", "64K" (powers of 1000, as gguf-split) or plain bytes.
inline edgequant::Expected<std::uint64_t> parse_size(const std::string& s) {
  auto bad = [&] {
    return edgequant::make_error(edgequant::Errc::kBadArgument,
                                 "--split-max-size needs N, NK, NM or NG (N > 0), got '" + s + "'");
  };
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return bad();
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(s, &used);
  } catch (...) {
    return bad();
  }
  std::uint64_t mult = 1;
  const std::string unit = s.substr(used);
  if (unit == "K")
    mult = 1000;
  else if (unit == "M")
    mult = 1000 * 1000;
  else if (unit == "G")
    mult = 1000ull * 1000 * 1000;
  else if (!unit.empty())
    return bad();
  auto bytes = edgequant::checked_mul<std::uint64_t>(n, mult);
  if (!bytes || *bytes == 0) return bad();
  return *bytes;
}

inline bool refuse_existing(const std::string& path, bool force) {
  if (force || !std::filesystem::exists(path)) return false;
  std::fprintf(stderr, "edgequant: error: %s exists (use --force to replace it)\n", path.c_str());
  return true;
}
}  // namespace detail

inline Command gguf_split_command() {
  return {
      "gguf-split",
      "[--split-max-size N(K|M|G)] [--split-max-tensors N] [--no-tensor-first-split] [--dry-run] "
      "[--force] IN.gguf OUT_PREFIX",
      "split a GGUF model (or re-split a set) into OUT_PREFIX-0000i-of-0000N.gguf",
      {{"split-max-size", true, "max tensor data per shard (K/M/G = 10^3/10^6/10^9 bytes)"},
       {"split-max-tensors", true, "max tensors per shard (default 128)"},
       {"no-tensor-first-split", false, "first shard holds metadata only"},
       {"dry-run", false, "print the plan, write nothing"},
       {"force", false, "replace existing output files"}},
      [](const Args& a) -> int {
        if (a.positional().size() != 2)
          return fail_usage("gguf-split needs IN.gguf and OUT_PREFIX");
        if (a.value("split-max-size") && a.value("split-max-tensors")) {
          return fail_usage("use --split-max-size or --split-max-tensors, not both");
        }
        edgequant::gguf::SplitOptions opt;
        if (auto s = a.value("split-max-size")) {
          auto n = detail::parse_size(*s);
          if (!n) return fail(n.error());
          opt.max_bytes = *n;
        }
        auto mt = a.uint_value("split-max-tensors", edgequant::gguf::kSplitDefaultMaxTensors);
        if (!mt) return fail(mt.error());
        if (*mt == 0) return fail_usage("--split-max-tensors must be > 0");
        opt.max_tensors = *mt;
        opt.no_tensor_first_split = a.flag("no-tensor-first-split");
        auto in = edgequant::GgufModel<>::open(a.positional()[0]);
        if (!in) return fail(in.error());
        auto plan = edgequant::gguf::plan_split(*in, opt);
        if (!plan) return fail(plan.error());
        const auto count = static_cast<std::uint32_t>(plan->shards.size());
        const std::string& prefix = a.positional()[1];
        for (std::uint32_t s = 0; s < count; ++s) {
          auto p = edgequant::gguf::plan(plan->shards[s]);
          if (!p) return fail(p.error());
          std::printf("%s: %zu tensors, %llu bytes\n",
                      edgequant::gguf::split_path(prefix, s, count).c_str(),
                      plan->tensors[s].size(), static_cast<unsigned long long>(p->file_bytes()));
        }
        if (a.flag("dry-run")) return 0;
        for (std::uint32_t s = 0; s < count; ++s) {
          if (detail::refuse_existing(edgequant::gguf::split_path(prefix, s, count),
                                      a.flag("force")))
            return 1;
        }
        Progress bar("split", in->data_bytes());
        opt.progress = [&](std::uint64_t done, std::uint64_t) { bar.update(done, done); };
        auto out = edgequant::gguf::split(*in, prefix, opt);
        bar.finish();
        if (!out) return fail(out.error());
        std::printf("wrote %u files\n", count);
        return 0;
      }};
}

inline Command gguf_merge_command() {
  return {"gguf-merge",
          "[--force] IN-00001-of-0000N.gguf OUT.gguf",
          "merge a gguf-split set into one GGUF file",
          {{"force", false, "replace an existing output file"}},
          [](const Args& a) -> int {
            if (a.positional().size() != 2)
              return fail_usage("gguf-merge needs the first shard and OUT.gguf");
            auto in = edgequant::GgufModel<>::open(a.positional()[0]);
            if (!in) return fail(in.error());
            const std::string& out = a.positional()[1];
            if (detail::refuse_existing(out, a.flag("force"))) return 1;
            Progress bar("merge", in->data_bytes());
            auto st = edgequant::gguf::merge(
                *in, out, [&](std::uint64_t done, std::uint64_t) { bar.update(done, done); });
            bar.finish();
            if (!st) return fail(st.error());
            std::printf("%s: merged %zu files, %zu tensors\n", out.c_str(), in->shards().size(),
                        in->tensors().size());
            return 0;
          }};
}

}  // namespace eqcli
