// Implementation of services/transformer/cohort.h. The per-step math mirrors
// fusion/generation.cc (prefill, then one cached forward per token) so a draft decoded here
// equals the same draft from fusion::GenerateImageCodes; rows can leave the batch between steps.
// Prefill runs in chunks of rows, each with its own cache, stacked into one when the last is done.
#include "services/transformer/cohort.h"

#include <numeric>

#include "common/tensor_io.h"
#include "fusion/step_threads.h"

namespace duet::services {
namespace {

using fusion::DraftRng;
using fusion::Task;

torch::Tensor ToColumn(const std::vector<int64_t>& tokens, const torch::Device& device) {
  return torch::tensor(tokens, torch::kInt64).view({-1, 1}).to(device);  // [B, 1]
}

// Row indices to keep when some members leave: member m owns `sizes[m]` consecutive rows of the
// first half, and with guidance the same rows again in the second half.
std::vector<int64_t> KeptRows(const std::vector<int64_t>& sizes, const std::vector<bool>& remove,
                              bool guided, std::vector<int64_t>* cond_rows) {
  const int64_t half = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  std::vector<int64_t> keep;
  int64_t offset = 0;
  for (size_t m = 0; m < sizes.size(); ++m) {
    for (int64_t i = 0; !remove[m] && i < sizes[m]; ++i) keep.push_back(offset + i);
    offset += sizes[m];
  }
  *cond_rows = keep;
  if (guided) {
    for (int64_t row : *cond_rows) keep.push_back(half + row);
  }
  return keep;
}

// The batch state every cohort shares: members with row counts, rngs, cache and next input.
template <typename Member>
class CohortBase : public Cohort {
 public:
  CohortBase(fusion::MultimodalTransformer model, fusion::SamplingParams params, bool guided,
             int64_t chunk_rows)
      : model_(std::move(model)), params_(params), guided_(guided), chunk_rows_(chunk_rows) {}

  int DropCancelled() override {
    std::vector<bool> remove(members_.size(), false);
    int dropped = 0;
    for (size_t m = 0; m < members_.size(); ++m) {
      const auto& cancelled = members_[m].request.cancelled;
      remove[m] = cancelled && cancelled();
      dropped += remove[m];
    }
    if (dropped > 0) Remove(remove, absl::CancelledError("request cancelled or past its deadline"));
    return dropped;
  }

  void FailAll(const Status& status) override {
    Remove(std::vector<bool>(members_.size(), true), status);
  }
  bool empty() const override { return members_.empty(); }
  int64_t rows() const override { return guided_ ? 2 * HalfRows() : HalfRows(); }
  int64_t step_rows() const override {
    if (!prefilling()) return rows();
    const int64_t chunk = std::min(chunk_rows_, HalfRows() - prefilled_);
    return guided_ ? 2 * chunk : chunk;
  }

 protected:
  // One prefilled chunk: the logits of its last position, its cache and its prefix lengths.
  struct PrefillPart {
    torch::Tensor logits;  // [n, V]
    fusion::KVCache cache;
    torch::Tensor valid;   // [n]
  };
  // Called before the first chunk: fills rngs_ (one per first-half row) and the inputs.
  virtual void BeginPrefill() = 0;
  // Prefills the rows `index` [n] of the whole batch (first half, then the guidance half),
  // through PrefillForward.
  virtual PrefillPart PrefillRows(const torch::Tensor& index) = 0;

  bool prefilling() const { return !cache_.has_value(); }
  int64_t HalfRows() const {
    int64_t rows = 0;
    for (const Member& m : members_) rows += m.rows;
    return rows;
  }

