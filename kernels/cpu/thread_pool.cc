// Implementation of kernels/cpu/thread_pool.h: one process-wide pool, workers wait on a job queue.
// Each job hands out task indices through an atomic counter; the caller works on its own job too.
#include "kernels/cpu/thread_pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace duet::kernels {
namespace {

// One ParallelFor call. `task` is only called for a claimed index < count, so a job left in the
// queue after its caller returned (all indices claimed) never touches the dead callable.
struct Job {
  const std::function<void(int64_t)>* task = nullptr;
  int64_t count = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> finished{0};
  std::mutex mu;
  std::condition_variable all_done;

  // Claims and runs tasks until none is left.
  void Work() {
    int64_t ran = 0;
    for (int64_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      (*task)(i);
      ++ran;
    }
    if (ran > 0 && finished.fetch_add(ran) + ran == count) {
      std::lock_guard<std::mutex> lock(mu);
      all_done.notify_all();
    }
  }
};

class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  }

  void Run(int64_t count, const std::function<void(int64_t)>& task) {
    auto job = std::make_shared<Job>();
    job->task = &task;
    job->count = count;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(job);
    }
    has_work_.notify_all();
    job->Work();
    std::unique_lock<std::mutex> lock(job->mu);
    job->all_done.wait(lock, [&] { return job->finished.load() == count; });
  }

 private:
  void WorkerLoop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        has_work_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
      }
      job->Work();
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty() && queue_.front() == job) queue_.pop_front();
    }
  }

  std::mutex mu_;
  std::condition_variable has_work_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> threads_;
};

ThreadPool& Pool() {
  // Leaked on purpose: workers block forever and must not be joined during static destruction.
  static ThreadPool* pool = new ThreadPool(CpuKernelThreads() - 1);
  return *pool;
}

}  // namespace

int CpuKernelThreads() {
  static const int threads = [] {
    if (const char* env = std::getenv("DUET_NUM_THREADS")) {
      const int n = std::atoi(env);
      if (n > 0) return n;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
  }();
  return threads;
}

void ParallelFor(int64_t count, const std::function<void(int64_t)>& task) {
  if (count <= 0) return;
  if (count == 1 || CpuKernelThreads() == 1) {
    for (int64_t i = 0; i < count; ++i) task(i);
    return;
  }
  Pool().Run(count, task);
}

}  // namespace duet::kernels
