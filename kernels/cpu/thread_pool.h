// A small persistent thread pool for the CPU kernels: ParallelFor over independent tasks.
// Threads are started once and reused, so a call costs a wake-up, not a thread spawn.
#pragma once

#include <cstdint>
#include <functional>

namespace duet::kernels {

// Threads the CPU kernels use, the calling thread included: DUET_NUM_THREADS when it is set to a
// positive integer, else std::thread::hardware_concurrency() (at least 1). Read once per process.
int CpuKernelThreads();

// Runs task(i) for every i in [0, count) on the pool's workers and the calling thread, and returns
// when all have finished. Tasks are claimed in increasing i, so put the longest first. task must be
// safe to call concurrently for distinct i. Thread-safe: concurrent calls share the workers.
// With CpuKernelThreads() == 1 or count == 1 everything runs on the calling thread.
void ParallelFor(int64_t count, const std::function<void(int64_t)>& task);

}  // namespace duet::kernels
