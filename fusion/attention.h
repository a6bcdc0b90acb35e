// The transformer's attention entry point: one function, two paths with the same mask.
// Inference goes through kernels/ (fused CPU kernel); training uses differentiable torch ops.
#pragma once

#include <torch/torch.h>

#include "kernels/attention.h"

namespace duet::fusion {

// Attends queries at absolute positions [q_start, q_start + Tq) to the first kv_len keys.
//   q: [B, H, Tq, Dh]   k, v: [B, H, capacity >= kv_len, Dh]   prefix_valid: [B] int32
// Returns [B, H, Tq, Dh]. Mask semantics: kernels::MaskAllows. Rows with no visible key are zero.
// Uses kernels/ when no gradient is needed and the tensors are float32 on CPU; otherwise the
// torch path (AttendTorch). Throws c10::Error on kernel failure (caught at the library boundary).
// kv_lens [B] int32, when defined: rows at different positions (kernels::AttentionArgs::kv_lens);
// row b attends to its first kv_lens[b] keys from positions kv_lens[b] - Tq onwards, q_start is
// ignored and kv_len must be the largest of them.
torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     int64_t kv_len, int64_t q_start, const torch::Tensor& prefix_valid,
                     const kernels::AttentionMask& mask,
                     const torch::Tensor& kv_lens = torch::Tensor());

// The differentiable path: materialises the [B, 1, Tq, kv_len] mask with torch ops.
// `skipped`: see PrefixLayout (fusion/transformer.h); index i >= mask.prefix_len is position
// i + skipped, so a trimmed prefix gives the mask of the untrimmed one.
torch::Tensor AttendTorch(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          int64_t kv_len, int64_t q_start, const torch::Tensor& prefix_valid,
                          const kernels::AttentionMask& mask, int64_t skipped = 0,
                          const torch::Tensor& kv_lens = torch::Tensor());

// The boolean mask [B, 1, Tq, kv_len] (true = visible), the torch twin of kernels::MaskAllows.
torch::Tensor BuildMask(int64_t q_len, int64_t kv_len, int64_t q_start,
                        const torch::Tensor& prefix_valid, const kernels::AttentionMask& mask,
                        int64_t skipped = 0, const torch::Tensor& kv_lens = torch::Tensor());

}  // namespace duet::fusion
