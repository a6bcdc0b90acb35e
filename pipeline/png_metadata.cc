// Implementation of pipeline/png_metadata.h.
#include "pipeline/png_metadata.h"

#include "absl/strings/str_cat.h"
#include "vision/png_text.h"

namespace duet::pipeline {

PngText DraftMetadata(const std::string& prompt, uint64_t seed,
                      const fusion::SamplingParams& sampling, const std::string& model_name,
                      bool has_score, double score) {
  PngText text = {
      {"prompt", prompt},
      {"seed", absl::StrCat(seed)},
      {"temperature", absl::StrCat(sampling.temperature)},
      {"top_k", absl::StrCat(sampling.top_k)},
      {"top_p", absl::StrCat(sampling.top_p)},
      {"guidance_scale", absl::StrCat(sampling.guidance_scale)},
      {"model", model_name},
  };
  if (has_score) text.emplace_back("score", absl::StrCat(score));
  text.emplace_back("parameters",
                    absl::StrCat(prompt, "\nSeed: ", seed, ", Temperature: ", sampling.temperature,
                                 ", Top-k: ", sampling.top_k, ", Top-p: ", sampling.top_p,
                                 ", Guidance: ", sampling.guidance_scale, ", Model: ", model_name));
  text.push_back(vision::PngXmpAiMarker());
  return text;
}

Status CheckPromptForMetadata(const std::string& prompt) {
  const size_t nul = prompt.find('\0');
  if (nul == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("prompt has a NUL byte at offset ", nul));
}

}  // namespace duet::pipeline
