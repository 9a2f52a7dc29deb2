// llama.cpp's quantization mixes (llama_ftype, `general.file_type`): ids, names,
// descriptions and base types (specs/llama-quant-mixes.md §1).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgequant/schemes/ggml_type.hpp"

namespace edgequant::llama {

enum class Ftype : std::uint32_t {
  kAllF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 7,
  kQ5_0 = 8,
  kQ5_1 = 9,
  kQ2_K = 10,
  kQ3_K_S = 11,
  kQ3_K_M = 12,
  kQ3_K_L = 13,
  kQ4_K_S = 14,
  kQ4_K_M = 15,
  kQ5_K_S = 16,
  kQ5_K_M = 17,
  kQ6_K = 18,
  kIQ2_XXS = 19,
  kIQ2_XS = 20,
  kQ2_K_S = 21,
  kIQ3_XS = 22,
  kIQ3_XXS = 23,
  kIQ1_S = 24,
  kIQ4_NL = 25,
  kIQ3_S = 26,
  kIQ3_M = 27,
  kIQ2_S = 28,
  kIQ2_M = 29,
  kIQ4_XS = 30,
  kIQ1_M = 31,
  kBF16 = 32,
  kTQ1_0 = 36,
  kTQ2_0 = 37,
  kMXFP4_MOE = 38,
  kNVFP4 = 39,
  kQ1_0 = 40,
  kQ2_0 = 41,
};

inline constexpr std::uint32_t kFtypeGuessedFlag = 1024;
inline constexpr std::uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

struct FtypeInfo {
  Ftype id;
  std::string_view name;        // QUANT_OPTIONS spelling
  std::string_view desc;        // llama-quantize's description
  GgmlType default_type;        // llama_ftype_get_default_type
  std::string_view ftype_name;  // llama_ftype_name
};

// In llama-quantize's QUANT_OPTIONS print order (integer arguments match in this order).
inline constexpr std::array<FtypeInfo, 39> kFtypes = {{
    {Ftype::kQ1_0, "Q1_0", " 1.125 bpw quantization", GgmlType::kQ1_0, "Q1_0"},
    {Ftype::kQ2_0, "Q2_0", " 2.25 bpw quantization (group 64)", GgmlType::kQ2_0, "Q2_0"},
    {Ftype::kQ4_0, "Q4_0", " 4.34G, +0.4685 ppl @ Llama-3-8B", GgmlType::kQ4_0, "Q4_0"},
    {Ftype::kQ4_1, "Q4_1", " 4.78G, +0.4511 ppl @ Llama-3-8B", GgmlType::kQ4_1, "Q4_1"},
    {Ftype::kMXFP4_MOE, "MXFP4_MOE", " MXFP4 MoE", GgmlType::kMXFP4, "MXFP4 MoE"},
    {Ftype::kQ5_0, "Q5_0", " 5.21G, +0.1316 ppl @ Llama-3-8B", GgmlType::kQ5_0, "Q5_0"},
    {Ftype::kQ5_1, "Q5_1", " 5.65G, +0.1062 ppl @ Llama-3-8B", GgmlType::kQ5_1, "Q5_1"},
    {Ftype::kIQ2_XXS, "IQ2_XXS", " 2.06 bpw quantization", GgmlType::kIQ2_XXS, "IQ2_XXS - 2.0625 bpw"},
    {Ftype::kIQ2_XS, "IQ2_XS", " 2.31 bpw quantization", GgmlType::kIQ2_XS, "IQ2_XS - 2.3125 bpw"},
    {Ftype::kIQ2_S, "IQ2_S", " 2.5  bpw quantization", GgmlType::kIQ2_XS, "IQ2_S - 2.5 bpw"},
    {Ftype::kIQ2_M, "IQ2_M", " 2.7  bpw quantization", GgmlType::kIQ2_S, "IQ2_M - 2.7 bpw"},
    {Ftype::kIQ1_S, "IQ1_S", " 1.56 bpw quantization", GgmlType::kIQ1_S, "IQ1_S - 1.5625 bpw"},
    {Ftype::kIQ1_M, "IQ1_M", " 1.75 bpw quantization", GgmlType::kIQ1_M, "IQ1_M - 1.75 bpw"},
    {Ftype::kTQ1_0, "TQ1_0", " 1.69 bpw ternarization", GgmlType::kTQ1_0, "TQ1_0 - 1.69 bpw ternary"},
    {Ftype::kTQ2_0, "TQ2_0", " 2.06 bpw ternarization", GgmlType::kTQ2_0, "TQ2_0 - 2.06 bpw ternary"},
    {Ftype::kQ2_K, "Q2_K", " 2.96G, +3.5199 ppl @ Llama-3-8B", GgmlType::kQ2_K, "Q2_K - Medium"},
    {Ftype::kQ2_K_S, "Q2_K_S", " 2.96G, +3.1836 ppl @ Llama-3-8B", GgmlType::kQ2_K, "Q2_K - Small"},
    {Ftype::kIQ3_XXS, "IQ3_XXS", " 3.06 bpw quantization", GgmlType::kIQ3_XXS, "IQ3_XXS - 3.0625 bpw"},
    {Ftype::kIQ3_S, "IQ3_S", " 3.44 bpw quantization", GgmlType::kIQ3_S, "IQ3_S - 3.4375 bpw"},
    {Ftype::kIQ3_M, "IQ3_M", " 3.66 bpw quantization mix", GgmlType::kIQ3_S, "IQ3_S mix - 3.66 bpw"},
    {Ftype::kQ3_K_M, "Q3_K", "alias for Q3_K_M", GgmlType::kQ3_K, "Q3_K - Medium"},
    {Ftype::kIQ3_XS, "IQ3_XS", " 3.3 bpw quantization", GgmlType::kIQ3_S, "IQ3_XS - 3.3 bpw"},
    {Ftype::kQ3_K_S, "Q3_K_S", " 3.41G, +1.6321 ppl @ Llama-3-8B", GgmlType::kQ3_K, "Q3_K - Small"},
    {Ftype::kQ3_K_M, "Q3_K_M", " 3.74G, +0.6569 ppl @ Llama-3-8B", GgmlType::kQ3_K, "Q3_K - Medium"},
    {Ftype::kQ3_K_L, "Q3_K_L", " 4.03G, +0.5562 ppl @ Llama-3-8B", GgmlType::kQ3_K, "Q3_K - Large"},
    {Ftype::kIQ4_NL, "IQ4_NL", " 4.50 bpw non-linear quantization", GgmlType::kIQ4_NL, "IQ4_NL - 4.5 bpw"},
    {Ftype::kIQ4_XS, "IQ4_XS", " 4.25 bpw non-linear quantization", GgmlType::kIQ4_XS, "IQ4_XS - 4.25 bpw"},
    {Ftype::kQ4_K_M, "Q4_K", "alias for Q4_K_M", GgmlType::kQ4_K, "Q4_K - Medium"},
    {Ftype::kQ4_K_S, "Q4_K_S", " 4.37G, +0.2689 ppl @ Llama-3-8B", GgmlType::kQ4_K, "Q4_K - Small"},
    {Ftype::kQ4_K_M, "Q4_K_M", " 4.58G, +0.1754 ppl @ Llama-3-8B", GgmlType::kQ4_K, "Q4_K - Medium"},
    {Ftype::kQ5_K_M, "Q5_K", "alias for Q5_K_M", GgmlType::kQ5_K, "Q5_K - Medium"},
    {Ftype::kQ5_K_S, "Q5_K_S", " 5.21G, +0.1049 ppl @ Llama-3-8B", GgmlType::kQ5_K, "Q5_K - Small"},
    {Ftype::kQ5_K_M, "Q5_K_M", " 5.33G, +0.0569 ppl @ Llama-3-8B", GgmlType::kQ5_K, "Q5_K - Medium"},
    {Ftype::kQ6_K, "Q6_K", " 6.14G, +0.0217 ppl @ Llama-3-8B", GgmlType::kQ6_K, "Q6_K"},
    {Ftype::kQ8_0, "Q8_0", " 7.96G, +0.0026 ppl @ Llama-3-8B", GgmlType::kQ8_0, "Q8_0"},
    {Ftype::kF16, "F16", "14.00G, +0.0020 ppl @ Mistral-7B", GgmlType::kF16, "F16"},
    {Ftype::kBF16, "BF16", "14.00G, -0.0050 ppl @ Mistral-7B", GgmlType::kBF16, "BF16"},
    {Ftype::kAllF32, "F32", "26.00G              @ 7B", GgmlType::kF32, "all F32"},
    {Ftype::kNVFP4, "NVFP4", " NVFP4 (API only in llama-quantize)", GgmlType::kNVFP4, "NVFP4"},
}};

inline const FtypeInfo* ftype_info(Ftype f) noexcept {
  // The canonical entry (not an alias) for an id.
  for (const auto& i : kFtypes) {
    if (i.id == f && i.desc.rfind("alias", 0) != 0) return &i;
  }
  return nullptr;
}

inline GgmlType ftype_default_type(Ftype f) noexcept {
  const auto* i = ftype_info(f);
  return i ? i->default_type : GgmlType::kF32;
}

// llama-quantize's argument rule: case-insensitive name (aliases Q3_K, Q4_K,
// Q5_K; COPY is not a mix), else an integer matched against the ids.
inline std::optional<Ftype> parse_ftype(std::string_view s) noexcept {
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  for (const auto& i : kFtypes) {
    if (i.name.size() != s.size()) continue;
    bool eq = true;
    for (std::size_t k = 0; k < s.size() && eq; ++k) eq = lower(s[k]) == lower(i.name[k]);
    if (eq) return i.id;
  }
  if (s.empty() || s.size() > 9) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  for (const auto& i : kFtypes) {
    if (static_cast<std::uint32_t>(i.id) == v) return i.id;
  }
  return std::nullopt;
}

}  // namespace edgequant::llama
