// Stage checkpoints: module weights, AdamW state and the step in one safetensors file per step,
// <stage dir>/step-00000123.safetensors. The newest one is where a stage resumes.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/safetensors.h"
#include "common/status.h"
#include "training/adam.h"

namespace duet::training {

// A module and the tensor-name prefix it is saved under (e.g. "transformer.", as in a model
// directory's model.safetensors, so checkpoints and models share names).
struct NamedModule {
  std::string prefix;
  torch::nn::Module* module = nullptr;
};

// Every parameter of every module, named prefix + name (the optimizer's slots).
std::vector<std::pair<std::string, torch::Tensor>> NamedParameters(
    const std::vector<NamedModule>& modules);

// Path of the checkpoint of `step` in `dir`.
std::string CheckpointPath(const std::string& dir, int64_t step);
// Step of the newest checkpoint in `dir`, or 0 when there is none (or no dir).
int64_t LatestCheckpointStep(const std::string& dir);

// Writes modules, optimizer and step (metadata "step", plus `metadata`) atomically, then deletes
// all but the newest `keep` checkpoints of the directory.
Status SaveCheckpoint(const std::string& dir, int64_t step, const std::vector<NamedModule>& modules,
                      const AdamW* optimizer, const std::map<std::string, std::string>& metadata,
                      int keep);

// Loads the modules (and the optimizer when given) from a checkpoint file; returns its step.
// NotFound when missing; InvalidArgument for a missing tensor or a shape mismatch.
StatusOr<int64_t> LoadCheckpoint(const std::string& path, const std::vector<NamedModule>& modules,
                                 AdamW* optimizer);

}  // namespace duet::training
