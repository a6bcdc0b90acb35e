// Wire messages (duet.v1.Tensor, Sampling) <-> plain C++ values, with no LibTorch: what the
// gateway needs. services/common/wire.h adds the LibTorch tensors the model servers use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "duet/v1/common.pb.h"
#include "fusion/sampling.h"

namespace duet::services {

// What a tensor field must look like. A dimension of -1 accepts any size in [min_dim, max_dim].
struct TensorSpec {
  const char* field = "tensor";        // named in errors
  v1::DType dtype = v1::DTYPE_FLOAT32;
  std::vector<int64_t> shape;          // expected sizes; -1 = free within [min_dim, max_dim]
  int64_t min_dim = 1;
  int64_t max_dim = 1 << 20;
};

// InvalidArgument naming spec.field and the limit unless dtype, rank, sizes and byte count
// match `spec`. Returns the shape.
StatusOr<std::vector<int64_t>> CheckTensor(const v1::Tensor& proto, const TensorSpec& spec);

// The values of a checked tensor, row-major: int64 for DTYPE_INT64 specs, float for
// DTYPE_FLOAT32 ones. `shape` (optional) receives its shape.
StatusOr<std::vector<int64_t>> Int64sFromProto(const v1::Tensor& proto, const TensorSpec& spec,
                                               std::vector<int64_t>* shape = nullptr);
StatusOr<std::vector<float>> FloatsFromProto(const v1::Tensor& proto, const TensorSpec& spec,
                                             std::vector<int64_t>* shape = nullptr);
// Row-major values of the given shape into `proto`.
void ValuesToProto(const std::vector<int64_t>& values, const std::vector<int64_t>& shape,
                   v1::Tensor* proto);
void ValuesToProto(const std::vector<float>& values, const std::vector<int64_t>& shape,
                   v1::Tensor* proto);

// The wire sampling settings, unset fields taken from `defaults` (seed excepted). Does not validate.
fusion::SamplingParams SamplingFromProto(const v1::Sampling& proto,
                                         const fusion::SamplingParams& defaults);
void SamplingToProto(const fusion::SamplingParams& params, v1::Sampling* proto);

}  // namespace duet::services
