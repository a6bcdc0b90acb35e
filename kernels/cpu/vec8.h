// Eight floats in one register (AVX) or two (SSE) for the fused CPU attention's hot loops: GCC/Clang
// vector extensions, so accumulators stay in registers on any x86 ISA without intrinsics.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/element_types.h"

namespace duet::kernels::cpu_tile {

// Unaligned and may alias, so it can be loaded from any float row.
typedef float Vec8 __attribute__((vector_size(32), aligned(4), may_alias));
constexpr int64_t kVec = 8;

inline Vec8 LoadVec(const float* p) { return *reinterpret_cast<const Vec8*>(p); }
inline void StoreVec(float* p, Vec8 x) { *reinterpret_cast<Vec8*>(p) = x; }

// Eight consecutive elements of T as float32: a plain load for float; for Bf16 the exact widening
// (zero-extend each 16-bit value to 32 bits and shift it into the upper half).
inline Vec8 LoadAsVec(const float* p) { return LoadVec(p); }

inline Vec8 LoadAsVec(const Bf16* p) {
  typedef uint16_t Bits8 __attribute__((vector_size(16), aligned(2), may_alias));
  typedef uint32_t Wide8 __attribute__((vector_size(32)));
  const Wide8 wide = __builtin_convertvector(*reinterpret_cast<const Bits8*>(p), Wide8) << 16;
  Vec8 x;
  std::memcpy(&x, &wide, sizeof(x));
  return x;
}

// x[0] + ... + x[7] in a fixed order: halves, then quarters, then the last pair.
inline float HorizontalSum(Vec8 x) {
  typedef float Vec4 __attribute__((vector_size(16)));
  const Vec4 halves = __builtin_shufflevector(x, x, 0, 1, 2, 3) +
                      __builtin_shufflevector(x, x, 4, 5, 6, 7);
  const Vec4 quarters = halves + __builtin_shufflevector(halves, halves, 2, 3, 0, 1);
  return quarters[0] + quarters[1];
}

}  // namespace duet::kernels::cpu_tile
