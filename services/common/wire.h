// Conversions between wire tensors (duet.v1.Tensor) and LibTorch tensors, with the validation a
// model server needs before any tensor reaches the model; plain values are in wire_values.h.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"
#include "duet/v1/common.pb.h"
#include "services/common/wire_values.h"

namespace duet::services {

// Checks dtype, rank, sizes and byte count against `spec` and copies the data into a new CPU
// tensor (float32 or int64). InvalidArgument naming spec.field and the limit. Thread-safe.
StatusOr<torch::Tensor> TensorFromProto(const v1::Tensor& proto, const TensorSpec& spec);

// Writes a float32 or int64 tensor (any device; converted to contiguous CPU) into `proto`.
// InvalidArgument for other dtypes.
Status TensorToProto(const torch::Tensor& tensor, v1::Tensor* proto);

// InvalidArgument unless every value of a float tensor is finite.
Status CheckFinite(const torch::Tensor& tensor, const char* field);
// InvalidArgument unless every value of an int64 tensor is in [lo, hi).
Status CheckIdRange(const torch::Tensor& tensor, const char* field, int64_t lo, int64_t hi);

}  // namespace duet::services
