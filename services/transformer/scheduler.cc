// Implementation of services/transformer/scheduler.h.
#include "services/transformer/scheduler.h"

#include <malloc.h>

#include <algorithm>

#include "common/log.h"
#include "services/common/metrics.h"
#include "common/tensor_io.h"
#include "services/common/status_convert.h"

namespace duet::services {
namespace {
constexpr int kRetryAfterMs = 500;  // hint sent with RESOURCE_EXHAUSTED
constexpr int64_t kTrimEverySteps = 1000;

// The scheduler as a queue in the metrics: wait is submit to admission, run is admission to done.
const QueueMetrics& TransformerQueue() {
  static const QueueMetrics metrics("transformer");
  return metrics;
}

// Admits `request` in the metrics and reports its end when done() is called.
template <typename R>
void TimeRun(R& request, QueueMetrics::Clock::time_point enqueued) {
  auto done = std::move(request.done);
  request.done = [done = std::move(done),
                  started = TransformerQueue().Started(enqueued)](auto result) {
    TransformerQueue().Finished(started);
    done(std::move(result));
  };
}

}  // namespace

Scheduler::Scheduler(fusion::MultimodalTransformer model, SchedulerOptions options)
    : model_(std::move(model)),
      options_(options),
      images_(MakeImageDecoding(model_, options.chunk)),
      texts_(MakeTextDecoding(model_, options.chunk)) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

Scheduler::~Scheduler() { Shutdown(); }

template <typename R, typename Result>
static void WrapDone(R& request, std::function<void(const Status&)> account) {
  auto done = std::move(request.done);
  request.done = [done = std::move(done), account = std::move(account)](Result result) {
    account(result.status());
    done(std::move(result));
  };
}

Status Scheduler::Submit(ImageRequest request) {
  const int64_t rows = RowsOf(request);
  WrapDone<ImageRequest, StatusOr<torch::Tensor>>(
      request, [this, rows](const Status& s) { Account(s, rows); });
  return Enqueue(std::move(request), rows);
}

Status Scheduler::Submit(TextRequest request) {
  const int64_t rows = RowsOf(request);
  WrapDone<TextRequest, StatusOr<std::vector<std::vector<int64_t>>>>(
      request, [this, rows](const Status& s) { Account(s, rows); });
  return Enqueue(std::move(request), rows);
}

Status Scheduler::Submit(ScoreRequest request) {
  const int64_t rows = request.codes.size(0);
  WrapDone<ScoreRequest, StatusOr<std::vector<double>>>(
      request, [this, rows](const Status& s) { Account(s, rows); });
  return Enqueue(std::move(request), rows);
}

void Scheduler::Account(const Status& status, int64_t rows) {
  if (status.ok()) {
    ++completed_;
  } else if (absl::IsCancelled(status)) {
    ++cancelled_;
  }
  --active_;
  std::lock_guard<std::mutex> lock(mu_);
  active_rows_ -= rows;
}

Status Scheduler::Enqueue(Request request, int64_t rows) {
  if (rows > options_.max_rows) {
    return absl::InvalidArgumentError(absl::StrCat("request needs ", rows,
                                                   " decoding rows, the limit is ",
                                                   options_.max_rows));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("transformer is shutting down");
  if (queue_.size() >= options_.max_queue) PurgeCancelledLocked();
  if (queue_.size() >= options_.max_queue) {
    return QueueFullError("transformer", options_.max_queue, kRetryAfterMs);
  }
  queue_.push_back({std::move(request), rows, QueueMetrics::Clock::now()});
  TransformerQueue().Enqueued();
  cv_.notify_one();
  return absl::OkStatus();
}

void Scheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s;
  s.steps = steps_;
  s.forwards = forwards_;
  s.rows = rows_;
  s.active = active_;
  s.completed = completed_;
  s.cancelled = cancelled_;
  std::lock_guard<std::mutex> lock(mu_);
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

void Scheduler::WorkerLoop() {
  while (true) {
    // glibc keeps freed tensor memory in its arenas (RSS grows in steps under a changing load);
    // hand it back when the worker goes idle, and now and then under constant load.
    const bool idle = scorings_.empty() && images_->empty() && texts_->empty();
    if (idle || steps_ % kTrimEverySteps == 0) malloc_trim(0);
    std::vector<Request> admitted = Admit(/*block=*/idle);
    if (admitted.empty() && idle) return;  // stopping and drained
    StartScoring(std::move(admitted));
    StepAll();
  }
}

void Scheduler::AdmitLocked(Queued& next, std::vector<Request>* admitted) {
  active_rows_ += next.rows;
  std::visit([&](auto& r) { TimeRun(r, next.since); }, next.request);
  admitted->push_back(std::move(next.request));
  ++active_;
}

// Requests whose client is gone must not hold queue slots while a long step runs: they are
// admitted at once, to be dropped (done(Cancelled)) by the worker before its next forward.
void Scheduler::PurgeCancelledLocked() {
  for (auto it = queue_.begin(); it != queue_.end();) {
    const bool cancelled = std::visit(
        [](const auto& r) { return r.cancelled && r.cancelled(); }, it->request);
    if (!cancelled) {
      ++it;
      continue;
    }
    AdmitLocked(*it, &purged_);
    it = queue_.erase(it);
  }
  if (!purged_.empty()) cv_.notify_one();
}

std::vector<Scheduler::Request> Scheduler::Admit(bool block) {
  std::unique_lock<std::mutex> lock(mu_);
  if (block) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !purged_.empty(); });
  }
  std::vector<Request> admitted = std::move(purged_);
  purged_.clear();
  // Always admit one request when idle, so a request of max_rows rows cannot starve.
  while (!queue_.empty() &&
         (active_rows_ == 0 || active_rows_ + queue_.front().rows <= options_.max_rows)) {
    AdmitLocked(queue_.front(), &admitted);
    queue_.pop_front();
  }
  return admitted;
}

