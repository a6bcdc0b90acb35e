// Duet's one attention API for the hybrid layers: prefix-LM masking with optional sliding window.
// Raw pointers only (no torch types), so CPU and CUDA implementations share one contract.
//
// Shapes (row-major, contiguous in the last dim):
//   q, out: [B, H, Tq, D]            queries at absolute positions q_start .. q_start + Tq - 1
//   k, v:   [B, H, kv_capacity, D]   keys at positions 0 .. kv_len - 1 (a prefix of a KV cache)
// q, k, v and out all hold `dtype`: kF32 = float, kF16 = IEEE half, kBF16 = raw bfloat16 (the
// upper 16 bits of a float32, e.g. uint16_t or c10::BFloat16), 2-byte aligned.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "kernels/attention_mask.h"  // AttentionMask, MaskAllows (the single mask rule)

namespace duet::kernels {

enum class ElementType { kF32, kF16, kBF16 };

struct AttentionArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  ElementType dtype = ElementType::kF32;  // of q, k, v and out alike
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t q_len = 0;        // Tq
  int64_t kv_len = 0;       // keys in use; must be >= q_start + q_len
  int64_t kv_capacity = 0;  // row stride of k and v in tokens (>= kv_len); 0 means kv_len
  int64_t head_dim = 0;     // D
  int64_t q_start = 0;      // absolute position of query row 0
  const int32_t* prefix_valid = nullptr;  // [B] real prefix lengths; nullptr: all P are real
  // [B] keys in use per row, for a batch whose rows stand at different positions (continuous
  // batching): row b's keys are 0 .. kv_lens[b] - 1 and its queries sit at positions
  // kv_lens[b] - q_len onwards (q_start is ignored). Each must be in [q_len, kv_len]; kv_len is
  // then their maximum (it bounds the key range, as the capacity does). nullptr: every row uses
  // kv_len and q_start. Decode only. Host memory for the CPU entry points (checked), device
  // memory for the CUDA ones (not read by the host; the kernels clamp each into the range).
  const int32_t* kv_lens = nullptr;
  AttentionMask mask;
  float scale = 0.f;  // softmax scale, usually 1 / sqrt(D)
};

// Checks shapes and values; InvalidArgument names the field and the limit.
absl::Status ValidateAttentionArgs(const AttentionArgs& args);

// Plain reference: one query row at a time, scores for all kv_len keys, float64 accumulation not
// used (same precision as the inputs). kF32 only; other dtypes are InvalidArgument. Rows with no
// visible key are written as zeros. Thread-safe; uses only the calling thread.
absl::Status AttentionReference(const AttentionArgs& args);

// CPU entry points: host pointers, dtype kF32 or kBF16 (kF16 is InvalidArgument; it runs only on
// the CUDA kernels). bf16 is converted to float32 inside each tile and everything accumulates in
// float32 (scores, online softmax, P V); out is rounded to bf16 once, to nearest even. No whole
// tensor is converted or copied. The result for one (b, h, query row) is bitwise the same whatever
// the batch size, thread count or schedule, and from run to run.

// Prefill over a whole sequence (q_start == 0, q_len == kv_len) on CPU.
// Dispatches to the fastest CPU implementation available.
absl::Status AttentionPrefill(const AttentionArgs& args);

// Decode: a few new queries (q_start == kv_len - q_len) against a KV cache, on CPU.
absl::Status AttentionDecode(const AttentionArgs& args);

}  // namespace duet::kernels
