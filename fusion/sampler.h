// Token sampling: temperature, top-k, top-p, and a per-draft random stream.
// Draft i of a request owns DraftRng(seed + i), so any draft can be reproduced alone, byte for byte.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "common/status.h"
#include "fusion/sampling.h"

namespace duet::fusion {

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
