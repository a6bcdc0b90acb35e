// Implementation of services/transformer/scheduler.h.
#include "services/transformer/scheduler.h"

#include <algorithm>

#include "common/log.h"
#include "common/tensor_io.h"
#include "services/common/status_convert.h"

namespace duet::services {
namespace {
constexpr int kRetryAfterMs = 500;  // hint sent with RESOURCE_EXHAUSTED

// Groups requests whose sampling settings match, keeping arrival order inside each group.
template <typename R>
std::vector<std::vector<R>> GroupBySampling(std::vector<R> requests) {
  std::vector<std::vector<R>> groups;
  for (R& r : requests) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const std::vector<R>& g) {
      return SameSampling(g.front().sampling, r.sampling);
    });
    if (it == groups.end()) {
      groups.emplace_back();
      it = std::prev(groups.end());
    }
    it->push_back(std::move(r));
  }
  return groups;
}
}  // namespace

Scheduler::Scheduler(fusion::MultimodalTransformer model, SchedulerOptions options)
    : model_(std::move(model)), options_(options) {
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
  if (queue_.size() >= options_.max_queue) {
    return QueueFullError("transformer", options_.max_queue, kRetryAfterMs);
  }
  queue_.emplace_back(std::move(request), rows);
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
    std::vector<Request> admitted = Admit(/*block=*/cohorts_.empty());
    if (admitted.empty() && cohorts_.empty()) return;  // stopping and drained
    StartCohorts(std::move(admitted));
    StepAll();
  }
}

std::vector<Scheduler::Request> Scheduler::Admit(bool block) {
  std::unique_lock<std::mutex> lock(mu_);
  if (block) cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  std::vector<Request> admitted;
  // Always admit one request when idle, so a request of max_rows rows cannot starve.
  while (!queue_.empty() &&
         (active_rows_ == 0 || active_rows_ + queue_.front().second <= options_.max_rows)) {
    active_rows_ += queue_.front().second;
    admitted.push_back(std::move(queue_.front().first));
    queue_.pop_front();
    ++active_;
  }
  return admitted;
}

void Scheduler::StartCohorts(std::vector<Request> admitted) {
  std::vector<ImageRequest> images;
  std::vector<TextRequest> texts;
  for (Request& request : admitted) {
    if (auto* image = std::get_if<ImageRequest>(&request)) {
      images.push_back(std::move(*image));
    } else if (auto* text = std::get_if<TextRequest>(&request)) {
      texts.push_back(std::move(*text));
    } else {
      cohorts_.push_back(
          MakeScoreCohort(model_, std::move(std::get<ScoreRequest>(request)), options_.chunk));
    }
  }
  for (auto& group : GroupBySampling(std::move(images))) {
    cohorts_.push_back(MakeImageCohort(model_, std::move(group), options_.chunk));
  }
  for (auto& group : GroupBySampling(std::move(texts))) {
    cohorts_.push_back(MakeTextCohort(model_, std::move(group), options_.chunk));
  }
}

void Scheduler::StepAll() {
  bool stepped = false;
  for (auto& cohort : cohorts_) {
    cohort->DropCancelled();
    if (cohort->empty()) continue;
    rows_ += cohort->step_rows();
    ++forwards_;
    stepped = true;
    const Status status = cohort->Step();
    if (!status.ok()) {
      DUET_LOG(ERROR) << "decoding step failed: " << status;
      cohort->FailAll(status);
    }
  }
  cohorts_.erase(std::remove_if(cohorts_.begin(), cohorts_.end(),
                                [](const auto& cohort) { return cohort->empty(); }),
                 cohorts_.end());
  if (stepped) ++steps_;
}

}  // namespace duet::services
