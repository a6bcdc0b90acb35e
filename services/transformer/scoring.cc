// ScoreText as scheduled work: one request's captions scored a chunk of rows per step, so a
// 256-row rerank shares the worker with decoding instead of stalling it.
#include <algorithm>

#include "fusion/generation.h"
#include "services/transformer/work_unit.h"

namespace duet::services {
namespace {

// One ScoreText request, a chunk of rows per step.
class Scoring final : public WorkUnit {
 public:
  Scoring(fusion::MultimodalTransformer model, ScoreRequest request, ChunkBudget budget)
      : model_(std::move(model)),
        request_(std::move(request)),
        chunk_rows_(budget.RowsOf(model_->config().image_tokens() +
                                  model_->config().max_caption_len)) {}

  int DropCancelled() override {
    if (finished_ || !request_.cancelled || !request_.cancelled()) return 0;
    FailAll(absl::CancelledError("request cancelled or past its deadline"));
    return 1;
  }

  Status Step() override {
    const int64_t n = step_rows();
    const std::vector<std::vector<int64_t>> texts(request_.texts.begin() + scored_,
                                                  request_.texts.begin() + scored_ + n);
    DUET_ASSIGN_OR_RETURN(std::vector<double> part,
                          fusion::ScoreText(model_, request_.codes.narrow(0, scored_, n), texts));
    scores_.insert(scores_.end(), part.begin(), part.end());
    scored_ += n;
    if (scored_ == total()) {
      finished_ = true;
      request_.done(std::move(scores_));
    }
    return absl::OkStatus();
  }

  void FailAll(const Status& status) override {
    if (finished_) return;
    finished_ = true;
    request_.done(status);
  }
  bool empty() const override { return finished_; }
  int64_t rows() const override { return finished_ ? 0 : total() - scored_; }
  int64_t step_rows() const override { return std::min(chunk_rows_, rows()); }

 private:
  int64_t total() const { return request_.codes.size(0); }

  fusion::MultimodalTransformer model_;
  ScoreRequest request_;
  int64_t chunk_rows_;
  int64_t scored_ = 0;
  std::vector<double> scores_;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<WorkUnit> MakeScoring(fusion::MultimodalTransformer model,
                                        ScoreRequest request, ChunkBudget budget) {
  return std::make_unique<Scoring>(std::move(model), std::move(request), budget);
}

}  // namespace duet::services
