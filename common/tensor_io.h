// Bridges between safetensors records and LibTorch: tensors, and whole modules by parameter name.
// Every torch exception is caught here and returned as a Status.
#pragma once

#include <string>

#include <torch/torch.h>

#include "common/safetensors.h"
#include "common/status.h"

namespace duet {

// Copies a record into a new contiguous CPU tensor of the matching dtype.
StatusOr<torch::Tensor> ToTorch(const RawTensor& raw);

// Copies a tensor (any device, any layout) into a record. InvalidArgument for unsupported dtypes.
StatusOr<RawTensor> FromTorch(const torch::Tensor& tensor);

// Adds every parameter and buffer of `module` to `file`, named `prefix + name`.
Status SaveModule(const torch::nn::Module& module, const std::string& prefix,
                  SafetensorsFile* file);

// Copies `prefix + name` tensors from `file` into every parameter and buffer of `module`.
// Missing names and shape mismatches are errors naming the tensor; dtype is converted.
Status LoadModule(const SafetensorsFile& file, const std::string& prefix,
                  torch::nn::Module* module);

// Runs `fn`, turning any c10::Error or std::exception into an Internal status.
template <typename Fn>
Status CatchTorch(const char* what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const size_t cut = message.find("\nException raised from"); cut != std::string::npos) {
      message.resize(cut);
    }
    return absl::InternalError(absl::StrCat(what, ": ", message));
  }
}

}  // namespace duet
