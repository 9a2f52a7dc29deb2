// edgequant: command-line tool over the header-only library. Every subcommand
// is registered in one table below.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cmd_bench.hpp"
#include "cli/cmd_convert.hpp"
#include "cli/cmd_demo.hpp"
#include "cli/cmd_gguf_split.hpp"
#include "cli/cmd_inspect.hpp"
#include "cli/cmd_inspect_onnx.hpp"
#include "cli/cmd_quantize_onnx.hpp"
#include "cli/cmd_raw.hpp"
#include "cli/cmd_types.hpp"
#include "cli/common.hpp"
#include "edgequant/io/atomic_file.hpp"
#include "edgequant/kernels.hpp"

namespace {

std::vector<eqcli::Command> commands() {
  return {
      eqcli::demo_command(),
      eqcli::types_command(),
      eqcli::quantize_raw_command(),
      eqcli::dequantize_raw_command(),
      eqcli::inspect_command(),
      eqcli::validate_command(),
      eqcli::gguf_split_command(),
      eqcli::gguf_merge_command(),
      eqcli::inspect_onnx_command(),
      eqcli::validate_onnx_command(),
      eqcli::bench_command(),
      eqcli::quantize_onnx_command(),
      eqcli::gguf_to_matmulnbits_command(),
      eqcli::convert_command(),
  };
}

void print_version() {
  std::printf("edgequant %s\n", EDGEQUANT_VERSION_STRING);
  std::string compiled, runnable;
  for (std::size_t i = 0; i < edgequant::kIsaCount; ++i) {
    const auto isa = static_cast<edgequant::Isa>(i);
    // Appended piecewise: `" " + std::string(...)` trips GCC 12's -Wrestrict
    // false positive at -O3 (GCC bug 105329).
    if (edgequant::compiled_isas() & edgequant::isa_bit(isa)) (compiled += ' ') += edgequant::isa_name(isa);
    if (edgequant::runnable_isas() & edgequant::isa_bit(isa)) (runnable += ' ') += edgequant::isa_name(isa);
  }
  std::printf("SIMD targets compiled:%s\nSIMD targets usable here:%s\nactive target: %s\n",
              compiled.c_str(), runnable.c_str(),
              std::string(edgequant::isa_name(edgequant::active_isa())).c_str());
}

void print_help(const std::vector<eqcli::Command>& cmds) {
  std::printf(
      "usage: edgequant <command> [options] [args]\n"
      "       edgequant --version | --help | <command> --help\n\n"
      "commands:\n");
  for (const auto& c : cmds) std::printf("  %-16s %s\n", std::string(c.name).c_str(), std::string(c.summary).c_str());
  std::printf(
      "\nenvironment:\n"
      "  EDGEQUANT_ISA=scalar|emu128|sse4|avx2|avx512|avx512_vnni|neon|sve|sve2\n"
      "                   force a SIMD target (results are identical on every target)\n");
}

void print_command_help(const eqcli::Command& c) {
  std::printf("usage: edgequant %s %s\n\n%s\n", std::string(c.name).c_str(), std::string(c.usage).c_str(),
              std::string(c.summary).c_str());
  if (!c.options.empty()) std::printf("\noptions:\n");
  for (const auto& o : c.options) {
    const std::string flag = "--" + o.name + (o.takes_value ? " X" : "");
    std::printf("  %-18s %s\n", flag.c_str(), o.help.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  edgequant::install_signal_cleanup();
  if (auto e = edgequant::isa_override_error(); !e.empty()) std::fprintf(stderr, "edgequant: warning: %s\n", e.c_str());
  const auto cmds = commands();
  if (argc < 2) {
    print_help(cmds);
    return 2;
  }
  const std::string first = argv[1];
  if (first == "--version" || first == "version") {
    print_version();
    return 0;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    if (argc > 2) {
      for (const auto& c : cmds) {
        if (c.name == argv[2]) {
          print_command_help(c);
          return 0;
        }
      }
    }
    print_help(cmds);
    return 0;
  }
  for (const auto& c : cmds) {
    if (c.name != first) continue;
    std::vector<std::string> rest(argv + 2, argv + argc);
    for (const auto& r : rest) {
      if (r == "--help" || r == "-h") {
        print_command_help(c);
        return 0;
      }
    }
    auto args = eqcli::Args::parse(rest, c.options);
    if (!args) return eqcli::fail(args.error());
    return c.run(*args);
  }
  std::fprintf(stderr, "edgequant: error: unknown command '%s' (see edgequant --help)\n", first.c_str());
  return 2;
}
