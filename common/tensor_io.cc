// Implementation of common/tensor_io.h.
#include "common/tensor_io.h"

#include <cstring>

namespace duet {
namespace {

struct DTypePair {
  DType ours;
  torch::ScalarType theirs;
};

constexpr DTypePair kPairs[] = {
    {DType::kF64, torch::kFloat64}, {DType::kF32, torch::kFloat32},
    {DType::kF16, torch::kFloat16}, {DType::kBF16, torch::kBFloat16},
    {DType::kI64, torch::kInt64},   {DType::kI32, torch::kInt32},
    {DType::kI16, torch::kInt16},   {DType::kI8, torch::kInt8},
    {DType::kU8, torch::kUInt8},    {DType::kBool, torch::kBool},
};

}  // namespace

StatusOr<torch::Tensor> ToTorch(const RawTensor& raw) {
  for (const DTypePair& pair : kPairs) {
    if (pair.ours != raw.dtype) continue;
    if (raw.data.size() != static_cast<size_t>(raw.numel()) * DTypeSize(raw.dtype)) {
      return absl::InvalidArgumentError("tensor data size does not match its shape");
    }
    torch::Tensor out = torch::empty(raw.shape, torch::TensorOptions().dtype(pair.theirs));
    if (!raw.data.empty()) std::memcpy(out.data_ptr(), raw.data.data(), raw.data.size());
    return out;
  }
  return absl::InvalidArgumentError("unsupported dtype");
}

StatusOr<RawTensor> FromTorch(const torch::Tensor& tensor) {
  for (const DTypePair& pair : kPairs) {
    if (pair.theirs != tensor.scalar_type()) continue;
    const torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    RawTensor raw;
    raw.dtype = pair.ours;
    raw.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
    raw.data.assign(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes());
    return raw;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported tensor dtype ", c10::toString(tensor.scalar_type())));
}

Status SaveModule(const torch::nn::Module& module, const std::string& prefix,
                  SafetensorsFile* file) {
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    DUET_ASSIGN_OR_RETURN(file->tensors[prefix + item.key()], FromTorch(item.value()));
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    DUET_ASSIGN_OR_RETURN(file->tensors[prefix + item.key()], FromTorch(item.value()));
  }
  return absl::OkStatus();
}

Status LoadModule(const SafetensorsFile& file, const std::string& prefix,
                  torch::nn::Module* module) {
  torch::NoGradGuard no_grad;
  auto load = [&](const std::string& name, torch::Tensor& target) -> Status {
    const auto it = file.tensors.find(prefix + name);
    if (it == file.tensors.end()) {
      return absl::NotFoundError(absl::StrCat("checkpoint has no tensor ", prefix, name));
    }
    DUET_ASSIGN_OR_RETURN(torch::Tensor value, ToTorch(it->second));
    if (value.sizes() != target.sizes()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", prefix, name, " has shape ", c10::str(value.sizes()),
                       ", the model expects ", c10::str(target.sizes())));
    }
    return CatchTorch("load", [&] { target.copy_(value); });
  };
  for (auto& item : module->named_parameters(/*recurse=*/true)) {
    DUET_RETURN_IF_ERROR(load(item.key(), item.value()));
  }
  for (auto& item : module->named_buffers(/*recurse=*/true)) {
    DUET_RETURN_IF_ERROR(load(item.key(), item.value()));
  }
  return absl::OkStatus();
}

}  // namespace duet
