// The element types the fused CPU attention reads and writes (float32, bfloat16) and their
// conversions to and from the float32 the kernel computes in. Header-only, so they inline per ISA.
#pragma once

#include <cstdint>
#include <cstring>

namespace duet::kernels::cpu_tile {

// Raw bfloat16: the upper 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits). Same
// size and layout as uint16_t, so a caller's uint16_t / c10::BFloat16 buffer is read in place.
struct Bf16 {
  uint16_t bits;
};
static_assert(sizeof(Bf16) == sizeof(uint16_t), "Bf16 is a bare uint16_t");

inline float ToFloat(float x) { return x; }

// Exact: every bfloat16 is a float32 with a zero low half.
inline float ToFloat(Bf16 x) {
  const uint32_t bits = static_cast<uint32_t>(x.bits) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// float32 -> element type. For Bf16: round to nearest, ties to even (the halfway low half rounds
// towards an even upper half); overflow rounds to +-inf; NaN stays a quiet NaN of the same sign.
template <typename T>
T FromFloat(float x);

template <>
inline float FromFloat<float>(float x) {
  return x;
}

template <>
inline Bf16 FromFloat<Bf16>(float x) {
  constexpr uint32_t kAbsMask = 0x7fffffffu;
  constexpr uint32_t kInfBits = 0x7f800000u;
  constexpr uint16_t kQuietBit = 0x0040u;  // top mantissa bit of a bfloat16
  constexpr uint32_t kHalfLowMinusOne = 0x7fffu;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  if ((bits & kAbsMask) > kInfBits) return Bf16{static_cast<uint16_t>((bits >> 16) | kQuietBit)};
  const uint32_t upper_is_odd = (bits >> 16) & 1u;
  return Bf16{static_cast<uint16_t>((bits + kHalfLowMinusOne + upper_is_odd) >> 16)};
}

}  // namespace duet::kernels::cpu_tile
