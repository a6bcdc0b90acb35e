// AdamW over named parameters, with its state exposed as named tensors so a checkpoint holds it
// (and a resumed run continues bit for bit). Small on purpose: the update is the paper's.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "common/safetensors.h"
#include "common/status.h"

namespace duet::training {

// Not thread-safe. Parameters are held by reference (torch tensors share storage).
class AdamW {
 public:
  struct Options {
    double beta1 = 0.9;
    double beta2 = 0.99;
    double eps = 1e-8;
    double weight_decay = 0.0;  // decoupled; applied to parameters with >= 2 dims only
  };

  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, Options options);

  // One update with learning rate `lr` from the parameters' current .grad() (parameters without
  // a gradient are skipped), then clears the gradients.
  void Step(double lr);
  // Clips the global L2 norm of all gradients to `max_norm` (> 0); returns the norm before.
  double ClipGradNorm(double max_norm);

  // Adds "adam.exp_avg.<name>", "adam.exp_avg_sq.<name>" and metadata "adam.steps".
  Status Save(SafetensorsFile* file) const;
  // Restores what Save wrote; InvalidArgument naming a missing or misshapen tensor.
  Status Load(const SafetensorsFile& file);

  int64_t steps() const { return steps_; }

 private:
  struct Slot {
    std::string name;
    torch::Tensor param, exp_avg, exp_avg_sq;
  };
  std::vector<Slot> slots_;
  Options options_;
  int64_t steps_ = 0;
};

}  // namespace duet::training