  // Prefills the next chunk of first-half rows (with their guidance twins). After the last chunk
  // the parts become cache_ and layout_.valid, and the first-token logits [rows, V] of every row
  // are returned; before it, an undefined tensor.
  torch::Tensor PrefillChunk() {
    const int64_t half = HalfRows();
    if (prefilled_ == 0) BeginPrefill();
    const int64_t n = std::min(chunk_rows_, half - prefilled_);
    std::vector<int64_t> rows(n);
    std::iota(rows.begin(), rows.end(), prefilled_);
    for (int64_t i = 0; guided_ && i < n; ++i) rows.push_back(half + prefilled_ + i);
    const torch::Device device = model_->null_prefix.device();
    parts_.push_back(PrefillRows(torch::tensor(rows, torch::kInt64).to(device)));
    order_.insert(order_.end(), rows.begin(), rows.end());
    prefilled_ += n;
    if (prefilled_ < half) return {};
    std::vector<int64_t> position(order_.size());  // where each batch row sits in the parts
    for (size_t i = 0; i < order_.size(); ++i) position[order_[i]] = static_cast<int64_t>(i);
    const torch::Tensor index = torch::tensor(position, torch::kInt64).to(device);
    std::vector<fusion::KVCache> caches;
    std::vector<torch::Tensor> logits, valid;
    for (PrefillPart& part : parts_) {
      caches.push_back(std::move(part.cache));
      logits.push_back(part.logits);
      valid.push_back(part.valid);
    }
    cache_.emplace(fusion::KVCache::ConcatRows(caches));
    if (parts_.size() > 1) cache_->SelectRows(index);
    layout_.valid = torch::cat(valid).index_select(0, index);
    ResetPrefill();
    return torch::cat(logits).index_select(0, index);
  }

  // The next token's logits [rows, V]: from the last prefill chunk, or from one cached forward.
  // Undefined while prefill chunks remain.
  torch::Tensor NextLogits(Task task) {
    if (prefilling()) return PrefillChunk();
    return LastLogits(task, model_->forward(x_, task, layout_.prefix_len + t_, layout_, &*cache_));
  }

  // One chunk's prefill forward: its prefix [n, P, C], then `start` [n, 1, C], the embedded
  // first input of the targets. Sets layout_.prefix_len.
  PrefillPart PrefillForward(Task task, const torch::Tensor& prefix,
                             const fusion::PrefixLayout& layout, const torch::Tensor& start) {
    layout_.prefix_len = layout.prefix_len;
    fusion::KVCache cache = model_->NewCache(task, prefix.size(0));
    const torch::Tensor x = torch::cat({prefix, start}, 1);
    const torch::Tensor h = model_->forward(x, task, 0, layout, &cache);
    return {LastLogits(task, h), std::move(cache), layout.valid};
  }

  // The logits [rows, V] of the last position of h [rows, t, C].
  torch::Tensor LastLogits(Task task, const torch::Tensor& h) {
    return task == Task::kTextToImage ? model_->ImageLogits(h.select(1, -1))
                                      : model_->TextLogits(h.select(1, -1));
  }

  // Removes members flagged in `remove` and their rows; `status` (if not OK) is their result.
  // Mid-prefill, the chunks done so far are dropped and the rest prefill again from the start.
  void Remove(const std::vector<bool>& remove, const Status& status) {
    std::vector<int64_t> sizes, cond_rows;
    for (const Member& m : members_) sizes.push_back(m.rows);
    const std::vector<int64_t> keep = KeptRows(sizes, remove, guided_, &cond_rows);
    if (prefilling()) {
      ResetPrefill();
    } else if (!keep.empty()) {
      const torch::Tensor index = torch::tensor(keep, torch::kInt64).to(x_.device());
      cache_->SelectRows(index);
      x_ = x_.index_select(0, index);
      layout_.valid = layout_.valid.index_select(0, index);
      std::vector<DraftRng> rngs;
      for (int64_t row : cond_rows) rngs.push_back(rngs_[row]);
      rngs_ = std::move(rngs);
    }
    std::vector<Member> kept;
    for (size_t m = 0; m < members_.size(); ++m) {
      if (!remove[m]) {
        kept.push_back(std::move(members_[m]));
      } else if (!status.ok()) {
        members_[m].request.done(status);
      }
    }
    members_ = std::move(kept);
    if (keep.empty()) cache_.reset();
  }

  fusion::MultimodalTransformer model_;
  fusion::SamplingParams params_;
  bool guided_;
  int64_t chunk_rows_;  // first-half rows per prefill chunk
  std::vector<Member> members_;
  std::vector<DraftRng> rngs_;  // one per first-half row
  std::optional<fusion::KVCache> cache_;
  fusion::PrefixLayout layout_;
  torch::Tensor x_;  // the next forward's input [rows, 1, C]
  int64_t t_ = 0;    // tokens sampled

 private:
  void ResetPrefill() {
    if (prefilled_ < HalfRows()) rngs_.clear();  // BeginPrefill fills them again
    parts_.clear();
    order_.clear();
    prefilled_ = 0;
  }

