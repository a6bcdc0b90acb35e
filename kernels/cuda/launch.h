// What the CUDA dispatch (attention_cuda.cc) hands the kernels: one plain parameter struct and
// one launcher per (dtype, head dim), instantiated in prefill_{f16,bf16}.cu and decode.cu.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/attention.h"
#include "kernels/attention_mask.h"

#ifdef __CUDACC__
#define DUET_HOST_DEVICE __host__ __device__
#else
#define DUET_HOST_DEVICE
#endif

namespace duet::kernels::cuda {

// AttentionArgs as the kernels read it (trivially copyable, passed by value to __global__s).
struct DeviceAttentionParams {
  const void* q = nullptr;  // [B, H, q_len, D]
  const void* k = nullptr;  // [B, H, kv_stride, D]
  const void* v = nullptr;
  void* out = nullptr;  // [B, H, q_len, D]
  int64_t batch_heads = 0;
  int64_t heads = 0;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  int64_t kv_stride = 0;  // kv_capacity, or kv_len when that is 0
  int64_t q_start = 0;
  const int32_t* prefix_valid = nullptr;  // device [B], or nullptr
  // device [B] keys in use per row (continuous batching), or nullptr: every row uses kv_len and
  // q_start. Row b's queries then sit at kv_lens[b] - q_len onwards; kv_len is the largest.
  const int32_t* kv_lens = nullptr;
  AttentionMask mask;
  float scale_log2 = 0.f;  // softmax scale * log2(e): kernels use exp2
};

// Where row b's keys end and its queries start. A kv_lens entry outside [q_len, kv_len] is
// clamped into it, so a bad value can never move a read outside the cache.
struct RowSpan {
  int64_t kv_len;
  int64_t q_start;
};
DUET_HOST_DEVICE inline RowSpan RowSpanOf(const DeviceAttentionParams& p, int64_t b) {
  if (p.kv_lens == nullptr) return {p.kv_len, p.q_start};
  int64_t len = p.kv_lens[b];
  len = len < p.q_len ? p.q_len : (len > p.kv_len ? p.kv_len : len);
  return {len, len - p.q_len};
}

// Decode handles at most this many query rows per call; more go to the prefill kernel.
constexpr int kDecodeMaxQueries = 4;

// Float32 partial results of split-KV decode, for rows r = (b * H + h) * q_len + i:
// partial_out [rows, splits, D] (each normalised), partial_lse [rows, splits] (log2 sum-exp2).
struct DecodeWorkspace {
  float* partial_out = nullptr;
  float* partial_lse = nullptr;
};

// Enqueues the FlashAttention-2 style kernel on stream (any q_start). Returns launch errors.
template <ElementType kType, int kHeadDim>
absl::Status LaunchPrefill(const DeviceAttentionParams& params, cudaStream_t stream);

// Enqueues split-KV decode (q_len <= kDecodeMaxQueries) with num_splits CTAs per (b, h); with
// num_splits > 1 the workspace must hold the partials, and a combine kernel writes out.
template <ElementType kType, int kHeadDim>
absl::Status LaunchDecode(const DeviceAttentionParams& params, int num_splits,
                          const DecodeWorkspace& workspace, cudaStream_t stream);

}  // namespace duet::kernels::cuda
