// The prefill kernel instantiated for f16 (one .cu per dtype so the two compile in parallel).
// Head dims 64 and 128; see prefill_kernel.cuh.
#include "kernels/cuda/prefill_kernel.cuh"

namespace duet::kernels::cuda {

template absl::Status LaunchPrefill<ElementType::kF16, 64>(const DeviceAttentionParams&,
                                                           cudaStream_t);
template absl::Status LaunchPrefill<ElementType::kF16, 128>(const DeviceAttentionParams&,
                                                            cudaStream_t);

}  // namespace duet::kernels::cuda
