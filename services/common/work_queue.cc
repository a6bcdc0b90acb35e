// Implementation of services/common/work_queue.h.
#include "services/common/work_queue.h"

#include <malloc.h>

#include <atomic>
#include <chrono>

#include "services/common/metrics.h"
#include "services/common/status_convert.h"

namespace duet::services {
namespace {
constexpr int kRetryAfterMs = 200;  // hint sent with RESOURCE_EXHAUSTED
constexpr std::chrono::seconds kTrimInterval(5);

// glibc keeps memory freed by finished requests in its arenas; a worker that finds the queue
// empty hands it back, at most once per kTrimInterval across the process.
void TrimNowAndThen() {
  static std::atomic<int64_t> last_trim{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_trim.load();
  if (now - last < kTrimInterval.count() || !last_trim.compare_exchange_strong(last, now)) return;
  malloc_trim(0);
}
}  // namespace

WorkQueue::WorkQueue(std::string name, int threads, size_t capacity,
                     std::function<void()> on_start)
    : name_(std::move(name)), capacity_(capacity), metrics_(name_) {
  for (int i = 0; i < threads; ++i) {
    workers_.emplace_back([this, on_start] {
      if (on_start) on_start();
      WorkerLoop();
    });
  }
}

WorkQueue::~WorkQueue() { Shutdown(); }

Status WorkQueue::Submit(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError(name_ + " is shutting down");
  if (tasks_.size() >= capacity_) return QueueFullError(name_, capacity_, kRetryAfterMs);
  metrics_.Enqueued();
  tasks_.push_back([this, task = std::move(task), queued = QueueMetrics::Clock::now()] {
    const auto started = metrics_.Started(queued);
    task();
    metrics_.Finished(started);
  });
  cv_.notify_one();
  return absl::OkStatus();
}

void WorkQueue::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

size_t WorkQueue::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void WorkQueue::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (tasks_.empty()) {
        lock.unlock();
        TrimNowAndThen();
        lock.lock();
      }
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and nothing left to run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace duet::services
