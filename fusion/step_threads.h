// Threads for one decoding step by its row count. A step of a few rows is a chain of tiny ops;
// waking a second thread for each costs more than it saves (measured on 2 cores: 2 rows 0.81 ms
// per step on one thread, 1.09 ms on two; 32 rows 2.71 against 2.84 ms; from 128 rows two
// threads win, 6.9 against 9.5 ms). Changes only the calling thread's OpenMP team.
#pragma once

#include <cstdint>

namespace duet::fusion {

// Steps of fewer rows than this run on the calling thread alone.
inline constexpr int64_t kMinRowsForThreads = 64;

// Lowers the calling thread's intra-op threads to 1 for a small step, restoring them on exit.
class StepThreads {
 public:
  explicit StepThreads(int64_t rows);
  ~StepThreads();
  StepThreads(const StepThreads&) = delete;
  StepThreads& operator=(const StepThreads&) = delete;

 private:
  int previous_ = 0;  // 0: nothing changed
};

}  // namespace duet::fusion
