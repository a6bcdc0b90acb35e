// Implementation of common/mixed_precision.h.
#include "common/mixed_precision.h"

namespace duet {
namespace {

thread_local torch::ScalarType thread_compute_dtype = torch::kFloat32;

torch::Tensor As(const torch::Tensor& t, torch::ScalarType dtype) {
  return t.defined() && t.scalar_type() != dtype ? t.to(dtype) : t;
}

}  // namespace

ComputeDtypeScope::ComputeDtypeScope(torch::ScalarType dtype) : previous_(thread_compute_dtype) {
  thread_compute_dtype = dtype;
}

ComputeDtypeScope::~ComputeDtypeScope() { thread_compute_dtype = previous_; }

torch::ScalarType ComputeDtypeFor(const torch::Tensor& weight) {
  return weight.scalar_type() != torch::kFloat32 ? weight.scalar_type() : thread_compute_dtype;
}

torch::Tensor Linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  const torch::ScalarType dtype = ComputeDtypeFor(layer->weight);
  return torch::linear(As(x, dtype), As(layer->weight, dtype), As(layer->bias, dtype));
}

torch::Tensor Conv2d(const torch::nn::Conv2d& layer, const torch::Tensor& x) {
  const auto& options = layer->options;
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&options.padding());
  TORCH_CHECK(padding != nullptr, "Conv2d helper supports integer padding only");
  const torch::ScalarType dtype = ComputeDtypeFor(layer->weight);
  return torch::conv2d(As(x, dtype), As(layer->weight, dtype), As(layer->bias, dtype),
                       options.stride(), *padding, options.dilation(), options.groups());
}

torch::Tensor Norm32(const torch::nn::LayerNorm& norm, const torch::Tensor& x) {
  const auto& options = norm->options;
  return torch::layer_norm(As(x, torch::kFloat32), options.normalized_shape(), norm->weight,
                           norm->bias, options.eps());
}

torch::Tensor Norm32(const torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  const auto& options = norm->options;
  return torch::group_norm(As(x, torch::kFloat32), options.num_groups(), norm->weight, norm->bias,
                           options.eps());
}

void ConvertForInference(torch::nn::Module& module, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (const auto& child : module.modules(/*include_self=*/true)) {
    const bool matmul = child->as<torch::nn::LinearImpl>() != nullptr ||
                        child->as<torch::nn::Conv2dImpl>() != nullptr;
    if (!matmul) continue;
    for (auto& p : child->named_parameters(/*recurse=*/false)) p.value().set_data(p.value().to(dtype));
  }
}

}  // namespace duet