void Scheduler::StartScoring(std::vector<Request> admitted) {
  for (Request& request : admitted) {
    if (auto* image = std::get_if<ImageRequest>(&request)) {
      images_->Add(std::move(*image));
    } else if (auto* text = std::get_if<TextRequest>(&request)) {
      texts_->Add(std::move(*text));
    } else {
      scorings_.push_back(
          MakeScoring(model_, std::move(std::get<ScoreRequest>(request)), options_.chunk));
    }
  }
}

void Scheduler::StepAll() {
  bool stepped = false;
  int64_t step_rows = 0, tokens = 0;
  std::vector<WorkUnit*> work = {images_.get(), texts_.get()};
  for (auto& scoring : scorings_) work.push_back(scoring.get());
  for (WorkUnit* unit : work) {
    unit->DropCancelled();
    if (unit->empty()) continue;
    const int64_t rows = unit->step_rows(), sampled = unit->tokens_sampled();
    rows_ += rows;
    step_rows += rows;
    ++forwards_;
    stepped = true;
    const Status status = unit->Step();
    tokens += unit->tokens_sampled() - sampled;
    if (!status.ok()) {
      DUET_LOG(ERROR) << "decoding step failed: " << status;
      unit->FailAll(status);
    }
  }
  scorings_.erase(std::remove_if(scorings_.begin(), scorings_.end(),
                                [](const auto& scoring) { return scoring->empty(); }),
                 scorings_.end());
  if (!stepped) return;
  ++steps_;
  MetricsRegistry& metrics = ProcessMetrics();
  metrics.Add("duet_scheduler_steps_total", {});
  metrics.Add("duet_scheduler_rows_total", {}, static_cast<double>(step_rows));
  metrics.Add("duet_decode_tokens_total", {}, static_cast<double>(tokens));
  metrics.Observe("duet_scheduler_step_rows", {}, static_cast<double>(step_rows));
}

}  // namespace duet::services
