// FSQ: bound with a shifted tanh so each channel rounds to exactly levels[d] integers, round
// with a straight-through gradient, and map codes to indices by mixed-radix digits.
#include "vision/fsq.h"

#include <cmath>
#include <utility>

namespace duet::vision {
namespace {

// Keeps tanh's open range strictly wider than the integer range, so the extreme levels are hit.
constexpr double kBoundEpsilon = 1e-3;

}  // namespace

FsqImpl::FsqImpl(std::vector<int> levels) : levels_(std::move(levels)) {
  for (const int level : levels_) {
    half_width_.push_back(static_cast<double>(level / 2));
    basis_.push_back(static_cast<double>(codebook_size_));
    codebook_size_ *= level;
  }
}

torch::Tensor FsqImpl::PerChannel(const std::vector<double>& values, const torch::Tensor& like,
                                  torch::ScalarType dtype) const {
  std::vector<int64_t> shape(like.dim(), 1);
  shape[1] = static_cast<int64_t>(values.size());
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat64))
      .to(like.device(), dtype)
      .view(shape);
}

torch::Tensor FsqImpl::forward(const torch::Tensor& latents) {
  TORCH_CHECK(latents.dim() >= 2 && latents.size(1) == dim(), "FSQ expects [B, ", dim(),
              ", ...] latents, got ", latents.sizes());
  // bounded = tanh(z + shift) * half_range - offset, with offset 0.5 for even levels so that
  // rounding yields levels[d] integers, and shift keeping z = 0 at bounded = 0.
  std::vector<double> half_range, offset, shift;
  for (const int level : levels_) {
    half_range.push_back((level - 1) * (1.0 + kBoundEpsilon) / 2.0);
    offset.push_back(level % 2 == 0 ? 0.5 : 0.0);
    shift.push_back(std::atanh(offset.back() / half_range.back()));
  }
  const torch::Tensor z = latents.to(torch::kFloat32);
  const torch::Tensor bounded = torch::tanh(z + PerChannel(shift, z)) * PerChannel(half_range, z) -
                                PerChannel(offset, z);  // [B, D, ...]
  const torch::Tensor rounded = bounded + (torch::round(bounded) - bounded).detach();  // STE.
  return rounded / PerChannel(half_width_, z);  // [B, D, ...]
}

torch::Tensor FsqImpl::CodesToIndices(const torch::Tensor& codes) const {
  TORCH_CHECK(codes.dim() >= 2 && codes.size(1) == dim(), "FSQ expects [B, ", dim(),
              ", ...] codes, got ", codes.sizes());
  const torch::Tensor c = codes.detach().to(torch::kFloat32);
  const torch::Tensor half = PerChannel(half_width_, c);
  const torch::Tensor digits = torch::round(c * half + half).to(torch::kInt64);  // [B, D, ...]
  return (digits * PerChannel(basis_, c, torch::kInt64)).sum(1);                 // [B, ...]
}

torch::Tensor FsqImpl::IndicesToCodes(const torch::Tensor& indices) const {
  TORCH_CHECK(indices.scalar_type() == torch::kInt64, "FSQ indices must be int64, got ",
              indices.scalar_type());
  const torch::Tensor idx = indices.unsqueeze(1);  // [B, 1, ...]
  const std::vector<double> levels(levels_.begin(), levels_.end());
  const torch::Tensor digits =
      torch::remainder(torch::div(idx, PerChannel(basis_, idx, torch::kInt64), "floor"),
                       PerChannel(levels, idx, torch::kInt64));  // [B, D, ...]
  const torch::Tensor half = PerChannel(half_width_, idx);
  return (digits.to(torch::kFloat32) - half) / half;  // [B, D, ...]
}

}  // namespace duet::vision
