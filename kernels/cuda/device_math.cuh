// Device helpers of the attention kernels: element types, tensor-core MMA and ldmatrix via PTX,
// exp2 and warp reductions. Fragment layouts follow the PTX ISA for mma.m16n8k16.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/attention.h"

namespace duet::kernels::cuda {

template <ElementType kType>
struct Element;

template <>
struct Element<ElementType::kF16> {
  using Type = __half;
  __device__ static float ToFloat(Type x) { return __half2float(x); }
  __device__ static Type FromFloat(float x) { return __float2half_rn(x); }
  // Two floats as one 32-bit MMA operand register; `lo` is the lower column index.
  __device__ static uint32_t Pack(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
  // c += a * b for a 16x16 row-major A, 16x8 column-major B, float 16x8 C.
  __device__ static void Mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

template <>
struct Element<ElementType::kBF16> {
  using Type = __nv_bfloat16;
  __device__ static float ToFloat(Type x) { return __bfloat162float(x); }
  __device__ static Type FromFloat(float x) { return __float2bfloat16_rn(x); }
  __device__ static uint32_t Pack(float lo, float hi) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
  __device__ static void Mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

// Two adjacent 16-bit elements as one operand register (shared or global memory, 4-byte aligned).
template <typename T>
__device__ __forceinline__ uint32_t Load32(const T* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

// Four 8x8 16-bit matrices, transposed: lane l gives the address of row l % 8 of matrix l / 8 and
// receives in r[i] elements (2 * (l % 4), l / 4) and (2 * (l % 4) + 1, l / 4) of matrix i.
__device__ __forceinline__ void LdMatrixX4Trans(uint32_t (&r)[4], const void* smem_row) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// 2^x with the SFU (ex2.approx); 2^-inf == 0, which the softmax relies on for masked scores.
__device__ __forceinline__ float FastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Reductions over the 4 lanes of an MMA quad (the lanes that share a row of C).
__device__ __forceinline__ float QuadMax(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float QuadSum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

__device__ __forceinline__ float WarpSum(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

}  // namespace duet::kernels::cuda
