// Element access for ONNX tensor payloads: sub-byte packing (low bits first,
// over the flattened tensor) and decoding of every numeric type to float or
// int64 (specs/onnx.md §2.8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "edgequant/core/checked.hpp"
#include "edgequant/core/error.hpp"
#include "edgequant/core/float_convert.hpp"
#include "edgequant/formats/onnx/model.hpp"

namespace edgequant::onnx {

// Packs codes of `bits` (2 or 4) bits: element i goes to bit (i % per_byte) * bits
// of byte i / per_byte; the padding of a partial last byte is 0 (§2.8).
inline std::vector<std::byte> pack_bits(std::span<const std::uint8_t> codes, int bits) {
  const std::size_t per = static_cast<std::size_t>(8 / bits);
  const unsigned mask = (1u << bits) - 1;
  std::vector<std::byte> out((codes.size() + per - 1) / per);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const unsigned v = (codes[i] & mask) << ((i % per) * static_cast<std::size_t>(bits));
    out[i / per] |= static_cast<std::byte>(v);
  }
  return out;
}

// Code of element i of a packed array of `bits` (1..8) bits per element.
inline std::uint8_t unpack_bits(std::span<const std::byte> packed, std::size_t i,
                                int bits) noexcept {
  if (bits == 8) return static_cast<std::uint8_t>(packed[i]);
  const std::size_t per = static_cast<std::size_t>(8 / bits);
  const auto b = static_cast<unsigned>(packed[i / per]);
  return static_cast<std::uint8_t>((b >> ((i % per) * static_cast<std::size_t>(bits))) &
                                   ((1u << bits) - 1));
}

// Sign-extends a `bits`-bit two's complement code.
constexpr std::int32_t sign_extend(std::uint32_t code, int bits) noexcept {
  const std::uint32_t m = 1u << (bits - 1);
  return static_cast<std::int32_t>((code ^ m) - m);
}

namespace detail {
inline Status require_bytes(const Tensor& t) {
  if (!t.has_bytes() || t.lazy) {
    return make_error(Errc::kInvalid, "tensor '" + t.name + "': payload not loaded");
  }
  auto want = t.expected_bytes();
  if (!want) return std::move(want).error();
  if (*want != t.data.size()) {
    return make_error(Errc::kInvalid,
                      "tensor '" + t.name + "': payload has " + std::to_string(t.data.size()) +
                          " bytes, dims and type call for " + std::to_string(*want));
  }
  return {};
}
}  // namespace detail

// Element i of a numeric tensor as float (exact for every type narrower than
// float; int32/int64/uint32/uint64/double are rounded). Precondition: i < numel
// and the payload size matches (to_floats checks both).
inline float element_as_float(const Tensor& t, std::size_t i) noexcept {
  const std::byte* p = t.data.data();
  switch (static_cast<DataType>(t.data_type)) {
    case DataType::kFloat:
      return load_le<float>(p + 4 * i);
    case DataType::kDouble:
      return static_cast<float>(load_le<double>(p + 8 * i));
    case DataType::kFloat16:
      return f16_to_f32(load_le<std::uint16_t>(p + 2 * i));
    case DataType::kBfloat16:
      return bf16_to_f32(load_le<std::uint16_t>(p + 2 * i));
    case DataType::kFloat8E4M3FN:
      return mini_to_f32(static_cast<std::uint8_t>(p[i]), kE4M3FN);
    case DataType::kFloat8E4M3FNUZ:
      return mini_to_f32(static_cast<std::uint8_t>(p[i]), kE4M3FNUZ);
    case DataType::kFloat8E5M2:
      return mini_to_f32(static_cast<std::uint8_t>(p[i]), kE5M2);
    case DataType::kFloat8E5M2FNUZ:
      return mini_to_f32(static_cast<std::uint8_t>(p[i]), kE5M2FNUZ);
    case DataType::kFloat8E8M0:
      return e8m0_to_f32(static_cast<std::uint8_t>(p[i]));
    case DataType::kFloat4E2M1:
      return e2m1_to_f32(unpack_bits(t.data.span(), i, 4));
    case DataType::kUint4:
      return static_cast<float>(unpack_bits(t.data.span(), i, 4));
    case DataType::kInt4:
      return static_cast<float>(sign_extend(unpack_bits(t.data.span(), i, 4), 4));
    case DataType::kUint2:
      return static_cast<float>(unpack_bits(t.data.span(), i, 2));
    case DataType::kInt2:
      return static_cast<float>(sign_extend(unpack_bits(t.data.span(), i, 2), 2));
    case DataType::kUint8:
    case DataType::kBool:
      return static_cast<float>(static_cast<std::uint8_t>(p[i]));
    case DataType::kInt8:
      return static_cast<float>(static_cast<std::int8_t>(p[i]));
    case DataType::kUint16:
      return static_cast<float>(load_le<std::uint16_t>(p + 2 * i));
    case DataType::kInt16:
      return static_cast<float>(load_le<std::int16_t>(p + 2 * i));
    case DataType::kInt32:
      return static_cast<float>(load_le<std::int32_t>(p + 4 * i));
    case DataType::kUint32:
      return static_cast<float>(load_le<std::uint32_t>(p + 4 * i));
    case DataType::kInt64:
      return static_cast<float>(load_le<std::int64_t>(p + 8 * i));
    case DataType::kUint64:
      return static_cast<float>(load_le<std::uint64_t>(p + 8 * i));
    default:
      return 0.0f;
  }
}

