// Implementation of fusion/generation.h: prefill once, then one cached step per token.
#include "fusion/generation.h"

#include "common/tensor_io.h"
#include "fusion/step_threads.h"

namespace duet::fusion {
namespace {

std::vector<DraftRng> MakeRngs(const std::vector<uint64_t>& seeds) {
  return std::vector<DraftRng>(seeds.begin(), seeds.end());
}

torch::Tensor ToColumn(const std::vector<int64_t>& tokens, const torch::Device& device) {
  return torch::tensor(tokens, torch::kInt64).view({-1, 1}).to(device);  // [B, 1]
}

// Combines [2B, V] cond/uncond logits into [B, V] guided logits; identity without guidance.
torch::Tensor Guide(const torch::Tensor& logits, int64_t B, float scale, bool guided) {
  if (!guided) return logits;
  const torch::Tensor cond = logits.narrow(0, 0, B), uncond = logits.narrow(0, B, B);
  return uncond + scale * (cond - uncond);
}

Status CheckBatch(const torch::Tensor& rows, size_t seeds) {
  if (rows.size(0) == 0) return absl::InvalidArgumentError("batch must not be empty");
  if (static_cast<size_t>(rows.size(0)) != seeds) {
    return absl::InvalidArgumentError(
        absl::StrCat("seeds has ", seeds, " entries for ", rows.size(0), " rows"));
  }
  return absl::OkStatus();
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
  const bool guided = params.guidance_scale != 1.f;
  torch::Tensor codes;
  bool cancelled = false;
  Status status = CatchTorch("generate image codes", [&] {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (cheaper than NoGradGuard)
    const torch::Device device = model->null_prefix.device();
    torch::Tensor rows_text = text.to(device), rows_len = lengths.to(device);
    torch::Tensor drop = torch::zeros({B}, torch::TensorOptions().dtype(torch::kBool).device(device));
    if (guided) {
      rows_text = torch::cat({rows_text, rows_text});
      rows_len = torch::cat({rows_len, rows_len});
      drop = torch::cat({drop, drop.logical_not()});
    }
    const int64_t rows = rows_text.size(0);
    const StepThreads threads(rows);
    auto [prefix, layout] = model->EmbedTextPrefix(rows_text, rows_len, drop);
    KVCache cache = model->NewCache(Task::kTextToImage, rows);
    std::vector<DraftRng> rngs = MakeRngs(seeds);
    codes = torch::empty({B, N}, torch::kInt64);
    torch::Tensor inputs = torch::full({rows, 1}, c.image_codebook, torch::TensorOptions().dtype(torch::kInt64).device(device));
    torch::Tensor x = torch::cat({prefix, model->EmbedImageTargets(inputs, 0)}, 1);
    for (int64_t t = 0; t < N; ++t) {
      const int64_t start = t == 0 ? 0 : layout.prefix_len + t;
      const torch::Tensor h = model->forward(x, Task::kTextToImage, start, layout, &cache);
      const torch::Tensor logits = Guide(model->ImageLogits(h.select(1, -1)), B, params.guidance_scale, guided);
      const std::vector<int64_t> tokens = SampleTokens(logits, params, rngs);
      codes.select(1, t).copy_(torch::tensor(tokens, torch::kInt64));
      if (progress && !progress(t + 1, N)) {
        cancelled = t + 1 < N;
        if (cancelled) return;
      }
      if (t + 1 == N) break;
      torch::Tensor next = ToColumn(tokens, device);
      if (guided) next = torch::cat({next, next});
      x = model->EmbedImageTargets(next, t + 1);
    }
  });
  DUET_RETURN_IF_ERROR(status);
  if (cancelled) return absl::CancelledError("image generation cancelled");
  return codes.view({B, c.image_grid, c.image_grid});
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
  bool cancelled = false;
  Status status = CatchTorch("generate text", [&] {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (cheaper than NoGradGuard)
    const torch::Device device = model->null_prefix.device();
    const StepThreads threads(B);
    auto [prefix, layout] = model->EmbedImagePrefix(codes.reshape({B, -1}).to(device));
    KVCache cache = model->NewCache(Task::kImageToText, B);
    std::vector<DraftRng> rngs = MakeRngs(seeds);
    std::vector<bool> done(B, false);
    torch::Tensor bos = torch::full({B, 1}, kTextBosId, torch::TensorOptions().dtype(torch::kInt64).device(device));
    torch::Tensor x = torch::cat({prefix, model->EmbedTextTargets(bos)}, 1);
    int64_t finished = 0;
    for (int64_t t = 0; t < max_len && finished < B; ++t) {
      const int64_t start = t == 0 ? 0 : layout.prefix_len + t;
      const torch::Tensor h = model->forward(x, Task::kImageToText, start, layout, &cache);
      const std::vector<int64_t> tokens = SampleTokens(model->TextLogits(h.select(1, -1)), params, rngs);
      for (int64_t b = 0; b < B; ++b) {
        if (done[b]) continue;
        if (tokens[b] == kTextEosId) {
          done[b] = true;
          ++finished;
        } else {
          captions[b].push_back(tokens[b]);
        }
      }
      if (progress && !progress(t + 1, max_len)) {
        cancelled = finished < B && t + 1 < max_len;
        if (cancelled) return;
      }
      x = model->EmbedTextTargets(ToColumn(tokens, device));
    }
  });
  DUET_RETURN_IF_ERROR(status);
  if (cancelled) return absl::CancelledError("caption generation cancelled");
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
