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
                std::printf(
                    "%s\n  {\"name\": \"%s\", \"family\": \"%s\", \"id\": %u, \"block_size\": %zu, "
                    "\"type_size\": %zu, \"bpw\": %.6g, \"requires_imatrix\": %s}",
                    i ? "," : "", json_escape(c.name).c_str(), c.family.c_str(), c.id,
                    c.block_elems, c.block_bytes, c.bpw(), c.requires_importance ? "true" : "false");
              }
              std::printf("\n]}\n");
              return 0;
            }
            std::printf("%-12s %-6s %4s %6s %6s %8s  %s\n", "type", "family", "id", "block",
                        "bytes", "bpw", "notes");
            for (const auto& c : codecs) {
              std::printf("%-12s %-6s %4u %6zu %6zu %8.4f  %s\n", c.name.c_str(), c.family.c_str(),
                          c.id, c.block_elems, c.block_bytes, c.bpw(),
                          c.requires_importance ? "needs --imatrix" : "");
            }
            return 0;
          }};
}

}  // namespace eqcli
