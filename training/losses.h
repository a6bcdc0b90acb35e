// Training losses shared by the stages that predict image codes.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace duet::training {

// Per-code cross-entropy of image codes: logits [B, N, K], target codes [B, N] int64 -> [B, N].
torch::Tensor CodeCrossEntropy(const torch::Tensor& logits, const torch::Tensor& codes);

// The mean of per-code losses [B, N] where the first `first` codes of each row (raster order)
// count `weight` times and every other code once, divided by the total weight: it stays a mean
// per code, and weight 1 (or first 0) is the plain mean. `first` beyond N weights the whole row.
// Differentiable.
//
// Why: given its first codes an image is easy to continue (after training, the per-code loss of
// the rest of the grid is near zero), while the first codes choose the concept and the style.
// Weighting them up spends the gradient where the prompt has to decide (docs/training.md).
torch::Tensor WeightedCodeMean(const torch::Tensor& per_code, int64_t first, double weight);

}  // namespace duet::training
