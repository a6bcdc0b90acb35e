// Parallel loops for the CPU kernels, on the process's one OpenMP pool: the same threads LibTorch
// uses (Debian's LibTorch runs on libgomp), so the kernels never bring a second pool that would
// spin against LibTorch's on a small machine.
#pragma once

#include <cstdint>
#include <functional>

namespace duet::kernels {

// Threads a ParallelFor from the calling thread uses, the caller included: DUET_NUM_THREADS when
// it is set to a positive integer, else the caller's OpenMP setting (omp_get_max_threads(), which
// torch::set_num_threads sets), at least 1. Inside a parallel region: 1.
int CpuKernelThreads();

// Runs task(i) for every i in [0, count) on the OpenMP team of the calling thread and returns when
// all have finished. Tasks are claimed one at a time in increasing i, so put the longest first.
// task must be safe to call concurrently for distinct i. Thread-safe: concurrent callers each get a
// team of their own. With CpuKernelThreads() == 1 or count == 1 everything runs on the caller.
void ParallelFor(int64_t count, const std::function<void(int64_t)>& task);

}  // namespace duet::kernels
