// CUDA entry points for kernels/attention.h: fused FlashAttention-2 style prefill and split-KV
// decode, fp16/bf16 in and out with float32 accumulation. Torch-free: pointers and a stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "kernels/attention.h"

namespace duet::kernels {

// True when this build has the CUDA kernels (DUET_HAVE_CUDA_KERNELS) and a CUDA device is visible.
// Never fails: no driver or no device reads as false. Thread-safe.
bool CudaAttentionAvailable();

// Same shapes, mask and zero-row rule as AttentionPrefill, on the GPU:
// - q, k, v, out are device pointers, 16-byte aligned; args.prefix_valid and args.kv_lens, when
//   set, point to device memory ([B] int32). kv_lens (rows at their own positions) is for
//   AttentionCudaDecode only; prefill refuses it.
// - dtype kF16 or kBF16; head_dim 64 or 128; batch * heads <= 65535. Else InvalidArgument.
// - stream is a cudaStream_t (nullptr: the legacy default stream). The call only enqueues work;
//   errors of the launch itself come back as Internal with file and line, errors during execution
//   surface at the next synchronising CUDA call. Builds without CUDA return Unimplemented.
// Thread-safe; concurrent calls on different streams are independent.
absl::Status AttentionCudaPrefill(const AttentionArgs& args, void* stream);

// Float32 workspace bytes that AttentionCudaDecode needs for args (0 when it needs none).
size_t AttentionCudaDecodeWorkspaceBytes(const AttentionArgs& args);

// Decode (q_start == kv_len - q_len) on the GPU, same rules as AttentionCudaPrefill. Several CTAs
// per (b, h) each reduce a chunk of the visible keys, then a combine kernel merges them by
// log-sum-exp. workspace (device memory, >= AttentionCudaDecodeWorkspaceBytes(args)) may be
// nullptr, in which case it is taken with cudaMallocAsync on stream and freed the same way.
absl::Status AttentionCudaDecode(const AttentionArgs& args, void* stream, void* workspace = nullptr,
                                 size_t workspace_bytes = 0);

}  // namespace duet::kernels
