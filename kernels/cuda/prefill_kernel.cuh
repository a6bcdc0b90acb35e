// FlashAttention-2 style prefill: one CTA per (query tile, b*h), each warp owns 16 query rows,
// S = QK^T and O += PV on tensor cores (mma.m16n8k16), online softmax in registers.
//
// Key tiles come only from VisibleKeyRanges (tiles outside the window or above the diagonal are
// never loaded); the mask is evaluated per element only on tiles BlockFullyVisible cannot clear.
// Shapes: Q [q_len, D], K/V [kv_stride, D] per (b, h); 16-bit elements, float accumulation.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/launch.h"

namespace duet::kernels::cuda {

// Tile shape for one head dim. Each of kWarps warps owns 16 rows (one MMA row block).
template <int kHeadDim_, int kBlockN_, int kWarps_>
struct PrefillTiles {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockN = kBlockN_;  // keys per tile
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBlockM = 16 * kWarps;  // query rows per CTA
  // Shared-memory row stride in elements: +8 (16 bytes) puts the 8 rows a fragment load or
  // ldmatrix touches in distinct banks.
  static constexpr int kStride = kHeadDim + 8;
  static constexpr int kKSteps = kHeadDim / 16;  // k16 steps of S = QK^T
  static constexpr int kSTiles = kBlockN / 8;    // n8 column tiles of S
  static constexpr int kOTiles = kHeadDim / 8;   // n8 column tiles of O
  static constexpr int kSmemBytes = (kBlockM + 2 * kBlockN) * kStride * 2;
  static_assert(kHeadDim % 16 == 0 && kBlockN % 16 == 0, "MMA shapes");
};

template <int kHeadDim>
struct PrefillTraits;
template <>
struct PrefillTraits<64> : PrefillTiles<64, 64, 4> {};  // 27 KiB shared memory
template <>
struct PrefillTraits<128> : PrefillTiles<128, 64, 4> {};  // 51 KiB shared memory

// Rows [first, first + kRows) of a [rows, D] matrix into shared memory; rows >= end are zeros.
template <typename Tr, int kRows, typename T>
__device__ __forceinline__ void LoadTile(T* smem, const T* src, int64_t first, int64_t end) {
  constexpr int kChunks = Tr::kHeadDim / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < kRows * kChunks; c += Tr::kThreads) {
    const int row = c / kChunks;
    const int col = (c % kChunks) * 8;
    uint4 value = make_uint4(0, 0, 0, 0);
    if (first + row < end)
      value = *reinterpret_cast<const uint4*>(src + (first + row) * Tr::kHeadDim + col);
    *reinterpret_cast<uint4*>(smem + row * Tr::kStride + col) = value;
  }
}

// The warp's 16 query rows as MMA A fragments, one set per k16 step (kept in registers).
template <typename Tr, typename T>
__device__ __forceinline__ void LoadQueryFragments(const T* s_q, uint32_t (&q)[Tr::kKSteps][4]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const T* row = s_q + (warp * 16 + lane / 4) * Tr::kStride + (lane % 4) * 2;
  for (int kk = 0; kk < Tr::kKSteps; ++kk) {
    q[kk][0] = Load32(row + kk * 16);
    q[kk][1] = Load32(row + 8 * Tr::kStride + kk * 16);
    q[kk][2] = Load32(row + kk * 16 + 8);
    q[kk][3] = Load32(row + 8 * Tr::kStride + kk * 16 + 8);
  }
}

// S = Q K^T: the K tile row-major [key][d] is exactly the column-major B operand.
template <ElementType kType, typename Tr, typename T>
__device__ __forceinline__ void ComputeScores(const uint32_t (&q)[Tr::kKSteps][4], const T* s_k,
                                              float (&s)[Tr::kSTiles][4]) {
  const int lane = threadIdx.x % 32;
  for (int j = 0; j < Tr::kSTiles; ++j) {
    s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
    const T* key = s_k + (j * 8 + lane / 4) * Tr::kStride + (lane % 4) * 2;
    for (int kk = 0; kk < Tr::kKSteps; ++kk) {
      Element<kType>::Mma(s[j], q[kk], Load32(key + kk * 16), Load32(key + kk * 16 + 8));
    }
  }
}

