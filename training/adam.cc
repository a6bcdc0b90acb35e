// Implementation of training/adam.h (Loshchilov & Hutter's AdamW with bias correction).
#include "training/adam.h"

#include <cmath>

#include "common/tensor_io.h"

namespace duet::training {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, Options options)
    : options_(options) {
  for (auto& [name, param] : params) {
    slots_.push_back({name, param, torch::zeros_like(param), torch::zeros_like(param)});
  }
}

void AdamW::Step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (Slot& s : slots_) {
    torch::Tensor grad = s.param.mutable_grad();
    if (!grad.defined()) continue;
    if (options_.weight_decay > 0 && s.param.dim() >= 2) {
      s.param.mul_(1.0 - lr * options_.weight_decay);
    }
    s.exp_avg.mul_(options_.beta1).add_(grad, 1.0 - options_.beta1);
    s.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);
    const torch::Tensor denom = (s.exp_avg_sq / correction2).sqrt_().add_(options_.eps);
    s.param.addcdiv_(s.exp_avg, denom, -lr / correction1);
    grad.zero_();
  }
}

double AdamW::ClipGradNorm(double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (Slot& s : slots_) {
    if (s.param.grad().defined()) norms.push_back(s.param.grad().norm(2).to(torch::kFloat64));
  }
  if (norms.empty()) return 0;
  const double total = torch::stack(norms).norm(2).item<double>();
  if (total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (Slot& s : slots_) {
      if (s.param.grad().defined()) s.param.mutable_grad().mul_(scale);
    }
  }
  return total;
}

Status AdamW::Save(SafetensorsFile* file) const {
  for (const Slot& s : slots_) {
    DUET_ASSIGN_OR_RETURN(file->tensors["adam.exp_avg." + s.name], FromTorch(s.exp_avg));
    DUET_ASSIGN_OR_RETURN(file->tensors["adam.exp_avg_sq." + s.name], FromTorch(s.exp_avg_sq));
  }
  file->metadata["adam.steps"] = std::to_string(steps_);
  return absl::OkStatus();
}

Status AdamW::Load(const SafetensorsFile& file) {
  const auto steps = file.metadata.find("adam.steps");
  if (steps == file.metadata.end())
    return absl::InvalidArgumentError("checkpoint has no adam.steps");
  for (Slot& s : slots_) {
    for (auto [key, target] :
         {std::pair{"adam.exp_avg.", &s.exp_avg}, std::pair{"adam.exp_avg_sq.", &s.exp_avg_sq}}) {
      const auto it = file.tensors.find(key + s.name);
      if (it == file.tensors.end()) {
        return absl::InvalidArgumentError(absl::StrCat("checkpoint has no ", key, s.name));
      }
      DUET_ASSIGN_OR_RETURN(torch::Tensor value, ToTorch(it->second));
      if (value.sizes() != target->sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(key, s.name, " has the wrong shape"));
      }
      torch::NoGradGuard no_grad;
      target->copy_(value);
    }
  }
  steps_ = std::stoll(steps->second);
  return absl::OkStatus();
}

}  // namespace duet::training
