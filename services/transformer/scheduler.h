// The transformer's scheduler: one worker thread owns the model and runs decoding steps; each
// step advances every unit of work (the image and caption decodings, each scoring) by one step, so requests share the model's time.
//
// Batching is continuous (fusion::Engine): every image request decodes in one forward per step
// with every other, whatever its sampling settings, and the same for captions; a request arriving
// while others decode is prefilled at the next step boundary and decodes with them from the step
// after. Prefill and scoring are chunked (options.chunk), so a step is short even beside a
// 256-draft request. Cancelled or deadline-expired requests are dropped at the next step
// boundary, rows and cache included; the others carry on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "common/status.h"
#include "fusion/transformer.h"
#include "services/transformer/work_unit.h"

namespace duet::services {

struct SchedulerOptions {
  size_t max_queue = 64;    // requests waiting to be admitted; more: RESOURCE_EXHAUSTED
  int64_t max_rows = 1024;  // sequences decoding at once (drafts, x2 with guidance)
  ChunkBudget chunk;        // prefill and scoring work per step and unit of work
};

struct SchedulerStats {
  int64_t steps = 0;      // worker iterations that ran at least one forward
  int64_t forwards = 0;   // units stepped: image decoding, caption decoding, each scoring request
  int64_t rows = 0;       // sum over forwards of the rows they computed: the compute spent
  int64_t active = 0;     // requests decoding
  int64_t queued = 0;     // requests waiting
  int64_t completed = 0;  // requests that finished OK
  int64_t cancelled = 0;  // requests dropped by cancellation or deadline
};

// Thread-safe: Submit*, stats and Shutdown may be called from any thread. Callbacks of the
// requests run on the worker thread.
class Scheduler {
 public:
  Scheduler(fusion::MultimodalTransformer model, SchedulerOptions options);
  ~Scheduler();  // Shutdown()

  // Queues a request. ResourceExhausted (with a retry hint) when max_queue requests wait (queued
  // requests that were cancelled meanwhile are dropped first, so they never hold a slot),
  // InvalidArgument when it alone needs more than max_rows rows, Unavailable after Shutdown.
  // On error no callback of the request is called.
  Status Submit(ImageRequest request);
  Status Submit(TextRequest request);
  Status Submit(ScoreRequest request);

  // Finishes the queued and active requests, then stops the worker. Idempotent.
  void Shutdown();
  SchedulerStats stats() const;
  const fusion::TransformerConfig& config() const { return model_->config(); }
  torch::ScalarType compute_dtype() const { return model_->ComputeDtype(); }

 private:
  using Request = std::variant<ImageRequest, TextRequest, ScoreRequest>;
  Status Enqueue(Request request, int64_t rows);
  void Account(const Status& status, int64_t rows);
  void WorkerLoop();
  std::vector<Request> Admit(bool block);
  struct Queued;
  void AdmitLocked(Queued& next, std::vector<Request>* admitted);
  void PurgeCancelledLocked();
  void StartScoring(std::vector<Request> admitted);
  void StepAll();

  fusion::MultimodalTransformer model_;
  const SchedulerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Queued {
    Request request;
    int64_t rows;
    std::chrono::steady_clock::time_point since;
  };
  std::deque<Queued> queue_;
  std::vector<Request> purged_;  // cancelled while queued, admitted to be dropped; guarded by mu_
  bool stopping_ = false;
  int64_t active_rows_ = 0;  // guarded by mu_
  // Worker thread only: the two decodings, and one scoring per ScoreText request.
  std::unique_ptr<Decoding<ImageRequest>> images_;
  std::unique_ptr<Decoding<TextRequest>> texts_;
  std::vector<std::unique_ptr<WorkUnit>> scorings_;
  std::atomic<int64_t> steps_{0}, forwards_{0}, rows_{0}, active_{0}, completed_{0},
      cancelled_{0};
  std::thread worker_;
};

}  // namespace duet::services
