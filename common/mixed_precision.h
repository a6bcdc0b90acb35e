// Mixed precision for Duet's modules: matrix products (linear layers, convolutions, attention) run
// in a compute dtype, bfloat16 on CPUs with bf16 instructions; norms, softmax, residual streams,
// logits, losses and sampling stay float32.
//
// Two ways a module gets its compute dtype, so one forward serves training and inference:
//  - inference: ConvertForInference() stores every Linear and Conv2d weight in the dtype once,
//    at load; the helpers below then compute in the dtype of the weights.
//  - training: weights stay float32 (the master copy the optimiser updates) and a
//    ComputeDtypeScope on the training thread makes the helpers cast them per call; gradients
//    flow back to the float32 weights.
#pragma once

#include <torch/torch.h>

namespace duet {

// Sets the compute dtype of float32 weights on this thread for the scope's lifetime (float32
// when no scope is live; nests, restoring the previous value).
class ComputeDtypeScope {
 public:
  explicit ComputeDtypeScope(torch::ScalarType dtype);
  ~ComputeDtypeScope();
  ComputeDtypeScope(const ComputeDtypeScope&) = delete;
  ComputeDtypeScope& operator=(const ComputeDtypeScope&) = delete;

 private:
  torch::ScalarType previous_;
};

// The dtype a product with `weight` runs in: the weight's own dtype when it is not float32,
// else the thread's (ComputeDtypeScope).
torch::ScalarType ComputeDtypeFor(const torch::Tensor& weight);

// linear(x) in ComputeDtypeFor(weight); x of any float dtype. Output in that dtype.
torch::Tensor Linear(const torch::nn::Linear& layer, const torch::Tensor& x);
// conv2d(x) likewise (integer padding only, as all of Duet's convolutions use).
torch::Tensor Conv2d(const torch::nn::Conv2d& layer, const torch::Tensor& x);

// Norms in float32: the input is promoted, statistics and output are float32.
torch::Tensor Norm32(const torch::nn::LayerNorm& norm, const torch::Tensor& x);
torch::Tensor Norm32(const torch::nn::GroupNorm& norm, const torch::Tensor& x);

// Stores the weights and biases of every Linear and Conv2d under `module` in `dtype` (norms,
// embeddings and other parameters stay float32). float32 is a no-op on a float32 module.
void ConvertForInference(torch::nn::Module& module, torch::ScalarType dtype);

}  // namespace duet
