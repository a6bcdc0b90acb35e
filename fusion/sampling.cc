// Implementation of fusion/sampling.h.
#include "fusion/sampling.h"

namespace duet::fusion {

Status ValidateSampling(const SamplingParams& p, int64_t vocab) {
  if (!(p.temperature >= 0.f && p.temperature <= 10.f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be in [0, 10], got ", p.temperature));
  }
  if (p.top_k < 0 || p.top_k > vocab) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be in [0, ", vocab, "], got ", p.top_k));
  }
  if (!(p.top_p > 0.f && p.top_p <= 1.f)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", p.top_p));
  }
  if (!(p.guidance_scale >= 0.f && p.guidance_scale <= 50.f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("guidance_scale must be in [0, 50], got ", p.guidance_scale));
  }
  return absl::OkStatus();
}

}  // namespace duet::fusion
