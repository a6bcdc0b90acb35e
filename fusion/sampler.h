// Token sampling: temperature, top-k, top-p, and a per-draft random stream.
// Draft i of a request owns DraftRng(seed + i), so any draft can be reproduced alone, byte for byte.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"

namespace duet::fusion {

struct SamplingParams {
  float temperature = 1.0f;     // 0: greedy; otherwise logits / temperature, in (0, 10]
  int top_k = 0;                // keep the k most likely tokens; 0: no limit
  float top_p = 1.0f;           // nucleus: smallest set with probability >= top_p, in (0, 1]
  float guidance_scale = 1.0f;  // text->image CFG: uncond + scale * (cond - uncond); 1: off
  uint64_t seed = 0;            // draft i uses seed + i
};

// InvalidArgument naming the field and its limit (NaN, negative temperature, top_p outside (0, 1],
// top_k outside [0, vocab], guidance outside [0, 50]).
Status ValidateSampling(const SamplingParams& params, int64_t vocab);

// A small counter-based generator (SplitMix64): same seed, same stream, on every platform.
class DraftRng {
 public:
  explicit DraftRng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  double Uniform();  // in [0, 1), 53 random bits

 private:
  uint64_t state_;
};

// Samples one token per row of logits [B, V] (any float dtype/device); rngs[b] draws once per row.
// Deterministic: the result depends only on the row's logits and its rng.
std::vector<int64_t> SampleTokens(const torch::Tensor& logits, const SamplingParams& params,
                                  std::vector<DraftRng>& rngs);
// The same with settings and a stream per row: row b uses params[b] and *rngs[b].
std::vector<int64_t> SampleTokens(const torch::Tensor& logits,
                                  const std::vector<SamplingParams>& params,
                                  const std::vector<DraftRng*>& rngs);

}  // namespace duet::fusion
