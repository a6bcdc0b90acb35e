// The fused CPU attention kernel behind AttentionPrefill/AttentionDecode on CPU.
#pragma once

#include "kernels/attention.h"

namespace duet::kernels {

// Float32 attention over args (validated here). Same contract as AttentionReference.
absl::Status AttentionCpu(const AttentionArgs& args);

}  // namespace duet::kernels
