// Implementation of fusion/generation.h: generation runs on fusion::Engine (every row prefilled
// in the first step, then one cached step per token); scoring is one teacher-forced forward.
#include "fusion/generation.h"

#include <functional>
#include <limits>

#include "common/tensor_io.h"
#include "fusion/engine.h"

namespace duet::fusion {
namespace {

Status CheckBatch(const torch::Tensor& rows, size_t seeds) {
  if (rows.size(0) == 0) return absl::InvalidArgumentError("batch must not be empty");
  if (static_cast<size_t>(rows.size(0)) != seeds) {
    return absl::InvalidArgumentError(
        absl::StrCat("seeds has ", seeds, " entries for ", rows.size(0), " rows"));
  }
  return absl::OkStatus();
}

// One engine sequence per row b (prefix(b), seeds[b], max_tokens), every row prefilled in the
// first step as one batch, stepped until all finish; tokens[b] gets row b's. Reports
// progress(step, max_tokens) after each step; false when progress asked to stop first.
bool DecodeRows(MultimodalTransformer& model, Task task, int64_t rows,
                const std::function<torch::Tensor(int64_t)>& prefix, const SamplingParams& params,
                const std::vector<uint64_t>& seeds, int64_t max_tokens,
                const ProgressFn& progress, std::vector<std::vector<int64_t>>& tokens) {
  Engine engine(model, task, std::numeric_limits<int64_t>::max());
  std::vector<Sequence> sequences(rows);
  for (int64_t b = 0; b < rows; ++b) {
    sequences[b].prefix = prefix(b);
    sequences[b].sampling = params;
    sequences[b].seed = seeds[b];
    sequences[b].max_tokens = max_tokens;
    sequences[b].index = b;
  }
  engine.Add(std::move(sequences));
  tokens.assign(rows, {});
  for (int64_t step = 1; !engine.empty(); ++step) {
    for (Finished& f : engine.Step()) tokens[f.index] = std::move(f.tokens);
    if (progress && !progress(std::min(step, max_tokens), max_tokens) && !engine.empty()) {
      return false;
    }
  }
  return true;
}

}  // namespace

StatusOr<torch::Tensor> GenerateImageCodes(MultimodalTransformer& model, const torch::Tensor& text,
                                           const torch::Tensor& lengths,
                                           const std::vector<uint64_t>& seeds,
                                           const SamplingParams& params,
                                           const ProgressFn& progress) {
  const TransformerConfig& c = model->config();
  DUET_RETURN_IF_ERROR(ValidateSampling(params, c.image_codebook));
  DUET_RETURN_IF_ERROR(CheckBatch(text, seeds.size()));
  const int64_t B = text.size(0), N = c.image_tokens();
  std::vector<std::vector<int64_t>> codes(B);
  bool completed = true;
  Status status = CatchTorch("generate image codes", [&] {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (cheaper than NoGradGuard)
    const torch::Tensor host_text = text.to(torch::kCPU), host_lengths = lengths.to(torch::kCPU);
    completed = DecodeRows(
        model, Task::kTextToImage, B,
        [&](int64_t b) { return host_text[b].narrow(0, 0, host_lengths[b].item<int64_t>()); },
        params, seeds, N, progress, codes);
  });
  DUET_RETURN_IF_ERROR(status);
  if (!completed) return absl::CancelledError("image generation cancelled");
  torch::Tensor grid = torch::empty({B, N}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) grid[b].copy_(torch::tensor(codes[b], torch::kInt64));
  return grid.view({B, c.image_grid, c.image_grid});
}

StatusOr<std::vector<std::vector<int64_t>>> GenerateText(MultimodalTransformer& model,
                                                         const torch::Tensor& codes,
                                                         const std::vector<uint64_t>& seeds,
                                                         const SamplingParams& params,
                                                         int64_t max_len,
                                                         const ProgressFn& progress) {
  const TransformerConfig& c = model->config();
  DUET_RETURN_IF_ERROR(ValidateSampling(params, c.text_vocab));
  DUET_RETURN_IF_ERROR(CheckBatch(codes, seeds.size()));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("max_len", max_len, 1, c.max_caption_len));
  const int64_t B = codes.size(0);
  std::vector<std::vector<int64_t>> captions(B);
  bool completed = true;
  Status status = CatchTorch("generate text", [&] {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (cheaper than NoGradGuard)
    const torch::Tensor rows_codes = codes.reshape({B, -1}).to(torch::kCPU);
    completed = DecodeRows(model, Task::kImageToText, B, [&](int64_t b) { return rows_codes[b]; },
                           params, seeds, max_len, progress, captions);
  });
  DUET_RETURN_IF_ERROR(status);
  if (!completed) return absl::CancelledError("caption generation cancelled");
  return captions;
}

StatusOr<std::vector<double>> ScoreText(MultimodalTransformer& model, const torch::Tensor& codes,
                                        const std::vector<std::vector<int64_t>>& captions) {
  const TransformerConfig& c = model->config();
  DUET_RETURN_IF_ERROR(CheckBatch(codes, captions.size()));
  const int64_t B = codes.size(0), L = c.max_caption_len;
  torch::Tensor targets = torch::full({B, L}, kTextPadId, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    const auto& ids = captions[b];
    if (static_cast<int64_t>(ids.size()) > L - 1) {
      return absl::InvalidArgumentError(absl::StrCat("caption ", b, " has ", ids.size(),
                                                     " tokens, the limit is ", L - 1));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= c.text_vocab) {
        return absl::InvalidArgumentError(absl::StrCat("caption ", b, " token ", ids[i],
                                                       " is outside [0, ", c.text_vocab, ")"));
      }
      targets[b][i] = ids[i];
    }
    targets[b][ids.size()] = kTextEosId;
  }
  std::vector<double> scores(B, 0.0);
  DUET_RETURN_IF_ERROR(CatchTorch("score text", [&] {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (cheaper than NoGradGuard)
    const torch::Device device = model->null_prefix.device();
    const torch::Tensor logits = model->ImageToTextLogits(codes.reshape({B, -1}).to(device), targets.to(device));
    const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1)
                                   .gather(2, targets.to(device).unsqueeze(2)).squeeze(2).cpu();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t n = static_cast<int64_t>(captions[b].size()) + 1;  // Tokens and EOS.
      scores[b] = logp[b].narrow(0, 0, n).sum().item<double>();
    }
  }));
  return scores;
}

}  // namespace duet::fusion
