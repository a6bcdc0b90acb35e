// CUDA entry points for builds without nvcc: they link, report no device and return Unimplemented.
// Callers check CudaAttentionAvailable() (or the status) and fall back to the CPU kernels.
#include "kernels/cuda/attention_cuda.h"

namespace duet::kernels {
namespace {

absl::Status NotBuilt() {
  return absl::UnimplementedError("duet was built without CUDA kernels (nvcc not found)");
}

}  // namespace

bool CudaAttentionAvailable() { return false; }

absl::Status AttentionCudaPrefill(const AttentionArgs&, void*) { return NotBuilt(); }

size_t AttentionCudaDecodeWorkspaceBytes(const AttentionArgs&) { return 0; }

absl::Status AttentionCudaDecode(const AttentionArgs&, void*, void*, size_t) { return NotBuilt(); }

}  // namespace duet::kernels