inline bool is_real_numeric(std::int32_t dt) noexcept {
  return dt != 0 && dt != static_cast<std::int32_t>(DataType::kString) &&
         dt != static_cast<std::int32_t>(DataType::kComplex64) &&
         dt != static_cast<std::int32_t>(DataType::kComplex128) && is_known_data_type(dt);
}

// Every element as float (row-major).
inline Expected<std::vector<float>> to_floats(const Tensor& t) {
  if (!is_real_numeric(t.data_type)) {
    return make_error(Errc::kUnsupported, "tensor '" + t.name + "': data type " +
                                              std::string(data_type_name(t.data_type)) +
                                              " is not a real number type");
  }
  EDGEQUANT_TRY(detail::require_bytes(t));
  auto n = t.numel();
  if (!n) return std::move(n).error();
  std::vector<float> out(static_cast<std::size_t>(*n));  // the bytes exist: checked above
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = element_as_float(t, i);
  return out;
}

// Every element of an integer or bool tensor as int64.
inline Expected<std::vector<std::int64_t>> to_int64s(const Tensor& t) {
  EDGEQUANT_TRY(detail::require_bytes(t));
  auto n = t.numel();
  if (!n) return std::move(n).error();
  const std::byte* p = t.data.data();
  std::vector<std::int64_t> out;
  const auto dt = static_cast<DataType>(t.data_type);
  switch (dt) {
    case DataType::kInt8:
    case DataType::kUint8:
    case DataType::kBool:
    case DataType::kInt16:
    case DataType::kUint16:
    case DataType::kInt32:
    case DataType::kUint32:
    case DataType::kInt64:
    case DataType::kUint64:
    case DataType::kInt4:
    case DataType::kUint4:
    case DataType::kInt2:
    case DataType::kUint2:
      break;
    default:
      return make_error(Errc::kUnsupported, "tensor '" + t.name + "': data type " +
                                                std::string(data_type_name(t.data_type)) +
                                                " is not an integer type");
  }
  out.resize(static_cast<std::size_t>(*n));
  for (std::size_t i = 0; i < out.size(); ++i) {
    switch (dt) {
      case DataType::kInt8:
        out[i] = static_cast<std::int8_t>(p[i]);
        break;
      case DataType::kUint8:
      case DataType::kBool:
        out[i] = static_cast<std::uint8_t>(p[i]);
        break;
      case DataType::kInt16:
        out[i] = load_le<std::int16_t>(p + 2 * i);
        break;
      case DataType::kUint16:
        out[i] = load_le<std::uint16_t>(p + 2 * i);
        break;
      case DataType::kInt32:
        out[i] = load_le<std::int32_t>(p + 4 * i);
        break;
      case DataType::kUint32:
        out[i] = load_le<std::uint32_t>(p + 4 * i);
        break;
      case DataType::kInt64:
        out[i] = load_le<std::int64_t>(p + 8 * i);
        break;
      case DataType::kUint64:
        out[i] = static_cast<std::int64_t>(load_le<std::uint64_t>(p + 8 * i));
        break;
      case DataType::kInt4:
        out[i] = sign_extend(unpack_bits(t.data.span(), i, 4), 4);
        break;
      case DataType::kUint4:
        out[i] = unpack_bits(t.data.span(), i, 4);
        break;
      case DataType::kInt2:
        out[i] = sign_extend(unpack_bits(t.data.span(), i, 2), 2);
        break;
      default:
        out[i] = unpack_bits(t.data.span(), i, 2);
        break;
    }
  }
  return out;
}

}  // namespace edgequant::onnx
