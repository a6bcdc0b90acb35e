// Implementation of training/losses.h.
#include "training/losses.h"

#include <algorithm>

namespace duet::training {

torch::Tensor CodeCrossEntropy(const torch::Tensor& logits, const torch::Tensor& codes) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits.flatten(0, 1), codes.flatten(),
                          F::CrossEntropyFuncOptions().reduction(torch::kNone))
      .view_as(codes);
}

torch::Tensor WeightedCodeMean(const torch::Tensor& per_code, int64_t first, double weight) {
  const int64_t n = per_code.size(1);
  torch::Tensor w = torch::ones({n}, per_code.options());
  w.narrow(0, 0, std::clamp<int64_t>(first, 0, n)).fill_(weight);
  return (per_code * w).sum() / (w.sum() * static_cast<double>(per_code.size(0)));
}

}  // namespace duet::training
