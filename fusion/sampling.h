// A request's sampling settings and their limits, with no LibTorch (the gateway and the draft
// pipeline pass them on; fusion/sampler.h samples with them).
#pragma once

#include <cstdint>

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

}  // namespace duet::fusion
