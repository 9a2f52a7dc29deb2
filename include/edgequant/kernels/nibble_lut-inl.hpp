// Per-target helpers for 4-bit table codes (IQ4_NL, IQ4_XS, MXFP4, NVFP4):
// nibbles -> int8 table values with one byte shuffle, int8 values -> scaled
// floats (Highway per-target header).
#if defined(EDGEQUANT_KERNELS_NIBBLE_LUT_INL_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQUANT_KERNELS_NIBBLE_LUT_INL_
#undef EDGEQUANT_KERNELS_NIBBLE_LUT_INL_
#else
#define EDGEQUANT_KERNELS_NIBBLE_LUT_INL_
#endif

#include <cstddef>
#include <cstdint>

#include "edgequant/kernels/common-inl.hpp"

EDGEQUANT_FP_STRICT_BEGIN
HWY_BEFORE_NAMESPACE();
namespace edgequant::HWY_NAMESPACE {

// Looks up the 32 codes held by 16 bytes (low nibbles first, then high
// nibbles) in a 16-entry int8 table; out[j] = table[qs[j] & 15],
// out[16 + j] = table[qs[j] >> 4].
HWY_INLINE void LookupNibbles32(const std::int8_t* HWY_RESTRICT table,
                                const std::uint8_t* HWY_RESTRICT qs,
                                std::int8_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR
  for (int j = 0; j < 16; ++j) {
    out[j] = table[qs[j] & 0x0F];
    out[16 + j] = table[qs[j] >> 4];
  }
#else
  const hn::FixedTag<std::uint8_t, 16> du8;
  const hn::FixedTag<std::int8_t, 16> di8;
  const auto tbl = hn::LoadU(di8, table);
  const auto q = hn::LoadU(du8, qs);
  const auto mask = hn::Set(du8, 0x0F);
  const auto lo = hn::BitCast(di8, hn::And(q, mask));
  const auto hi = hn::BitCast(di8, hn::And(hn::ShiftRight<4>(q), mask));
  hn::StoreU(hn::TableLookupBytes(tbl, lo), di8, out);
  hn::StoreU(hn::TableLookupBytes(tbl, hi), di8, out + 16);
#endif
}

// y[j] = float(v[j]) * d for j < n (n a multiple of Lanes(df)); the product
// of an exact small integer and d, rounded once, as the reference does.
template <class DF>
HWY_INLINE void ScaleInt8(DF df, const std::int8_t* HWY_RESTRICT v, std::size_t n, float d,
                          float* HWY_RESTRICT y) {
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<std::int8_t, DF> d8;
  const auto vd = hn::Set(df, d);
  for (std::size_t j = 0; j < n; j += hn::Lanes(df)) {
    const auto f = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, v + j)));
    hn::StoreU(hn::Mul(f, vd), df, y + j);
  }
}

}  // namespace edgequant::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
EDGEQUANT_FP_STRICT_END

#endif  // per-target include guard
