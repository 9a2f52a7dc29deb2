// `edgequant types [--json]`: every supported type with id, block size, bytes, bpw.
#pragma once

#include <cstdio>

#include "cli/codecs.hpp"
#include "cli/common.hpp"

namespace eqcli {

inline Command types_command() {
  return {"types", "[--json]", "list the supported quantization types",
          {{"json", false, "one JSON document: {\"types\": [...]}"}},
          [](const Args& a) -> int {
            const auto codecs = all_codecs();
            if (a.flag("json")) {
              std::printf("{\"types\": [");
              for (std::size_t i = 0; i < codecs.size(); ++i) {
                const auto& c = codecs[i];
                const std::string id = c.family == "ggml" ? std::to_string(c.id) : "null";
                std::printf(
                    "%s\n  {\"name\": \"%s\", \"family\": \"%s\", \"id\": %s, \"block_size\": %zu, "
                    "\"type_size\": %zu, \"bpw\": %.6g, \"requires_imatrix\": %s}",
                    i ? "," : "", json_escape(c.name).c_str(), c.family.c_str(), id.c_str(),
                    c.block_elems, c.block_bytes, c.bpw(),
                    c.requires_importance ? "true" : "false");
              }
              std::printf("\n]}\n");
              return 0;
            }
            std::printf("%-12s %-6s %4s %6s %6s %8s  %s\n", "type", "family", "id", "block",
                        "bytes", "bpw", "notes");
            for (const auto& c : codecs) {
              if (c.family != "ggml") continue;
              std::printf("%-12s %-6s %4u %6zu %6zu %8.4f  %s\n", c.name.c_str(), c.family.c_str(),
                          c.id, c.block_elems, c.block_bytes, c.bpw(),
                          c.requires_importance ? "needs --imatrix" : "");
            }
            // Plane schemes: group = elements per scale (1: any row length),
            // bytes = raw bytes of one group (a 256-element row if per
            // channel), bpw at 4096 columns.
            std::printf("\n%-26s %-6s %6s %6s %8s  %s\n", "type (plane schemes)", "family", "group",
                        "bytes", "bpw", "notes");
            for (const auto& c : codecs) {
              if (c.family == "ggml") continue;
              std::printf("%-26s %-6s %6zu %6zu %8.4f  %s\n", c.name.c_str(), c.family.c_str(),
                          c.block_elems, c.block_bytes, c.bpw(), c.notes.c_str());
            }
            return 0;
          }};
}

}  // namespace eqcli
