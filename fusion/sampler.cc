// Implementation of fusion/sampler.h: filtering and inverse-CDF sampling in float64 on the CPU.
#include "fusion/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace duet::fusion {
namespace {

// Picks one index from `logits` (length V) after temperature, top-k and top-p.
int64_t SampleRow(const float* logits, int64_t V, const SamplingParams& p, DraftRng& rng) {
  std::vector<int64_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  // Descending by logit; ties broken by index so the order is fully determined.
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  if (p.temperature == 0.f) return order[0];
  const int64_t kept = p.top_k > 0 ? std::min<int64_t>(p.top_k, V) : V;
  std::vector<double> probs(kept);
  const double top = logits[order[0]];
  double total = 0;
  for (int64_t i = 0; i < kept; ++i) {
    probs[i] = std::exp((logits[order[i]] - top) / p.temperature);
    total += probs[i];
  }
  int64_t nucleus = kept;
  if (p.top_p < 1.f) {
    double cumulative = 0;
    for (int64_t i = 0; i < kept; ++i) {
      cumulative += probs[i] / total;
      if (cumulative >= p.top_p) {
        nucleus = i + 1;
        break;
      }
    }
  }
  const double mass = std::accumulate(probs.begin(), probs.begin() + nucleus, 0.0);
  const double target = rng.Uniform() * mass;
  double cumulative = 0;
  for (int64_t i = 0; i < nucleus; ++i) {
    cumulative += probs[i];
    if (target < cumulative) return order[i];
  }
  return order[nucleus - 1];
}

}  // namespace

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

uint64_t DraftRng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double DraftRng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

std::vector<int64_t> SampleTokens(const torch::Tensor& logits, const SamplingParams& params,
                                  std::vector<DraftRng>& rngs) {
  const torch::Tensor rows = logits.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t B = rows.size(0), V = rows.size(1);
  TORCH_CHECK(static_cast<int64_t>(rngs.size()) == B, "one rng per row is required");
  std::vector<int64_t> tokens(B);
  const float* data = rows.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) tokens[b] = SampleRow(data + b * V, V, params, rngs[b]);
  return tokens;
}

}  // namespace duet::fusion
