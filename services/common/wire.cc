// Implementation of services/common/wire.h.
#include "services/common/wire.h"

#include <cstring>

namespace duet::services {
namespace {

size_t ElementSize(v1::DType dtype) { return dtype == v1::DTYPE_INT64 ? 8 : 4; }

Status CheckShape(const v1::Tensor& proto, const TensorSpec& spec) {
  if (proto.dtype() != spec.dtype) {
    return absl::InvalidArgumentError(absl::StrCat(spec.field, " must have dtype ",
                                                   v1::DType_Name(spec.dtype), ", got ",
                                                   v1::DType_Name(proto.dtype())));
  }
  if (proto.shape_size() != static_cast<int>(spec.shape.size())) {
    return absl::InvalidArgumentError(absl::StrCat(spec.field, " must have rank ",
                                                   spec.shape.size(), ", got ", proto.shape_size()));
  }
  for (int i = 0; i < proto.shape_size(); ++i) {
    const int64_t got = proto.shape(i), want = spec.shape[i];
    if (want >= 0 && got != want) {
      return absl::InvalidArgumentError(
          absl::StrCat(spec.field, " dimension ", i, " must be ", want, ", got ", got));
    }
    if (want < 0 && (got < spec.min_dim || got > spec.max_dim)) {
      return absl::InvalidArgumentError(absl::StrCat(spec.field, " dimension ", i,
                                                     " must be in [", spec.min_dim, ", ",
                                                     spec.max_dim, "], got ", got));
    }
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<torch::Tensor> TensorFromProto(const v1::Tensor& proto, const TensorSpec& spec) {
  DUET_RETURN_IF_ERROR(CheckShape(proto, spec));
  // Every dimension is bounded by max_dim (<= 2^20) and the message by its size limit, so the
  // product below is checked against the byte count before anything overflows.
  std::vector<int64_t> shape(proto.shape().begin(), proto.shape().end());
  uint64_t numel = 1;
  for (int64_t d : shape) {
    numel *= static_cast<uint64_t>(d);
    if (numel > proto.data().size()) break;
  }
  const uint64_t bytes = numel * ElementSize(spec.dtype);
  if (numel > proto.data().size() || bytes != proto.data().size()) {
    return absl::InvalidArgumentError(absl::StrCat(spec.field, " has ", proto.data().size(),
                                                   " data bytes, its shape needs ", bytes));
  }
  const auto dtype = spec.dtype == v1::DTYPE_INT64 ? torch::kInt64 : torch::kFloat32;
  torch::Tensor tensor = torch::empty(shape, dtype);
  if (bytes > 0) std::memcpy(tensor.data_ptr(), proto.data().data(), bytes);
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

fusion::SamplingParams SamplingFromProto(const v1::Sampling& proto,
                                         const fusion::SamplingParams& defaults) {
  fusion::SamplingParams params;
  params.temperature = proto.has_temperature() ? proto.temperature() : defaults.temperature;
  params.top_k = proto.has_top_k() ? proto.top_k() : defaults.top_k;
  params.top_p = proto.has_top_p() ? proto.top_p() : defaults.top_p;
  params.guidance_scale = proto.has_guidance_scale() ? proto.guidance_scale() : defaults.guidance_scale;
  params.seed = proto.seed();
  return params;
}

void SamplingToProto(const fusion::SamplingParams& params, v1::Sampling* proto) {
  proto->set_temperature(params.temperature);
  proto->set_top_k(params.top_k);
  proto->set_top_p(params.top_p);
  proto->set_guidance_scale(params.guidance_scale);
  proto->set_seed(params.seed);
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
