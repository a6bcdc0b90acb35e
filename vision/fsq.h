// Finite scalar quantization (Mentzer et al., 2023, "Finite Scalar Quantization: VQ-VAE Made
// Simple"): each latent channel is bounded and rounded to a few levels; no codebook to learn.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace duet::vision {

// Shapes: latents and codes are [B, D, *spatial] with D = levels.size() on dim 1; indices are
// [B, *spatial] int64 in [0, codebook_size()). Channel d takes levels[d] values; a code value is
// q / (levels[d] / 2) for integer q in [-(levels[d] / 2), (levels[d] - 1) / 2]. The index is
// mixed-radix: sum_d (q_d + levels[d] / 2) * prod_{e<d} levels[e]. The module has no parameters
// or buffers, so it adds nothing to checkpoints. Not thread-safe while being moved or trained;
// concurrent const use of the methods below is safe.
class FsqImpl : public torch::nn::Module {
 public:
  // Precondition: 1..16 levels, each >= 2, product < 2^31 (ImageTokenizerConfig validates).
  explicit FsqImpl(std::vector<int> levels);

  // Latents [B, D, ...] -> quantized codes [B, D, ...] in [-1, 1]. Rounding uses the
  // straight-through estimator: forward value rounded, gradient that of the bounded latent.
  torch::Tensor forward(const torch::Tensor& latents);

  // Codes (exact quantizer outputs) [B, D, ...] -> indices [B, ...] int64.
  torch::Tensor CodesToIndices(const torch::Tensor& codes) const;

  // Indices [B, ...] int64 in range -> codes [B, D, ...] float32 on the same device.
  // Exact inverse of CodesToIndices over [0, codebook_size()).
  torch::Tensor IndicesToCodes(const torch::Tensor& indices) const;

  int64_t codebook_size() const { return codebook_size_; }
  int dim() const { return static_cast<int>(levels_.size()); }

 private:
  // A per-channel constant shaped [1, D, 1, ...] to broadcast against `like` ([B, D, ...]).
  torch::Tensor PerChannel(const std::vector<double>& values, const torch::Tensor& like,
                           torch::ScalarType dtype = torch::kFloat32) const;

  std::vector<int> levels_;
  std::vector<double> half_width_;  // levels / 2 (integer division): code = q / half_width.
  std::vector<double> basis_;       // Mixed-radix place values, prod of earlier levels.
  int64_t codebook_size_ = 1;
};
TORCH_MODULE(Fsq);

}  // namespace duet::vision
