// ggml type ids and their static properties (specs/ggml-quants.md §1). Pure data:
// GGUF readers use it without pulling in any kernel.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgequant {

// `enum ggml_type` values as stored in GGUF tensor infos (int32).
enum class GgmlType : std::uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
  kNVFP4 = 40,
  kQ1_0 = 41,
  kQ2_0 = 42,
};

inline constexpr std::uint32_t kGgmlTypeCount = 43;  // GGML_TYPE_COUNT at ggml d99724f2

struct GgmlTypeInfo {
  std::string_view name;      // ggml_type_name spelling ("q4_K")
  std::uint32_t block_elems;  // 0: removed / unknown id
  std::uint32_t block_bytes;
  bool quantized;         // block-quantized (vs plain scalar elements)
  bool weight;            // accepted by ggml_quantize_chunk (or F32 memcpy)
  bool requires_imatrix;  // ggml_quantize_requires_imatrix
  GgmlType vec_dot_type;  // activation type of the CPU dot product
};

namespace detail {
constexpr std::array<GgmlTypeInfo, kGgmlTypeCount> make_ggml_type_table() {
  std::array<GgmlTypeInfo, kGgmlTypeCount> t{};
  auto set = [&](GgmlType id, std::string_view name, std::uint32_t be, std::uint32_t bb, bool q,
                 bool w, bool imat, GgmlType vd) {
    t[static_cast<std::uint32_t>(id)] = GgmlTypeInfo{name, be, bb, q, w, imat, vd};
  };
  using G = GgmlType;
  set(G::kF32, "f32", 1, 4, false, true, false, G::kF32);
  set(G::kF16, "f16", 1, 2, false, true, false, G::kF16);
  set(G::kQ4_0, "q4_0", 32, 18, true, true, false, G::kQ8_0);
  set(G::kQ4_1, "q4_1", 32, 20, true, true, false, G::kQ8_1);
  set(G::kQ5_0, "q5_0", 32, 22, true, true, false, G::kQ8_0);
  set(G::kQ5_1, "q5_1", 32, 24, true, true, false, G::kQ8_1);
  set(G::kQ8_0, "q8_0", 32, 34, true, true, false, G::kQ8_0);
  set(G::kQ8_1, "q8_1", 32, 36, true, false, false, G::kQ8_1);
  set(G::kQ2_K, "q2_K", 256, 84, true, true, false, G::kQ8_K);
  set(G::kQ3_K, "q3_K", 256, 110, true, true, false, G::kQ8_K);
  set(G::kQ4_K, "q4_K", 256, 144, true, true, false, G::kQ8_K);
  set(G::kQ5_K, "q5_K", 256, 176, true, true, false, G::kQ8_K);
  set(G::kQ6_K, "q6_K", 256, 210, true, true, false, G::kQ8_K);
  set(G::kQ8_K, "q8_K", 256, 292, true, false, false, G::kQ8_K);
  set(G::kIQ2_XXS, "iq2_xxs", 256, 66, true, true, true, G::kQ8_K);
  set(G::kIQ2_XS, "iq2_xs", 256, 74, true, true, true, G::kQ8_K);
  set(G::kIQ3_XXS, "iq3_xxs", 256, 98, true, true, false, G::kQ8_K);
  set(G::kIQ1_S, "iq1_s", 256, 50, true, true, true, G::kQ8_K);
  set(G::kIQ4_NL, "iq4_nl", 32, 18, true, true, false, G::kQ8_0);
  set(G::kIQ3_S, "iq3_s", 256, 110, true, true, false, G::kQ8_K);
  set(G::kIQ2_S, "iq2_s", 256, 82, true, true, false, G::kQ8_K);
  set(G::kIQ4_XS, "iq4_xs", 256, 136, true, true, false, G::kQ8_K);
  set(G::kI8, "i8", 1, 1, false, false, false, G::kI8);
  set(G::kI16, "i16", 1, 2, false, false, false, G::kI16);
  set(G::kI32, "i32", 1, 4, false, false, false, G::kI32);
  set(G::kI64, "i64", 1, 8, false, false, false, G::kI64);
  set(G::kF64, "f64", 1, 8, false, false, false, G::kF64);
  set(G::kIQ1_M, "iq1_m", 256, 56, true, true, false, G::kQ8_K);
  set(G::kBF16, "bf16", 1, 2, false, true, false, G::kBF16);
  set(G::kTQ1_0, "tq1_0", 256, 54, true, true, false, G::kQ8_K);
  set(G::kTQ2_0, "tq2_0", 256, 66, true, true, false, G::kQ8_K);
  set(G::kMXFP4, "mxfp4", 32, 17, true, true, false, G::kQ8_0);
  set(G::kNVFP4, "nvfp4", 64, 36, true, true, false, G::kQ8_0);
  set(G::kQ1_0, "q1_0", 128, 18, true, true, false, G::kQ8_0);
  set(G::kQ2_0, "q2_0", 64, 18, true, true, false, G::kQ8_0);
  return t;
}
}  // namespace detail

inline constexpr std::array<GgmlTypeInfo, kGgmlTypeCount> kGgmlTypes =
    detail::make_ggml_type_table();

// Info for a raw id from a file; nullopt for ids that are out of range or
// removed (their block size is 0: a GGUF reader must reject them).
constexpr std::optional<GgmlTypeInfo> ggml_type_info(std::uint32_t id) noexcept {
  if (id >= kGgmlTypeCount || kGgmlTypes[id].block_elems == 0) return std::nullopt;
  return kGgmlTypes[id];
}
constexpr const GgmlTypeInfo& ggml_type_info(GgmlType t) noexcept {
  return kGgmlTypes[static_cast<std::uint32_t>(t)];
}
constexpr std::string_view ggml_type_name(GgmlType t) noexcept { return ggml_type_info(t).name; }

// Bits per weight (block bytes * 8 / block elements).
constexpr double ggml_type_bpw(GgmlType t) noexcept {
  const auto& i = ggml_type_info(t);
  return i.block_elems ? 8.0 * i.block_bytes / i.block_elems : 0.0;
}

// Case-insensitive lookup by ggml name ("q4_K", "Q4_K", "q4_k" all work).
inline std::optional<GgmlType> parse_ggml_type(std::string_view s) noexcept {
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  for (std::uint32_t id = 0; id < kGgmlTypeCount; ++id) {
    const auto& info = kGgmlTypes[id];
    if (info.block_elems == 0 || info.name.size() != s.size()) continue;
    bool eq = true;
    for (std::size_t i = 0; i < s.size() && eq; ++i) eq = lower(s[i]) == lower(info.name[i]);
    if (eq) return static_cast<GgmlType>(id);
  }
  return std::nullopt;
}

}  // namespace edgequant
