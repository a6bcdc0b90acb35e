// Implementation of kernels/cpu/thread_pool.h with OpenMP: a dynamic schedule of one task at a
// time, so long tasks (put first) and short ones balance across the team.
#include "kernels/cpu/thread_pool.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>

namespace duet::kernels {
namespace {

int ThreadsFromEnvironment() {
  static const int threads = [] {
    const char* env = std::getenv("DUET_NUM_THREADS");
    return env != nullptr ? std::max(0, std::atoi(env)) : 0;
  }();
  return threads;
}

}  // namespace

int CpuKernelThreads() {
  if (omp_in_parallel()) return 1;
  const int env = ThreadsFromEnvironment();
  return env > 0 ? env : std::max(1, omp_get_max_threads());
}

void ParallelFor(int64_t count, const std::function<void(int64_t)>& task) {
  if (count <= 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(CpuKernelThreads(), count));
  if (threads <= 1) {
    for (int64_t i = 0; i < count; ++i) task(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < count; ++i) task(i);
}

}  // namespace duet::kernels
