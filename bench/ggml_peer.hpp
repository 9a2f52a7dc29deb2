// ggml itself as a peer, loaded at run time: dlopens the shared libraries that
// node-llama-cpp ships (libggml-base.so + one libggml-cpu-<variant>.so) and
// resolves the few C API functions the side-by-side benchmark and the
// conformance cross-check need. Nothing links against ggml.
#pragma once

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "edgequant/kernels/isa.hpp"

namespace eqpeer {

// Declarations of the parts of ggml's public C API we call (include/ggml.h,
// include/ggml-cpu.h); layouts checked at load time against known type sizes.
extern "C" {
using ggml_to_float_t = void (*)(const void* x, float* y, std::int64_t k);
using ggml_from_float_t = void (*)(const float* x, void* y, std::int64_t k);
struct ggml_type_traits {
  const char* type_name;
  std::int64_t blck_size;
  std::int64_t blck_size_interleave;
  std::size_t type_size;
  bool is_quantized;
  ggml_to_float_t to_float;
  ggml_from_float_t from_float_ref;
};
struct ggml_type_traits_cpu {
  ggml_from_float_t from_float;
  void* vec_dot;
  int vec_dot_type;
  std::int64_t nrows;
};
}

class GgmlPeer {
 public:
  using QuantizeChunkFn = std::size_t (*)(int type, const float* src, void* dst, std::int64_t start,
                                          std::int64_t nrows, std::int64_t n_per_row,
                                          const float* imatrix);

  // Folder of the libraries: $EDGEQUANT_GGML_LIB_DIR, else node-llama-cpp's
  // prebuilt binaries under ~/.cache/edgequant/node (scripts/npm-deps).
  static std::string default_dir() {
    if (const char* env = std::getenv("EDGEQUANT_GGML_LIB_DIR"); env && *env) return env;
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "") +
           "/.cache/edgequant/node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64";
  }

  // The libggml-cpu variant for this CPU ($EDGEQUANT_GGML_CPU_VARIANT overrides).
  static std::string cpu_variant() {
    if (const char* env = std::getenv("EDGEQUANT_GGML_CPU_VARIANT"); env && *env) return env;
    const edgequant::IsaMask m = edgequant::cpu_isas();
    if (m & edgequant::isa_bit(edgequant::Isa::kAvx512)) return "skylakex";
    if (m & edgequant::isa_bit(edgequant::Isa::kAvx2)) return "haswell";
    if (m & edgequant::isa_bit(edgequant::Isa::kSse4)) return "sse42";
    return "x64";
  }

  // Loads ggml from `dir`; ok() is false (and error() says why) when absent.
  explicit GgmlPeer(const std::string& dir = default_dir()) {
    const std::string base_path = dir + "/libggml-base.so";
    const std::string cpu_path = dir + "/libggml-cpu-" + cpu_variant() + ".so";
    if (!std::filesystem::exists(base_path)) {
      error_ =
          "ggml not found: " + base_path + " (run scripts/npm-deps or set EDGEQUANT_GGML_LIB_DIR)";
      return;
    }
    base_ = dlopen(base_path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!base_) {
      error_ = std::string("dlopen failed: ") + dlerror();
      return;
    }
    if (std::filesystem::exists(cpu_path)) cpu_ = dlopen(cpu_path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    quantize_chunk = sym<QuantizeChunkFn>(base_, "ggml_quantize_chunk");
    quantize_init = sym<void (*)(int)>(base_, "ggml_quantize_init");
    get_type_traits = sym<const ggml_type_traits* (*)(int)>(base_, "ggml_get_type_traits");
    row_size = sym<std::size_t (*)(int, std::int64_t)>(base_, "ggml_row_size");
    if (cpu_) {
      cpu_init = sym<void (*)()>(cpu_, "ggml_cpu_init");
      get_type_traits_cpu =
          sym<const ggml_type_traits_cpu* (*)(int)>(cpu_, "ggml_get_type_traits_cpu");
      if (cpu_init) cpu_init();
    }
    if (!quantize_chunk || !quantize_init || !get_type_traits || !row_size) {
      error_ = "ggml-base lacks an expected symbol";
      return;
    }
    // The struct layout we declared must match this build: Q4_0 is 32 x 18 bytes.
    const ggml_type_traits* t = get_type_traits(2);
    if (!t || t->blck_size != 32 || t->type_size != 18 || row_size(2, 4096) != 2304) {
      error_ = "ggml_type_traits layout differs from the one declared here";
      return;
    }
    ok_ = true;
  }
  GgmlPeer(const GgmlPeer&) = delete;
  GgmlPeer& operator=(const GgmlPeer&) = delete;
  // The libraries stay loaded: ggml keeps global state (thread pools, tables).

  bool ok() const noexcept { return ok_; }
  bool has_cpu() const noexcept { return ok_ && get_type_traits_cpu != nullptr; }
  const std::string& error() const noexcept { return error_; }
  std::string cpu_library() const { return "libggml-cpu-" + cpu_variant() + ".so"; }

  ggml_to_float_t to_float(int type) const {
    const ggml_type_traits* t = get_type_traits(type);
    return t ? t->to_float : nullptr;
  }
  ggml_from_float_t cpu_from_float(int type) const {
    if (!has_cpu()) return nullptr;
    const ggml_type_traits_cpu* t = get_type_traits_cpu(type);
    return t ? t->from_float : nullptr;
  }

  QuantizeChunkFn quantize_chunk = nullptr;
  void (*quantize_init)(int) = nullptr;
  const ggml_type_traits* (*get_type_traits)(int) = nullptr;
  std::size_t (*row_size)(int, std::int64_t) = nullptr;
  void (*cpu_init)() = nullptr;
  const ggml_type_traits_cpu* (*get_type_traits_cpu)(int) = nullptr;

 private:
  template <class F>
  static F sym(void* lib, const char* name) {
    return reinterpret_cast<F>(dlsym(lib, name));
  }

  void* base_ = nullptr;
  void* cpu_ = nullptr;
  bool ok_ = false;
  std::string error_;
};

// One process-wide instance (ggml's state is global anyway).
inline GgmlPeer& ggml_peer() {
  static GgmlPeer peer;
  return peer;
}

}  // namespace eqpeer
