// A bounded work queue served by a fixed pool of threads: the services' handlers enqueue here
// and return at once, so gRPC's callback threads never block on model work.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "services/common/metrics.h"

namespace duet::services {

class WorkQueue {
 public:
  // `threads` workers run the tasks; at most `capacity` tasks wait (running ones not counted).
  // Each worker first runs `on_start` (when set), e.g. to size its own LibTorch thread pool.
  WorkQueue(std::string name, int threads, size_t capacity,
            std::function<void()> on_start = nullptr);
  ~WorkQueue();  // Shutdown()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Enqueues `task`. ResourceExhausted (with a retry hint) when `capacity` tasks already wait,
  // Unavailable after Shutdown(). The task is destroyed without running only on error. Thread-safe.
  Status Submit(std::function<void()> task);
  // Runs the tasks already queued, then joins the workers. Idempotent; not from a worker.
  void Shutdown();
  size_t queued() const;

 private:
  void WorkerLoop();

  const std::string name_;
  const size_t capacity_;
  const QueueMetrics metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace duet::services
