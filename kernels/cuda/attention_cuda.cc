// Dispatch for kernels/cuda/attention_cuda.h: validates, picks the (dtype, head dim) instantiation,
// sizes split-KV decode and its workspace. The kernels themselves live in the .cu files.
#include "kernels/cuda/attention_cuda.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.h"

namespace duet::kernels {
namespace {

using cuda::DecodeWorkspace;
using cuda::DeviceAttentionParams;

constexpr int64_t kMaxGridY = 65535;       // batch * heads is the grid's y dimension
constexpr int64_t kPointerAlignment = 16;  // kernels move 16-byte vectors
constexpr int64_t kMinKeysPerSplit = 64;   // below this a decode split is not worth a CTA
constexpr int64_t kMaxSplits = 64;
constexpr int64_t kCtasPerSm = 2;  // decode aims for this many split CTAs per SM
constexpr float kLog2e = 1.44269504088896341f;

// The query start the host reasons with: with per-row kv_lens (device memory, never read here)
// that of the longest row, kv_len - q_len; otherwise args.q_start.
int64_t HostQStart(const AttentionArgs& args) {
  return args.kv_lens != nullptr ? args.kv_len - args.q_len : args.q_start;
}

absl::Status ValidateCudaArgs(const AttentionArgs& args) {
  // kv_lens is a device pointer here: the host checks everything else (the kernels clamp each
  // entry into [q_len, kv_len], see RowSpanOf).
  AttentionArgs host = args;
  host.kv_lens = nullptr;
  host.q_start = HostQStart(args);
  if (absl::Status s = ValidateAttentionArgs(host); !s.ok()) return s;
  if (args.dtype != ElementType::kF16 && args.dtype != ElementType::kBF16) {
    return absl::InvalidArgumentError("CUDA attention supports dtype kF16 and kBF16 only");
  }
  if (args.head_dim != 64 && args.head_dim != 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("CUDA attention supports head_dim 64 and 128, got ", args.head_dim));
  }
  if (args.batch * args.heads > kMaxGridY) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch * heads must be <= ", kMaxGridY, ", got ", args.batch * args.heads));
  }
  for (const void* ptr : {args.q, args.k, args.v, static_cast<const void*>(args.out)}) {
    if (reinterpret_cast<uintptr_t>(ptr) % kPointerAlignment != 0) {
      return absl::InvalidArgumentError("q, k, v and out must be 16-byte aligned device pointers");
    }
  }
  return absl::OkStatus();
}

DeviceAttentionParams ToParams(const AttentionArgs& args) {
  DeviceAttentionParams p;
  p.q = args.q;
  p.k = args.k;
  p.v = args.v;
  p.out = args.out;
  p.batch_heads = args.batch * args.heads;
  p.heads = args.heads;
  p.q_len = args.q_len;
  p.kv_len = args.kv_len;
  p.kv_stride = args.kv_capacity ? args.kv_capacity : args.kv_len;
  p.q_start = HostQStart(args);
  p.prefix_valid = args.prefix_valid;
  p.kv_lens = args.kv_lens;
  p.mask = args.mask;
  p.scale_log2 = args.scale * kLog2e;
  return p;
}

absl::Status DispatchPrefill(const AttentionArgs& args, cudaStream_t stream) {
  const DeviceAttentionParams p = ToParams(args);
  const bool d64 = args.head_dim == 64;
  if (args.dtype == ElementType::kF16) {
    return d64 ? cuda::LaunchPrefill<ElementType::kF16, 64>(p, stream)
               : cuda::LaunchPrefill<ElementType::kF16, 128>(p, stream);
  }
  return d64 ? cuda::LaunchPrefill<ElementType::kBF16, 64>(p, stream)
             : cuda::LaunchPrefill<ElementType::kBF16, 128>(p, stream);
}

absl::Status DispatchDecode(const AttentionArgs& args, int splits, const DecodeWorkspace& ws,
                            cudaStream_t stream) {
  const DeviceAttentionParams p = ToParams(args);
  const bool d64 = args.head_dim == 64;
  if (args.dtype == ElementType::kF16) {
    return d64 ? cuda::LaunchDecode<ElementType::kF16, 64>(p, splits, ws, stream)
               : cuda::LaunchDecode<ElementType::kF16, 128>(p, splits, ws, stream);
  }
  return d64 ? cuda::LaunchDecode<ElementType::kBF16, 64>(p, splits, ws, stream)
             : cuda::LaunchDecode<ElementType::kBF16, 128>(p, splits, ws, stream);
}