// Partial tiles: scores the mask removes (or past the tile's last key) become -inf.
// Element e of s[j] sits at row lane/4 (+8 for e >= 2), column j*8 + 2*(lane%4) + e%2.
template <typename Tr>
__device__ __forceinline__ void MaskScores(const DeviceAttentionParams& p, int64_t prefix_valid,
                                           int64_t warp_q_pos, int64_t k0, int64_t k_end,
                                           float (&s)[Tr::kSTiles][4]) {
  const int lane = threadIdx.x % 32;
  for (int j = 0; j < Tr::kSTiles; ++j) {
    for (int e = 0; e < 4; ++e) {
      const int64_t q_pos = warp_q_pos + lane / 4 + (e >= 2 ? 8 : 0);
      const int64_t k_pos = k0 + j * 8 + (lane % 4) * 2 + (e % 2);
      if (k_pos >= k_end || !MaskAllows(p.mask, prefix_valid, q_pos, k_pos)) s[j][e] = -INFINITY;
    }
  }
}

// Online softmax for the thread's two rows (hr = 0: row lane/4, hr = 1: row lane/4 + 8): new row
// max over the quad, rescale of the running sum and of O, then S becomes P = 2^(S*scale - m).
template <typename Tr>
__device__ __forceinline__ void OnlineSoftmax(float scale_log2, float (&s)[Tr::kSTiles][4],
                                              float (&row_max)[2], float (&row_sum)[2],
                                              float (&o)[Tr::kOTiles][4]) {
  for (int hr = 0; hr < 2; ++hr) {
    float tile_max = row_max[hr];
    for (int j = 0; j < Tr::kSTiles; ++j)
      tile_max = fmaxf(tile_max, fmaxf(s[j][2 * hr], s[j][2 * hr + 1]));
    tile_max = QuadMax(tile_max);
    // A row with nothing visible yet keeps max -inf; using 0 as its offset keeps P at 0, not NaN.
    const float max_scaled = tile_max == -INFINITY ? 0.f : tile_max * scale_log2;
    const float alpha = FastExp2(row_max[hr] * scale_log2 - max_scaled);
    row_max[hr] = tile_max;
    row_sum[hr] *= alpha;
    for (int j = 0; j < Tr::kOTiles; ++j) {
      o[j][2 * hr] *= alpha;
      o[j][2 * hr + 1] *= alpha;
    }
    for (int j = 0; j < Tr::kSTiles; ++j) {
      for (int e = 2 * hr; e < 2 * hr + 2; ++e) {
        s[j][e] = FastExp2(fmaf(s[j][e], scale_log2, -max_scaled));
        row_sum[hr] += s[j][e];  // per-thread partial; the quad sums at the end
      }
    }
  }
}

