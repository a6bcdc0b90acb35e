// The text chunks every generated PNG carries: what made it (prompt, seed, sampling, model) and
// the IPTC marker that says it is AI generated.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "fusion/sampling.h"

namespace duet::pipeline {

using PngText = std::vector<std::pair<std::string, std::string>>;

// Keys: "prompt", "seed", "temperature", "top_k", "top_p", "guidance_scale", "model", "score"
// (when has_score), "parameters" (all of it on one line), and "XML:com.adobe.xmp".
PngText DraftMetadata(const std::string& prompt, uint64_t seed,
                      const fusion::SamplingParams& sampling, const std::string& model_name,
                      bool has_score, double score);

// A prompt goes into every draft's metadata, which cannot hold NUL bytes: InvalidArgument
// ("prompt has a NUL byte at offset N") so callers refuse it before any work.
Status CheckPromptForMetadata(const std::string& prompt);

}  // namespace duet::pipeline
