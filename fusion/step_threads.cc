// Implementation of fusion/step_threads.h.
#include "fusion/step_threads.h"

#include <omp.h>

namespace duet::fusion {

// omp_set_num_threads sets the calling thread's OpenMP setting, which LibTorch, oneDNN and the
// attention kernels all read (at::get_num_threads() is omp_get_max_threads() in this build).
StepThreads::StepThreads(int64_t rows) {
  if (rows >= kMinRowsForThreads || omp_get_max_threads() == 1) return;
  previous_ = omp_get_max_threads();
  omp_set_num_threads(1);
}

StepThreads::~StepThreads() {
  if (previous_ > 0) omp_set_num_threads(previous_);
}

}  // namespace duet::fusion
