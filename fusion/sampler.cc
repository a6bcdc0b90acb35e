// Implementation of fusion/sampler.h: filtering and inverse-CDF sampling in float64 on the CPU.
#include "fusion/sampler.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace duet::fusion {
namespace {

// The index of the largest logit; ties go to the lowest index.
int64_t Argmax(const float* logits, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

// Inverse-CDF draw from weights[0..n) (unnormalised); returns a position in [0, n).
int64_t Draw(const std::vector<double>& weights, int64_t n, DraftRng& rng) {
  const double mass = std::accumulate(weights.begin(), weights.begin() + n, 0.0);
  const double target = rng.Uniform() * mass;
  double cumulative = 0;
  for (int64_t i = 0; i < n; ++i) {
    cumulative += weights[i];
    if (target < cumulative) return i;
  }
  return n - 1;
}

// Picks one index from `logits` (length V) after temperature, top-k and top-p. Without top-k or
// top-p the draw runs over the vocabulary in index order (no sort: O(V)); with them, over the
// kept candidates in descending order (ties broken by index, so the order is fully determined).
int64_t SampleRow(const float* logits, int64_t V, const SamplingParams& p, DraftRng& rng) {
  const int64_t top_index = Argmax(logits, V);
  if (p.temperature == 0.f) return top_index;
  const double top = logits[top_index];
  std::vector<double> weights;
  if (p.top_k == 0 && p.top_p >= 1.f) {
    weights.resize(V);
    for (int64_t i = 0; i < V; ++i) weights[i] = std::exp((logits[i] - top) / p.temperature);
    return Draw(weights, V, rng);
  }
  const int64_t kept = p.top_k > 0 ? std::min<int64_t>(p.top_k, V) : V;
  std::vector<int64_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + kept, order.end(), [&](int64_t a, int64_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  weights.resize(kept);
  double total = 0;
  for (int64_t i = 0; i < kept; ++i) {
    weights[i] = std::exp((logits[order[i]] - top) / p.temperature);
    total += weights[i];
  }
  int64_t nucleus = kept;
  if (p.top_p < 1.f) {
    double cumulative = 0;
    for (int64_t i = 0; i < kept; ++i) {
      cumulative += weights[i] / total;
      if (cumulative >= p.top_p) {
        nucleus = i + 1;
        break;
      }
    }
  }
  return order[Draw(weights, nucleus, rng)];
}

}  // namespace

uint64_t DraftRng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double DraftRng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

std::vector<int64_t> SampleTokens(const torch::Tensor& logits, const SamplingParams& params,
                                  std::vector<DraftRng>& rngs) {
  std::vector<DraftRng*> streams;
  for (DraftRng& rng : rngs) streams.push_back(&rng);
  return SampleTokens(logits, std::vector<SamplingParams>(rngs.size(), params), streams);
}

std::vector<int64_t> SampleTokens(const torch::Tensor& logits,
                                  const std::vector<SamplingParams>& params,
                                  const std::vector<DraftRng*>& rngs) {
  const torch::Tensor rows = logits.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t B = rows.size(0), V = rows.size(1);
  TORCH_CHECK(static_cast<int64_t>(rngs.size()) == B && static_cast<int64_t>(params.size()) == B,
              "one rng and one SamplingParams per row are required");
  std::vector<int64_t> tokens(B);
  const float* data = rows.data_ptr<float>();
  // Rows are independent (each has its own stream), so they are drawn in parallel.
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) tokens[b] = SampleRow(data + b * V, V, params[b], *rngs[b]);
  });
  return tokens;
}

}  // namespace duet::fusion
