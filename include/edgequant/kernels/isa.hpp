// Instruction-set targets, run-time CPU detection (no libhwy) and the
// EDGEQUANT_ISA override. Knows nothing of Highway; kernels.hpp maps the
// compiled Highway targets onto these.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define EDGEQUANT_ARCH_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#else
#define EDGEQUANT_ARCH_X86 0
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace edgequant {

// Best last. kScalar is edgequant's own scalar reference (no Highway at all);
// kEmu128 is Highway's portable 128-bit emulation.
enum class Isa : std::uint8_t {
  kScalar,
  kEmu128,
  kSsse3,
  kSse4,
  kAvx2,
  kAvx512,      // Highway AVX3: AVX-512 F/VL/DQ/BW
  kAvx512Vnni,  // Highway AVX3_DL: + VNNI, VBMI/VBMI2, VAES, VPCLMULQDQ, BITALG, VPOPCNTDQ
  kNeon,
  kSve,
  kSve2,
  kCount
};

inline constexpr std::size_t kIsaCount = static_cast<std::size_t>(Isa::kCount);
using IsaMask = std::uint32_t;
constexpr IsaMask isa_bit(Isa i) noexcept { return IsaMask{1} << static_cast<unsigned>(i); }

constexpr std::string_view isa_name(Isa i) noexcept {
  switch (i) {
    case Isa::kScalar: return "scalar";
    case Isa::kEmu128: return "emu128";
    case Isa::kSsse3: return "ssse3";
    case Isa::kSse4: return "sse4";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512_vnni";
    case Isa::kNeon: return "neon";
    case Isa::kSve: return "sve";
    case Isa::kSve2: return "sve2";
    case Isa::kCount: break;
  }
  return "?";
}

// Accepts the names above, Highway's target names and a few aliases.
inline std::optional<Isa> parse_isa(std::string_view s) noexcept {
  std::string l(s);
  for (auto& c : l) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (l == "scalar" || l == "ref" || l == "reference") return Isa::kScalar;
  if (l == "emu128") return Isa::kEmu128;
  if (l == "ssse3") return Isa::kSsse3;
  if (l == "sse4" || l == "sse4.2" || l == "sse42") return Isa::kSse4;
  if (l == "avx2") return Isa::kAvx2;
  if (l == "avx512" || l == "avx3") return Isa::kAvx512;
  if (l == "avx512_vnni" || l == "avx512vnni" || l == "avx3_dl" || l == "vnni") return Isa::kAvx512Vnni;
  if (l == "neon") return Isa::kNeon;
  if (l == "sve") return Isa::kSve;
  if (l == "sve2") return Isa::kSve2;
  return std::nullopt;
}

namespace detail {

#if EDGEQUANT_ARCH_X86
inline void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) noexcept {
#if defined(_MSC_VER) && !defined(__clang__)
  int v[4];
  __cpuidex(v, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(v[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}
inline std::uint64_t xgetbv0() noexcept {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}
#endif

// What this CPU (and OS) can run, as required by each Highway 1.0.3 target
// (its target attribute strings list the features).
inline IsaMask detect_cpu_isas() noexcept {
  IsaMask m = isa_bit(Isa::kScalar) | isa_bit(Isa::kEmu128);
#if EDGEQUANT_ARCH_X86
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  cpuid(0x80000000u, 0, r);
  const unsigned max_ext = r[0];
  unsigned l1[4] = {}, l7[4] = {}, l71[4] = {}, e1[4] = {};
  cpuid(1, 0, l1);
  if (max_leaf >= 7) {
    cpuid(7, 0, l7);
    cpuid(7, 1, l71);
  }
  if (max_ext >= 0x80000001u) cpuid(0x80000001u, 0, e1);
  auto bit = [](unsigned reg, int b) { return ((reg >> b) & 1u) != 0; };
  const unsigned ecx1 = l1[2], ebx7 = l7[1], ecx7 = l7[2], eax71 = l71[0], ecxe = e1[2];
  const bool ssse3 = bit(ecx1, 9) && bit(l1[3], 26) /*sse2*/;
  const bool sse4 = ssse3 && bit(ecx1, 19) && bit(ecx1, 20) && bit(ecx1, 1) /*pclmul*/ &&
                    bit(ecx1, 25) /*aes*/;
  const bool osxsave = bit(ecx1, 27);
  const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;
  const bool avx2 = sse4 && os_avx && bit(ecx1, 28) /*avx*/ && bit(ebx7, 5) /*avx2*/ &&
                    bit(ebx7, 3) /*bmi1*/ && bit(ebx7, 8) /*bmi2*/ && bit(ecx1, 12) /*fma*/ &&
                    bit(ecx1, 29) /*f16c*/ && bit(ecxe, 5) /*lzcnt*/;
  const bool avx512 = avx2 && os_avx512 && bit(ebx7, 16) /*f*/ && bit(ebx7, 17) /*dq*/ &&
                      bit(ebx7, 30) /*bw*/ && bit(ebx7, 31) /*vl*/;
  // Highway 1.0.3 compiles AVX3_DL with "avxvnni" in the target string, so the
  // compiler may emit VEX-encoded VNNI: require AVX-VNNI too, or that code
  // could fault on CPUs with only the EVEX form (Ice Lake, Zen 4).
  const bool avx512_dl = avx512 && bit(ecx7, 11) /*vnni*/ && bit(ecx7, 1) /*vbmi*/ &&
                         bit(ecx7, 6) /*vbmi2*/ && bit(ecx7, 9) /*vaes*/ &&
                         bit(ecx7, 10) /*vpclmulqdq*/ && bit(ecx7, 12) /*bitalg*/ &&
                         bit(ecx7, 14) /*vpopcntdq*/ && bit(eax71, 4) /*avx-vnni*/;
  if (ssse3) m |= isa_bit(Isa::kSsse3);
  if (sse4) m |= isa_bit(Isa::kSse4);
  if (avx2) m |= isa_bit(Isa::kAvx2);
  if (avx512) m |= isa_bit(Isa::kAvx512);
  if (avx512_dl) m |= isa_bit(Isa::kAvx512Vnni);
#elif defined(__aarch64__) && defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  const bool neon = (hw & (1ul << 1)) != 0 /*asimd*/ && (hw & (1ul << 3)) != 0 /*aes*/;
  if (neon) m |= isa_bit(Isa::kNeon);
  if (neon && (hw & (1ul << 22)) != 0) m |= isa_bit(Isa::kSve);
  if (neon && (hw2 & (1ul << 1)) != 0) m |= isa_bit(Isa::kSve2);
#elif defined(__aarch64__)
  m |= isa_bit(Isa::kNeon);  // baseline on AArch64
#endif
  return m;
}

}  // namespace detail

inline IsaMask cpu_isas() noexcept {
  static const IsaMask m = detail::detect_cpu_isas();
  return m;
}

// Preference order (best first) among targets of the same architecture.
inline constexpr std::array<Isa, 10> kIsaPreference = {
    Isa::kAvx512Vnni, Isa::kAvx512, Isa::kAvx2, Isa::kSse4, Isa::kSsse3,
    Isa::kSve2,       Isa::kSve,    Isa::kNeon, Isa::kEmu128, Isa::kScalar};

// Best target in `available` (compiled ∩ supported).
inline Isa best_isa(IsaMask available) noexcept {
  for (Isa i : kIsaPreference) {
    if (available & isa_bit(i)) return i;
  }
  return Isa::kScalar;
}

namespace detail {
// -1: none; else an Isa forced by set_isa_override() or EDGEQUANT_ISA.
inline std::atomic<int>& isa_override_slot() noexcept {
  static std::atomic<int> slot{[] {
    const char* env = std::getenv("EDGEQUANT_ISA");
    if (env == nullptr || *env == '\0') return -1;
    auto isa = parse_isa(env);
    return isa ? static_cast<int>(*isa) : -2;  // -2: unknown name (reported by isa_override_error)
  }()};
  return slot;
}
}  // namespace detail

// Forces a target for all later kernel calls in the process (tests, benches);
// nullopt restores automatic selection. A forced target that is not compiled
// or not supported by this CPU falls back to the best one below it.
inline void set_isa_override(std::optional<Isa> isa) noexcept {
  detail::isa_override_slot().store(isa ? static_cast<int>(*isa) : -1);
}

inline std::optional<Isa> isa_override() noexcept {
  const int v = detail::isa_override_slot().load(std::memory_order_relaxed);
  if (v < 0) return std::nullopt;
  return static_cast<Isa>(v);
}

// Message for a bad EDGEQUANT_ISA value, empty if it is fine (CLIs print it).
inline std::string isa_override_error() {
  if (detail::isa_override_slot().load() != -2) return {};
  const char* env = std::getenv("EDGEQUANT_ISA");
  return std::string("EDGEQUANT_ISA=") + (env ? env : "") +
         " is not a known target (scalar, emu128, ssse3, sse4, avx2, avx512, avx512_vnni, "
         "neon, sve, sve2); using automatic selection";
}

// The target used for a call, given what was compiled in.
inline Isa select_isa(IsaMask compiled) noexcept {
  const IsaMask avail = (compiled & cpu_isas()) | isa_bit(Isa::kScalar);
  if (auto forced = isa_override()) {
    if (avail & isa_bit(*forced)) return *forced;
    // Fall back to the best available target not better than the forced one.
    bool reached = false;
    for (Isa i : kIsaPreference) {
      if (i == *forced) reached = true;
      if (reached && (avail & isa_bit(i))) return i;
    }
    return Isa::kScalar;
  }
  return best_isa(avail);
}

// RAII override for tests.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : prev_(isa_override()) { set_isa_override(isa); }
  ~ScopedIsa() { set_isa_override(prev_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  std::optional<Isa> prev_;
};

}  // namespace edgequant
