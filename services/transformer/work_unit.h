// The scheduler's units of work. Decoding: every image request (and every caption request) the
// scheduler admitted decodes in one fusion::Engine, one forward per step over all their rows,
// whatever their sampling settings and whenever they arrived; a new request's prefill joins as a
// chunk at the next step. Scoring: one request's captions, a chunk of rows per step. The
// scheduler advances each by one step at a time, so no request stalls the others for long.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"
#include "fusion/generation.h"
#include "fusion/kv_cache.h"
#include "fusion/sampler.h"
#include "fusion/transformer.h"

namespace duet::services {

// Callbacks run on the scheduler's worker thread and must not block.
struct ImageRequest {
  torch::Tensor prefix;               // [L, text_dim] float32, 1 <= L <= text_prefix_len
  int count = 1;                      // drafts; draft i uses sampling.seed + i
  fusion::SamplingParams sampling;    // validated by the caller
  // Polled at every step boundary, and while queued when the queue is full (then under the
  // scheduler's lock: it must not call the scheduler). True drops the request.
  std::function<bool()> cancelled;
  std::function<void(int64_t done, int64_t total)> progress;  // after every step
  std::function<void(StatusOr<torch::Tensor>)> done;          // once: [count, G, G] int64
};

struct TextRequest {
  torch::Tensor codes;                // [B, N] int64 image codes
  fusion::SamplingParams sampling;    // image i uses sampling.seed + i
  int64_t max_tokens = 1;             // in [1, max_caption_len]
  std::function<bool()> cancelled;
  std::function<void(int64_t done, int64_t total)> progress;
  std::function<void(StatusOr<std::vector<std::vector<int64_t>>>)> done;  // once
};

struct ScoreRequest {
  torch::Tensor codes;                           // [B, N] int64
  std::vector<std::vector<int64_t>> texts;       // B captions, validated by the caller
  std::function<bool()> cancelled;
  std::function<void(StatusOr<std::vector<double>>)> done;  // once
};

// How much work one step of one unit may do: prefill and scoring go in chunks of rows whose
// positions add up to at most this (at least one row per chunk).
struct ChunkBudget {
  int64_t tokens = 2048;
  int64_t RowsOf(int64_t positions_per_row) const {
    return std::max<int64_t>(1, tokens / std::max<int64_t>(1, positions_per_row));
  }
};

// Not thread-safe: owned and run by the scheduler's worker thread.
class WorkUnit {
 public:
  virtual ~WorkUnit() = default;
  // Removes requests whose cancelled() is true, calling their done(Cancelled); their rows leave
  // the batch (and the KV cache) before the next forward. Returns how many were dropped.
  virtual int DropCancelled() = 0;
  // One unit of work: while prefilling, the next chunk of rows (no token yet; the last chunk also
  // samples the first token); then one forward for every row. Finished requests get
  // done(result) and leave the unit.
  virtual Status Step() = 0;
  // Ends every remaining request with `status`.
  virtual void FailAll(const Status& status) = 0;
  virtual bool empty() const = 0;
  virtual int64_t rows() const = 0;  // sequences in the batch (x2 with guidance)
  virtual int64_t step_rows() const = 0;  // rows the next Step() computes: the chunk, or rows()
  int64_t tokens_sampled() const { return tokens_sampled_; }  // so far, every row counted

 protected:
  int64_t tokens_sampled_ = 0;
};

// Requests of one kind decoding together; Add() may be called between any two steps.
template <typename Request>
class Decoding : public WorkUnit {
 public:
  // The request's rows join at the next step (their prefill first). Progress is reported as the
  // tokens of its least advanced row.
  virtual void Add(Request request) = 0;
};

// Image drafts, and captions, each in one fusion::Engine (prefill chunks of `budget` positions).
std::unique_ptr<Decoding<ImageRequest>> MakeImageDecoding(fusion::MultimodalTransformer model,
                                                          ChunkBudget budget);
std::unique_ptr<Decoding<TextRequest>> MakeTextDecoding(fusion::MultimodalTransformer model,
                                                        ChunkBudget budget);
// Scores one request's captions a chunk of rows per step (fusion::ScoreText on each chunk).
std::unique_ptr<WorkUnit> MakeScoring(fusion::MultimodalTransformer model,
                                        ScoreRequest request, ChunkBudget budget);

// Rows of `requests` counted as the scheduler budgets them.
int64_t RowsOf(const ImageRequest& request);
int64_t RowsOf(const TextRequest& request);

}  // namespace duet::services
