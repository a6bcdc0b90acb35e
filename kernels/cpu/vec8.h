// Eight floats in one register (AVX) or two (SSE) for the fused CPU attention's hot loops:
// GCC/Clang vector extensions, so accumulators stay in registers on any x86 ISA without intrinsics.
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

// The pair layout: 16 consecutive elements of a row as two Vec8, `even` holding element
// kPairLead[c] and `odd` element kPairLead[c] + 1 in lane c. Both element types reach it with one
// shuffle per vector: float with an in-lane shuffle of two loads (vshufps), bf16 by widening the
// (2m, 2m + 1) pairs of one load after a 64-bit permute (vpermq). Widening bf16 exactly then costs
// a shift (even) and a mask (odd): 4 instructions per 16 elements, where GCC 12 compiles a plain
// 8-element widening (__builtin_convertvector) to 6 per 8.
// Dot products and P V sums formed in this layout are bitwise the same for float and bf16 inputs
// of the same values.
constexpr int64_t kPairBlock = 2 * kVec;
constexpr int64_t kPairLead[kVec] = {0, 2, 8, 10, 4, 6, 12, 14};

inline void LoadPairs(const float* p, Vec8* even, Vec8* odd) {
  const Vec8 low = LoadVec(p);
  const Vec8 high = LoadVec(p + kVec);
  *even = __builtin_shufflevector(low, high, 0, 2, 8, 10, 4, 6, 12, 14);
  *odd = __builtin_shufflevector(low, high, 1, 3, 9, 11, 5, 7, 13, 15);
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "LoadPairs(Bf16) reads pairs as uint32");
inline void LoadPairs(const Bf16* p, Vec8* even, Vec8* odd) {
  typedef uint32_t Pairs8 __attribute__((vector_size(32), aligned(2), may_alias));
  constexpr uint32_t kHighHalf = 0xffff0000u;
  const Pairs8 raw = *reinterpret_cast<const Pairs8*>(p);  // lane m: elements 2m (low), 2m + 1
  const Pairs8 pairs = __builtin_shufflevector(raw, raw, 0, 1, 4, 5, 2, 3, 6, 7);
  const Pairs8 even_bits = pairs << 16;
  const Pairs8 odd_bits = pairs & kHighHalf;
  std::memcpy(even, &even_bits, sizeof(*even));
  std::memcpy(odd, &odd_bits, sizeof(*odd));
}

// x[0] + ... + x[7] in a fixed order: halves, then quarters, then the last pair.
inline float HorizontalSum(Vec8 x) {
  typedef float Vec4 __attribute__((vector_size(16)));
  const Vec4 halves =
      __builtin_shufflevector(x, x, 0, 1, 2, 3) + __builtin_shufflevector(x, x, 4, 5, 6, 7);
  const Vec4 quarters = halves + __builtin_shufflevector(halves, halves, 2, 3, 0, 1);
  return quarters[0] + quarters[1];
}

}  // namespace duet::kernels::cpu_tile
