// Implementation of services/common/wire_values.h.
#include "services/common/wire_values.h"

#include <cstring>
#include <type_traits>

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

// The wire dtype of int64_t and float values.
template <typename T>
constexpr v1::DType DtypeOf() {
  return std::is_same_v<T, int64_t> ? v1::DTYPE_INT64 : v1::DTYPE_FLOAT32;
}

template <typename T>
void PutValues(const std::vector<T>& values, const std::vector<int64_t>& shape,
               v1::Tensor* proto) {
  proto->set_dtype(DtypeOf<T>());
  proto->clear_shape();
  for (int64_t d : shape) proto->add_shape(d);
  proto->set_data(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
StatusOr<std::vector<T>> GetValues(const v1::Tensor& proto, const TensorSpec& spec,
                                   std::vector<int64_t>* shape) {
  if (spec.dtype != DtypeOf<T>()) {
    return absl::InternalError(absl::StrCat(spec.field, ": spec asks for ",
                                            v1::DType_Name(spec.dtype)));
  }
  DUET_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, CheckTensor(proto, spec));
  std::vector<T> values(proto.data().size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), proto.data().data(), proto.data().size());
  if (shape != nullptr) *shape = std::move(sizes);
  return values;
}

}  // namespace

StatusOr<std::vector<int64_t>> CheckTensor(const v1::Tensor& proto, const TensorSpec& spec) {
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
  return shape;
}

StatusOr<std::vector<int64_t>> Int64sFromProto(const v1::Tensor& proto, const TensorSpec& spec,
                                               std::vector<int64_t>* shape) {
  return GetValues<int64_t>(proto, spec, shape);
}

StatusOr<std::vector<float>> FloatsFromProto(const v1::Tensor& proto, const TensorSpec& spec,
                                             std::vector<int64_t>* shape) {
  return GetValues<float>(proto, spec, shape);
}

void ValuesToProto(const std::vector<int64_t>& values, const std::vector<int64_t>& shape,
                   v1::Tensor* proto) {
  PutValues(values, shape, proto);
}

void ValuesToProto(const std::vector<float>& values, const std::vector<int64_t>& shape,
                   v1::Tensor* proto) {
  PutValues(values, shape, proto);
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

}  // namespace duet::services