  int64_t prefilled_ = 0;            // first-half rows prefilled so far
  std::vector<PrefillPart> parts_;   // their chunks
  std::vector<int64_t> order_;       // batch row of each row of the parts, in order
};

struct ImageMember {
  ImageRequest request;
  int64_t rows = 0;
  torch::Tensor codes;  // [count, N] int64
};

class ImageCohort final : public CohortBase<ImageMember> {
 public:
  // First-half rows per prefill chunk: a row is the prompt and the start token, twice with
  // guidance.
  static int64_t ChunkRows(const fusion::TransformerConfig& c, const fusion::SamplingParams& p,
                           ChunkBudget budget) {
    return budget.RowsOf((c.text_prefix_len + 1) * (p.guidance_scale != 1.f ? 2 : 1));
  }

  ImageCohort(fusion::MultimodalTransformer model, std::vector<ImageRequest> requests,
              ChunkBudget budget)
      : CohortBase(model, requests.front().sampling,
                   requests.front().sampling.guidance_scale != 1.f,
                   ChunkRows(model->config(), requests.front().sampling, budget)) {
    const int64_t N = model_->config().image_tokens();
    for (ImageRequest& r : requests) {
      const int64_t rows = r.count;
      members_.push_back({std::move(r), rows, torch::zeros({rows, N}, torch::kInt64)});
    }
  }

  Status Step() override {
    return CatchTorch("image decoding step", [&] {
      torch::NoGradGuard no_grad;
      const fusion::StepThreads threads(step_rows());  // a small step stays on this thread
      const int64_t N = model_->config().image_tokens(), B = HalfRows();
      torch::Tensor logits = NextLogits(Task::kTextToImage);  // [rows, K]
      if (!logits.defined()) return;  // more chunks to prefill
      if (guided_) {
        const torch::Tensor cond = logits.narrow(0, 0, B), uncond = logits.narrow(0, B, B);
        logits = uncond + params_.guidance_scale * (cond - uncond);
      }
      const std::vector<int64_t> tokens = SampleTokens(logits, params_, rngs_);
      tokens_sampled_ += static_cast<int64_t>(tokens.size());
      int64_t row = 0;
      for (ImageMember& m : members_) {
        auto codes = m.codes.accessor<int64_t, 2>();
        for (int64_t i = 0; i < m.rows; ++i) codes[i][t_] = tokens[row++];
      }
      ++t_;
      for (ImageMember& m : members_) {
        if (m.request.progress) m.request.progress(t_, N);
      }
      if (t_ == N) return Finish();
      torch::Tensor next = ToColumn(tokens, logits.device());
      if (guided_) next = torch::cat({next, next});
      x_ = model_->EmbedImageTargets(next, t_);
    });
  }

 private:
  void BeginPrefill() override {
    const auto& c = model_->config();
    const int64_t B = HalfRows();
    torch::Tensor text = torch::zeros({B, c.text_prefix_len, c.text_dim});
    torch::Tensor lengths = torch::empty({B}, torch::kInt64);
    int64_t row = 0;
    for (const ImageMember& m : members_) {
      const int64_t L = m.request.prefix.size(0);
      for (int64_t i = 0; i < m.rows; ++i, ++row) {
        text[row].narrow(0, 0, L).copy_(m.request.prefix);
        lengths[row] = L;
        rngs_.emplace_back(m.request.sampling.seed + static_cast<uint64_t>(i));
      }
    }
    torch::Tensor drop = torch::zeros({B}, torch::kBool);
    if (guided_) {
      text = torch::cat({text, text});
      lengths = torch::cat({lengths, lengths});
      drop = torch::cat({drop, drop.logical_not()});
    }
    const torch::Device device = model_->null_prefix.device();
    text_ = text.to(device), lengths_ = lengths.to(device), drop_ = drop.to(device);
  }

  PrefillPart PrefillRows(const torch::Tensor& index) override {
    auto [prefix, layout] = model_->EmbedTextPrefix(text_.index_select(0, index),
                                                    lengths_.index_select(0, index),
                                                    drop_.index_select(0, index));
    const auto ids = torch::TensorOptions(torch::kInt64).device(index.device());
    const torch::Tensor start = torch::full({index.size(0), 1}, model_->config().image_codebook, ids);
    return PrefillForward(Task::kTextToImage, prefix, layout, model_->EmbedImageTargets(start, 0));
  }

  void Finish() {
    const int64_t G = model_->config().image_grid;
    for (ImageMember& m : members_) m.request.done(m.codes.view({m.rows, G, G}));
    Remove(std::vector<bool>(members_.size(), true), absl::OkStatus());
  }