// Splits per (b, h): enough CTAs to fill the GPU, but each split keeps >= kMinKeysPerSplit of the
// keys the mask can expose (counted on the host with every prefix position assumed valid, and
// with per-row kv_lens for the longest row: shorter rows leave some splits empty).
int DecodeSplits(const AttentionArgs& args) {
  int device = 0, sms = 1;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();  // clear; one split is always correct
    return 1;
  }
  const int64_t q_start = HostQStart(args);
  const VisibleKeys keys = VisibleKeyRanges(args.mask, args.mask.prefix_len, q_start,
                                            q_start + args.q_len - 1, args.kv_len);
  const int64_t keys_visible = keys.prefix.size() + keys.target.size();
  const int64_t by_length = (keys_visible + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
  const int64_t slices = args.batch * args.heads;
  const int64_t by_occupancy = (kCtasPerSm * sms + slices - 1) / slices;
  return static_cast<int>(std::clamp<int64_t>(std::min(by_length, by_occupancy), 1, kMaxSplits));
}

size_t WorkspaceBytes(const AttentionArgs& args, int splits) {
  if (splits <= 1 || args.q_len > cuda::kDecodeMaxQueries) return 0;
  const int64_t rows = args.batch * args.heads * args.q_len * splits;
  return static_cast<size_t>(rows * (args.head_dim + 1)) * sizeof(float);
}

}  // namespace

bool CudaAttentionAvailable() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver / no device is not sticky; leave no error behind
    return false;
  }
  return count > 0;
}

absl::Status AttentionCudaPrefill(const AttentionArgs& args, void* stream) {
  if (absl::Status s = ValidateCudaArgs(args); !s.ok()) return s;
  if (args.q_start != 0 || args.q_len != args.kv_len || args.kv_lens != nullptr) {
    return absl::InvalidArgumentError(
        "prefill needs q_start == 0, q_len == kv_len and no per-row kv_lens");
  }
  return DispatchPrefill(args, static_cast<cudaStream_t>(stream));
}

size_t AttentionCudaDecodeWorkspaceBytes(const AttentionArgs& args) {
  if (!ValidateCudaArgs(args).ok()) return 0;
  return WorkspaceBytes(args, DecodeSplits(args));
}

absl::Status AttentionCudaDecode(const AttentionArgs& args, void* stream, void* workspace,
                                 size_t workspace_bytes) {
  if (absl::Status s = ValidateCudaArgs(args); !s.ok()) return s;
  if (args.kv_lens == nullptr && args.q_start + args.q_len != args.kv_len) {
    return absl::InvalidArgumentError("decode needs q_start + q_len == kv_len");
  }
  auto cuda_stream = static_cast<cudaStream_t>(stream);
  if (args.q_len > cuda::kDecodeMaxQueries) return DispatchPrefill(args, cuda_stream);
  const int splits = DecodeSplits(args);
  const size_t needed = WorkspaceBytes(args, splits);
  if (needed == 0) return DispatchDecode(args, 1, DecodeWorkspace{}, cuda_stream);
  if (workspace != nullptr && workspace_bytes < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat("workspace_bytes must be >= ", needed, ", got ", workspace_bytes));
  }
  void* owned = nullptr;
  if (workspace == nullptr) {
    DUET_CUDA_RETURN_IF_ERROR(cudaMallocAsync(&owned, needed, cuda_stream));
    workspace = owned;
  }
  const int64_t partial_rows = args.batch * args.heads * args.q_len * splits;
  DecodeWorkspace ws;
  ws.partial_out = static_cast<float*>(workspace);
  ws.partial_lse = ws.partial_out + partial_rows * args.head_dim;
  const absl::Status launched = DispatchDecode(args, splits, ws, cuda_stream);
  if (owned != nullptr) DUET_CUDA_RETURN_IF_ERROR(cudaFreeAsync(owned, cuda_stream));
  return launched;
}

}  // namespace duet::kernels