// O += P V. The C fragments of two adjacent S tiles are the A fragment of one k16 step; V
// (row-major [key][d]) is read as the column-major B operand with ldmatrix.trans.
template <ElementType kType, typename Tr, typename T>
__device__ __forceinline__ void AccumulatePV(const float (&p)[Tr::kSTiles][4], const T* s_v,
                                             float (&o)[Tr::kOTiles][4]) {
  using E = Element<kType>;
  const int lane = threadIdx.x % 32;
  for (int kk = 0; kk < Tr::kBlockN / 16; ++kk) {
    const uint32_t a[4] = {E::Pack(p[2 * kk][0], p[2 * kk][1]), E::Pack(p[2 * kk][2], p[2 * kk][3]),
                           E::Pack(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                           E::Pack(p[2 * kk + 1][2], p[2 * kk + 1][3])};
    // Matrices 0..3: keys +0/+8 (bit 0 of lane/8) x columns +0/+8 (bit 1 of lane/8).
    const T* v_rows =
        s_v + (kk * 16 + lane % 8 + ((lane / 8) % 2) * 8) * Tr::kStride + (lane / 16) * 8;
    for (int dp = 0; dp < Tr::kHeadDim / 16; ++dp) {
      uint32_t b[4];
      LdMatrixX4Trans(b, v_rows + dp * 16);
      E::Mma(o[2 * dp], a, b[0], b[1]);
      E::Mma(o[2 * dp + 1], a, b[2], b[3]);
    }
  }
}

// out = O / l per row (zeros for rows that saw no key); rows past q_len are not written.
template <ElementType kType, typename Tr, typename T>
__device__ __forceinline__ void StoreOutput(const float (&o)[Tr::kOTiles][4],
                                            const float (&row_sum)[2], int64_t warp_row,
                                            int64_t q_len, T* out) {
  const int lane = threadIdx.x % 32;
  for (int hr = 0; hr < 2; ++hr) {
    const float sum = QuadSum(row_sum[hr]);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    const int64_t row = warp_row + lane / 4 + 8 * hr;
    if (row >= q_len) continue;
    for (int j = 0; j < Tr::kOTiles; ++j) {
      *reinterpret_cast<uint32_t*>(out + row * Tr::kHeadDim + j * 8 + (lane % 4) * 2) =
          Element<kType>::Pack(o[j][2 * hr] * inv, o[j][2 * hr + 1] * inv);
    }
  }
}

template <ElementType kType, typename Tr>
__global__ void __launch_bounds__(Tr::kThreads) PrefillKernel(const DeviceAttentionParams p) {
  using T = typename Element<kType>::Type;
  extern __shared__ __align__(16) unsigned char smem[];
  T* s_q = reinterpret_cast<T*>(smem);
  T* s_k = s_q + Tr::kBlockM * Tr::kStride;
  T* s_v = s_k + Tr::kBlockN * Tr::kStride;
  const int64_t bh = blockIdx.y;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * Tr::kBlockM;
  const T* q = static_cast<const T*>(p.q) + bh * p.q_len * Tr::kHeadDim;
  const T* k = static_cast<const T*>(p.k) + bh * p.kv_stride * Tr::kHeadDim;
  const T* v = static_cast<const T*>(p.v) + bh * p.kv_stride * Tr::kHeadDim;
  const int64_t valid = p.prefix_valid ? p.prefix_valid[bh / p.heads] : p.mask.prefix_len;
  const RowSpan span = RowSpanOf(p, bh / p.heads);
  const int64_t q_first = span.q_start + row0;
  const int64_t q_last =
      span.q_start + (row0 + Tr::kBlockM < p.q_len ? row0 + Tr::kBlockM : p.q_len) - 1;
  const int64_t warp_row = row0 + (threadIdx.x / 32) * 16;

  LoadTile<Tr, Tr::kBlockM>(s_q, q, row0, p.q_len);
  __syncthreads();
  uint32_t q_frag[Tr::kKSteps][4];
  LoadQueryFragments<Tr>(s_q, q_frag);
  float o[Tr::kOTiles][4] = {};
  float row_max[2] = {-INFINITY, -INFINITY};
  float row_sum[2] = {0.f, 0.f};

  const VisibleKeys keys = VisibleKeyRanges(p.mask, valid, q_first, q_last, span.kv_len);
  for (int r = 0; r < 2; ++r) {
    const KeyRange range = r == 0 ? keys.prefix : keys.target;  // (a select: no local memory)
    for (int64_t k0 = range.begin; k0 < range.end; k0 += Tr::kBlockN) {
      const int64_t k_end = k0 + Tr::kBlockN < range.end ? k0 + Tr::kBlockN : range.end;
      __syncthreads();  // all warps are done with the previous K/V tile
      LoadTile<Tr, Tr::kBlockN>(s_k, k, k0, k_end);
      LoadTile<Tr, Tr::kBlockN>(s_v, v, k0, k_end);
      __syncthreads();
      float s[Tr::kSTiles][4];
      ComputeScores<kType, Tr>(q_frag, s_k, s);  // S = Q K^T
      const bool full = k_end - k0 == Tr::kBlockN &&
                        BlockFullyVisible(p.mask, valid, q_first, q_last, k0, k_end - 1);
      if (!full) MaskScores<Tr>(p, valid, span.q_start + warp_row, k0, k_end, s);
      OnlineSoftmax<Tr>(p.scale_log2, s, row_max, row_sum, o);  // P = 2^(S - m), rescale O
      AccumulatePV<kType, Tr>(s, s_v, o);                       // O += P V
    }
  }
  StoreOutput<kType, Tr>(o, row_sum, warp_row, p.q_len,
                         static_cast<T*>(p.out) + bh * p.q_len * Tr::kHeadDim);
}

template <ElementType kType, int kHeadDim>
absl::Status LaunchPrefill(const DeviceAttentionParams& params, cudaStream_t stream) {
  using Tr = PrefillTraits<kHeadDim>;
  auto* kernel = &PrefillKernel<kType, Tr>;
  // Above 48 KiB of dynamic shared memory a kernel must opt in (per device, so on every call).
  DUET_CUDA_RETURN_IF_ERROR(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmemBytes));
  const dim3 grid(static_cast<unsigned>((params.q_len + Tr::kBlockM - 1) / Tr::kBlockM),
                  static_cast<unsigned>(params.batch_heads));
  kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(params);
  DUET_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return absl::OkStatus();
}

}  // namespace duet::kernels::cuda
