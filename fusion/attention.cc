// Implementation of fusion/attention.h: picks the kernel path or the torch path.
#include "fusion/attention.h"

#include <cmath>

#include "kernels/cuda/attention_cuda.h"

namespace duet::fusion {

torch::Tensor BuildMask(int64_t q_len, int64_t kv_len, int64_t q_start,
                        const torch::Tensor& prefix_valid, const kernels::AttentionMask& mask,
                        int64_t skipped, const torch::Tensor& kv_lens) {
  const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(prefix_valid.device());
  torch::Tensor q_idx = torch::arange(q_start, q_start + q_len, opts).view({1, 1, -1, 1});
  if (kv_lens.defined()) {  // row b's queries end at its own kv length: [B, 1, Tq, 1]
    q_idx = kv_lens.to(torch::kInt64).view({-1, 1, 1, 1}) - q_len +
            torch::arange(q_len, opts).view({1, 1, -1, 1});
  }
  const torch::Tensor k_idx = torch::arange(kv_len, opts).view({1, 1, 1, -1});
  const torch::Tensor valid = prefix_valid.to(torch::kInt64).view({-1, 1, 1, 1});
  torch::Tensor visible =
      torch::where(k_idx < mask.prefix_len, k_idx < valid, k_idx <= q_idx);  // [B, 1, Tq, Tk]
  if (mask.window > 0) {  // Distances between positions, which skip the trimmed padding.
    const auto position = [&](const torch::Tensor& idx) {
      return skipped == 0 ? idx : idx + (idx >= mask.prefix_len).to(torch::kInt64) * skipped;
    };
    torch::Tensor near = (position(q_idx) - position(k_idx)).abs() < mask.window;
    if (mask.global_prefix) near = near | (k_idx < mask.prefix_len);
    visible = visible & near;
  }
  return visible;
}

torch::Tensor AttendTorch(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          int64_t kv_len, int64_t q_start, const torch::Tensor& prefix_valid,
                          const kernels::AttentionMask& mask, int64_t skipped,
                          const torch::Tensor& kv_lens) {
  const torch::Tensor keys = k.narrow(2, 0, kv_len);
  const torch::Tensor values = v.narrow(2, 0, kv_len);
  const torch::Tensor visible =
      BuildMask(q.size(2), kv_len, q_start, prefix_valid, mask, skipped, kv_lens);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  // Products in the inputs' dtype, softmax in float32.
  torch::Tensor scores =
      torch::matmul(q, keys.transpose(-2, -1)).to(torch::kFloat32) * scale;  // [B, H, Tq, Tk]
  scores = scores.masked_fill(visible.logical_not(), -std::numeric_limits<float>::infinity());
  // A row with no visible key would be NaN after softmax; it is defined as zero.
  const torch::Tensor any_visible = visible.any(-1, /*keepdim=*/true);  // [B, 1, Tq, 1]
  scores = scores.masked_fill(any_visible.logical_not(), 0.0);
  const torch::Tensor probs = torch::softmax(scores, -1) * any_visible;
  return torch::matmul(probs.to(values.scalar_type()), values);  // [B, H, Tq, Dh]
}

namespace {

// The kernel arguments for contiguous q, k, v and out of any supported dtype.
kernels::AttentionArgs MakeArgs(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, torch::Tensor& out, int64_t kv_len,
                                int64_t q_start, const torch::Tensor& valid,
                                const torch::Tensor& kv_lens, const kernels::AttentionMask& mask) {
  kernels::AttentionArgs args;
  args.q = q.data_ptr();
  args.k = k.data_ptr();
  args.v = v.data_ptr();
  args.out = out.data_ptr();
  args.dtype = q.scalar_type() == torch::kFloat16    ? kernels::ElementType::kF16
               : q.scalar_type() == torch::kBFloat16 ? kernels::ElementType::kBF16
                                                     : kernels::ElementType::kF32;
  args.batch = q.size(0);
  args.heads = q.size(1);
  args.q_len = q.size(2);
  args.head_dim = q.size(3);
  args.kv_len = kv_len;
  args.kv_capacity = k.size(2);
  args.q_start = q_start;
  args.prefix_valid = valid.data_ptr<int32_t>();
  args.kv_lens = kv_lens.defined() ? kv_lens.data_ptr<int32_t>() : nullptr;
  args.mask = mask;
  args.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(args.head_dim)));
  return args;
}

// GPU-node path: fp16/bf16 CUDA tensors with head dim 64 or 128 go to the fused CUDA kernels.
bool CudaKernelApplies(const torch::Tensor& q) {
  const bool half = q.scalar_type() == torch::kFloat16 || q.scalar_type() == torch::kBFloat16;
  return q.is_cuda() && half && (q.size(3) == 64 || q.size(3) == 128) &&
         kernels::CudaAttentionAvailable();
}

}  // namespace

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     int64_t kv_len, int64_t q_start, const torch::Tensor& prefix_valid,
                     const kernels::AttentionMask& mask, const torch::Tensor& kv_lens) {
  const bool needs_grad =
      torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  // The fused CPU kernel takes float32 and bfloat16 (float32 accumulation either way).
  const bool cpu_kernel = q.device().is_cpu() && (q.scalar_type() == torch::kFloat32 ||
                                                  q.scalar_type() == torch::kBFloat16);
  const bool cuda = !needs_grad && CudaKernelApplies(q);
  if (needs_grad || !(cpu_kernel || cuda)) {
    return AttendTorch(q, k, v, kv_len, q_start, prefix_valid, mask, 0, kv_lens);
  }
  const torch::Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const torch::Tensor valid = prefix_valid.to(q.device(), torch::kInt32).contiguous();
  const torch::Tensor lens =
      kv_lens.defined() ? kv_lens.to(q.device(), torch::kInt32).contiguous() : torch::Tensor();
  torch::Tensor out = torch::empty_like(qc);
  const kernels::AttentionArgs args =
      MakeArgs(qc, kc, vc, out, kv_len, q_start, valid, lens, mask);
  const bool prefill = !lens.defined() && q_start == 0 && args.q_len == kv_len;
  absl::Status status;
  if (cuda) {  // The legacy default stream, which orders with LibTorch's default stream.
    status = prefill ? kernels::AttentionCudaPrefill(args, nullptr)
                     : kernels::AttentionCudaDecode(args, nullptr);
  } else {
    status = prefill ? kernels::AttentionPrefill(args) : kernels::AttentionDecode(args);
  }
  TORCH_CHECK(status.ok(), "attention kernel failed: ", status.ToString());
  return out;
}

}  // namespace duet::fusion
