// Implementation of services/common/wire.h.
#include "services/common/wire.h"

#include <cstring>

namespace duet::services {

StatusOr<torch::Tensor> TensorFromProto(const v1::Tensor& proto, const TensorSpec& spec) {
  DUET_ASSIGN_OR_RETURN(const std::vector<int64_t> shape, CheckTensor(proto, spec));
  const auto dtype = spec.dtype == v1::DTYPE_INT64 ? torch::kInt64 : torch::kFloat32;
  torch::Tensor tensor = torch::empty(shape, dtype);
  if (!proto.data().empty()) {
    std::memcpy(tensor.data_ptr(), proto.data().data(), proto.data().size());
  }
  return tensor;
}

Status TensorToProto(const torch::Tensor& tensor, v1::Tensor* proto) {
  v1::DType dtype;
  if (tensor.scalar_type() == torch::kFloat32) {
    dtype = v1::DTYPE_FLOAT32;
  } else if (tensor.scalar_type() == torch::kInt64) {
    dtype = v1::DTYPE_INT64;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot send a tensor of type ", c10::toString(tensor.scalar_type())));
  }
  const torch::Tensor cpu = tensor.to(torch::kCPU).contiguous();
  proto->set_dtype(dtype);
  proto->clear_shape();
  for (int64_t d : cpu.sizes()) proto->add_shape(d);
  proto->set_data(static_cast<const char*>(cpu.data_ptr()), cpu.numel() * cpu.element_size());
  return absl::OkStatus();
}

Status CheckFinite(const torch::Tensor& tensor, const char* field) {
  if (tensor.numel() == 0 || torch::isfinite(tensor).all().item<bool>()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " must be finite (found NaN or Inf)"));
}

Status CheckIdRange(const torch::Tensor& tensor, const char* field, int64_t lo, int64_t hi) {
  if (tensor.numel() == 0) return absl::OkStatus();
  const int64_t min = tensor.min().item<int64_t>(), max = tensor.max().item<int64_t>();
  if (min >= lo && max < hi) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " values must be in [", lo, ", ", hi,
                                                 "), got ", min < lo ? min : max));
}

}  // namespace duet::services
