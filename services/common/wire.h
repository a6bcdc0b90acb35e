// Conversions between wire messages (duet.v1.Tensor, Sampling) and engine values, with the
// validation a server needs before any tensor reaches the model.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"
#include "duet/v1/common.pb.h"
#include "fusion/sampler.h"

namespace duet::services {

// What a tensor field must look like. A dimension of -1 accepts any size in [min_dim, max_dim].
struct TensorSpec {
  const char* field = "tensor";        // named in errors
  v1::DType dtype = v1::DTYPE_FLOAT32;
  std::vector<int64_t> shape;          // expected sizes; -1 = free within [min_dim, max_dim]
  int64_t min_dim = 1;
  int64_t max_dim = 1 << 20;
};

// Checks dtype, rank, sizes and byte count against `spec` and copies the data into a new CPU
// tensor (float32 or int64). InvalidArgument naming spec.field and the limit. Thread-safe.
StatusOr<torch::Tensor> TensorFromProto(const v1::Tensor& proto, const TensorSpec& spec);

// Writes a float32 or int64 tensor (any device; converted to contiguous CPU) into `proto`.
// InvalidArgument for other dtypes.
Status TensorToProto(const torch::Tensor& tensor, v1::Tensor* proto);

// The wire sampling settings, unset fields taken from `defaults` (seed excepted). Does not validate.
fusion::SamplingParams SamplingFromProto(const v1::Sampling& proto,
                                         const fusion::SamplingParams& defaults);
void SamplingToProto(const fusion::SamplingParams& params, v1::Sampling* proto);

// InvalidArgument unless every value of a float tensor is finite.
Status CheckFinite(const torch::Tensor& tensor, const char* field);
// InvalidArgument unless every value of an int64 tensor is in [lo, hi).
Status CheckIdRange(const torch::Tensor& tensor, const char* field, int64_t lo, int64_t hi);

}  // namespace duet::services