  torch::Tensor text_, lengths_, drop_;  // prefill inputs of every row, on the model's device
};

struct TextMember {
  TextRequest request;
  int64_t rows = 0;
  std::vector<std::vector<int64_t>> captions;
  std::vector<bool> row_done;
};

class TextCohort final : public CohortBase<TextMember> {
 public:
  TextCohort(fusion::MultimodalTransformer model, std::vector<TextRequest> requests,
             ChunkBudget budget)
      : CohortBase(model, requests.front().sampling, false,
                   budget.RowsOf(model->config().image_tokens() + 1)) {
    for (TextRequest& r : requests) {
      const int64_t rows = r.codes.size(0);
      members_.push_back({std::move(r), rows, std::vector<std::vector<int64_t>>(rows),
                          std::vector<bool>(rows, false)});
    }
  }

  Status Step() override {
    return CatchTorch("text decoding step", [&] {
      torch::NoGradGuard no_grad;
      const fusion::StepThreads threads(step_rows());  // a small step stays on this thread
      const torch::Tensor logits = NextLogits(Task::kImageToText);  // [rows, V]
      if (!logits.defined()) return;  // more chunks to prefill
      const std::vector<int64_t> tokens = SampleTokens(logits, params_, rngs_);
      tokens_sampled_ += static_cast<int64_t>(tokens.size());
      ++t_;
      std::vector<bool> finished(members_.size(), false);
      int64_t row = 0;
      for (size_t m = 0; m < members_.size(); ++m) {
        TextMember& member = members_[m];
        bool all_done = true;
        for (int64_t i = 0; i < member.rows; ++i, ++row) {
          if (!member.row_done[i] && tokens[row] == fusion::kTextEosId) member.row_done[i] = true;
          if (!member.row_done[i]) member.captions[i].push_back(tokens[row]);
          all_done = all_done && member.row_done[i];
        }
        const int64_t total = member.request.max_tokens;
        if (member.request.progress) member.request.progress(std::min(t_, total), total);
        finished[m] = all_done || t_ >= total;
      }
      x_ = model_->EmbedTextTargets(ToColumn(tokens, logits.device()));
      for (size_t m = 0; m < members_.size(); ++m) {
        if (finished[m]) members_[m].request.done(std::move(members_[m].captions));
      }
      Remove(finished, absl::OkStatus());
    });
  }

 private:
  void BeginPrefill() override {
    std::vector<torch::Tensor> codes;
    for (const TextMember& m : members_) {
      codes.push_back(m.request.codes);
      for (int64_t i = 0; i < m.rows; ++i) {
        rngs_.emplace_back(m.request.sampling.seed + static_cast<uint64_t>(i));
      }
    }
    codes_ = torch::cat(codes).to(model_->null_prefix.device());
  }

  PrefillPart PrefillRows(const torch::Tensor& index) override {
    auto [prefix, layout] = model_->EmbedImagePrefix(codes_.index_select(0, index));
    const auto ids = torch::TensorOptions(torch::kInt64).device(index.device());
    const torch::Tensor bos = torch::full({index.size(0), 1}, fusion::kTextBosId, ids);
    return PrefillForward(Task::kImageToText, prefix, layout, model_->EmbedTextTargets(bos));
  }

  torch::Tensor codes_;  // image codes of every row [rows, N], on the model's device
};

}  // namespace

bool SameSampling(const fusion::SamplingParams& a, const fusion::SamplingParams& b) {
  return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p &&
         a.guidance_scale == b.guidance_scale;
}

std::unique_ptr<Cohort> MakeImageCohort(fusion::MultimodalTransformer model,
                                        std::vector<ImageRequest> requests, ChunkBudget budget) {
  return std::make_unique<ImageCohort>(std::move(model), std::move(requests), budget);
}

std::unique_ptr<Cohort> MakeTextCohort(fusion::MultimodalTransformer model,
                                       std::vector<TextRequest> requests, ChunkBudget budget) {
  return std::make_unique<TextCohort>(std::move(model), std::move(requests), budget);
}

int64_t RowsOf(const ImageRequest& request) {
  return request.sampling.guidance_scale != 1.f ? 2 * request.count : request.count;
}
int64_t RowsOf(const TextRequest& request) { return request.codes.size(0); }

}  // namespace duet::services
