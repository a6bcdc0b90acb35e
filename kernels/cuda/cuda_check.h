// CUDA error checking for the kernels: every runtime call and launch becomes an absl::Status
// naming the failed expression, its file and line. Host code only.
#pragma once

#include <cuda_runtime_api.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace duet::kernels::cuda {

inline absl::Status CudaErrorStatus(cudaError_t error, const char* expr, const char* file,
                                    int line) {
  return absl::InternalError(absl::StrCat(file, ":", line, ": ", expr,
                                          " failed: ", cudaGetErrorName(error), ": ",
                                          cudaGetErrorString(error)));
}

}  // namespace duet::kernels::cuda

// Returns an Internal status from the enclosing function when `expr` is not cudaSuccess. After a
// kernel launch use DUET_CUDA_RETURN_IF_ERROR(cudaGetLastError()).
#define DUET_CUDA_RETURN_IF_ERROR(expr)                                                           \
  do {                                                                                            \
    const cudaError_t duet_cuda_error_ = (expr);                                                  \
    if (duet_cuda_error_ != cudaSuccess) {                                                        \
      return ::duet::kernels::cuda::CudaErrorStatus(duet_cuda_error_, #expr, __FILE__, __LINE__); \
    }                                                                                             \
  } while (0)
