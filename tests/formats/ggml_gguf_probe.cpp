// Test oracle: reads a GGUF file with ggml's own gguf reader (libggml-base.so,
// loaded at run time) and prints what ggml sees; optionally writes ggml's
// re-encoding of the metadata (gguf_get_meta_data). A separate process, so a
// crash or abort inside ggml can never take the test binary down.
//   ggml_gguf_probe LIBGGML_BASE.so FILE [META_OUT]
// Exit: 0 parsed, 3 ggml rejected the file, 2 library or usage problem.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

struct gguf_context;
struct ggml_context;
struct InitParams {  // struct gguf_init_params (gguf.h)
  bool no_alloc;
  ggml_context** ctx;
};

template <class F>
F sym(void* lib, const char* name) {
  void* p = dlsym(lib, name);
  if (!p) {
    std::fprintf(stderr, "probe: missing symbol %s\n", name);
    std::_Exit(2);
  }
  return reinterpret_cast<F>(p);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ggml_gguf_probe LIBGGML_BASE.so FILE [META_OUT]\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "probe: %s\n", dlerror());
    return 2;
  }
  auto init = sym<gguf_context* (*)(const char*, InitParams)>(lib, "gguf_init_from_file");
  auto free_ctx = sym<void (*)(gguf_context*)>(lib, "gguf_free");
  auto version = sym<std::uint32_t (*)(const gguf_context*)>(lib, "gguf_get_version");
  auto alignment = sym<std::size_t (*)(const gguf_context*)>(lib, "gguf_get_alignment");
  auto data_offset = sym<std::size_t (*)(const gguf_context*)>(lib, "gguf_get_data_offset");
  auto n_kv = sym<std::int64_t (*)(const gguf_context*)>(lib, "gguf_get_n_kv");
  auto key = sym<const char* (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_key");
  auto kv_type = sym<int (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_kv_type");
  auto arr_type = sym<int (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_arr_type");
  auto arr_n = sym<std::size_t (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_arr_n");
  auto n_tensors = sym<std::int64_t (*)(const gguf_context*)>(lib, "gguf_get_n_tensors");
  auto t_name =
      sym<const char* (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_tensor_name");
  auto t_type = sym<int (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_tensor_type");
  auto t_offset =
      sym<std::size_t (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_tensor_offset");
  auto t_size =
      sym<std::size_t (*)(const gguf_context*, std::int64_t)>(lib, "gguf_get_tensor_size");
  auto meta_size = sym<std::size_t (*)(const gguf_context*)>(lib, "gguf_get_meta_size");
  auto meta_data = sym<void (*)(const gguf_context*, void*)>(lib, "gguf_get_meta_data");

  gguf_context* ctx = init(argv[2], InitParams{true, nullptr});
  if (!ctx) {
    std::printf("rejected\n");
    return 3;
  }
  std::printf(
      "ok version=%u alignment=%zu data_offset=%zu n_kv=%lld n_tensors=%lld meta_size=%zu\n",
      version(ctx), alignment(ctx), data_offset(ctx), static_cast<long long>(n_kv(ctx)),
      static_cast<long long>(n_tensors(ctx)), meta_size(ctx));
  for (std::int64_t i = 0; i < n_kv(ctx); ++i) {
    const int t = kv_type(ctx, i);
    if (t == 9) {
      std::printf("kv %d %d %zu %s\n", t, arr_type(ctx, i), arr_n(ctx, i), key(ctx, i));
    } else {
      std::printf("kv %d - - %s\n", t, key(ctx, i));
    }
  }
  for (std::int64_t i = 0; i < n_tensors(ctx); ++i) {
    std::printf("t %d %zu %zu %s\n", t_type(ctx, i), t_offset(ctx, i), t_size(ctx, i),
                t_name(ctx, i));
  }
  if (argc > 3) {
    std::vector<unsigned char> meta(meta_size(ctx));
    meta_data(ctx, meta.data());
    std::FILE* f = std::fopen(argv[3], "wb");
    if (!f || std::fwrite(meta.data(), 1, meta.size(), f) != meta.size()) return 2;
    std::fclose(f);
  }
  free_ctx(ctx);
  return 0;
}
