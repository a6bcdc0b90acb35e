// Batched autoregressive generation on top of the transformer and KV cache:
// image codes from text, captions from image codes, and log p(text | image) scoring.
#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"
#include "fusion/sampler.h"
#include "fusion/transformer.h"

namespace duet::fusion {

// Called after every decoding step with (steps done, steps in all); returning false cancels the
// generation, which then returns Cancelled before the next step.
using ProgressFn = std::function<bool(int64_t done, int64_t total)>;

// Draws one G x G code grid per row. Row b is conditioned on text[b] ([B, P, text_dim] encoder
// output with lengths[b] real positions) and sampled from DraftRng(seeds[b]). With guidance_scale
// != 1 every row also runs with the null prefix and logits = uncond + scale * (cond - uncond).
// Rows never influence each other: row b's output depends only on its own inputs and seed.
// Returns [B, G, G] int64. Not thread-safe on the same model (one generation at a time).
StatusOr<torch::Tensor> GenerateImageCodes(MultimodalTransformer& model, const torch::Tensor& text,
                                           const torch::Tensor& lengths,
                                           const std::vector<uint64_t>& seeds,
                                           const SamplingParams& params,
                                           const ProgressFn& progress = nullptr);

// Generates a caption per row of codes [B, N], up to max_len tokens or EOS; ids exclude EOS.
StatusOr<std::vector<std::vector<int64_t>>> GenerateText(MultimodalTransformer& model,
                                                         const torch::Tensor& codes,
                                                         const std::vector<uint64_t>& seeds,
                                                         const SamplingParams& params,
                                                         int64_t max_len,
                                                         const ProgressFn& progress = nullptr);

// log p(text | image) per row, summed over the caption tokens and the final EOS.
// codes [B, N]; captions[b] are token ids without BOS/EOS (at most max_caption_len - 1).
StatusOr<std::vector<double>> ScoreText(MultimodalTransformer& model, const torch::Tensor& codes,
                                        const std::vector<std::vector<int64_t>>& captions);

}  // namespace duet::fusion
