// The sampler: filters behave as documented, streams are reproducible, bad settings are named.
#include "fusion/sampler.h"

#include <set>

#include "gtest/gtest.h"

namespace duet::fusion {
namespace {

std::vector<int64_t> Draw(const torch::Tensor& logits, const SamplingParams& p, int n,
                          uint64_t seed) {
  std::vector<DraftRng> rngs{DraftRng(seed)};
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(SampleTokens(logits, p, rngs)[0]);
  return out;
}

TEST(Sampler, GreedyPicksTheArgmaxAndBreaksTiesByIndex) {
  SamplingParams p;
  p.temperature = 0;
  std::vector<DraftRng> rngs{DraftRng(1), DraftRng(2)};
  const torch::Tensor logits = torch::tensor({{0.f, 3.f, 1.f}, {2.f, 2.f, -1.f}});
  EXPECT_EQ(SampleTokens(logits, p, rngs), (std::vector<int64_t>{1, 0}));
}

TEST(Sampler, TopKKeepsOnlyTheKMostLikely) {
  SamplingParams p;
  p.top_k = 2;
  const torch::Tensor logits = torch::tensor({{1.f, 5.f, 4.9f, 0.f, 4.8f}});
  const auto draws = Draw(logits, p, 400, 3);
  const std::set<int64_t> seen(draws.begin(), draws.end());
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2}));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  SamplingParams p;
  p.top_p = 0.6f;  // probabilities 0.5, 0.3, 0.2: the nucleus is {0, 1}.
  const torch::Tensor logits = torch::tensor({{0.5f, 0.3f, 0.2f}}).log();
  const auto draws = Draw(logits, p, 600, 4);
  const std::set<int64_t> seen(draws.begin(), draws.end());
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1}));
  const double zeros = std::count(draws.begin(), draws.end(), 0) / 600.0;
  EXPECT_NEAR(zeros, 0.5 / 0.8, 0.06);  // Renormalised inside the nucleus.
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  SamplingParams p;
  const torch::Tensor logits = torch::tensor({{0.7f, 0.2f, 0.1f}}).log();
  const auto draws = Draw(logits, p, 3000, 5);
  EXPECT_NEAR(std::count(draws.begin(), draws.end(), 0) / 3000.0, 0.7, 0.03);
  EXPECT_NEAR(std::count(draws.begin(), draws.end(), 2) / 3000.0, 0.1, 0.02);
}

TEST(Sampler, SameSeedSameStreamDifferentSeedDifferentStream) {
  SamplingParams p;
  const torch::Tensor logits = torch::zeros({1, 50});
  EXPECT_EQ(Draw(logits, p, 64, 11), Draw(logits, p, 64, 11));
  EXPECT_NE(Draw(logits, p, 64, 11), Draw(logits, p, 64, 12));
}

TEST(Sampler, ValidationNamesTheFieldAndLimit) {
  SamplingParams p;
  p.temperature = std::nanf("");
  EXPECT_NE(ValidateSampling(p, 10).message().find("temperature"), std::string::npos);
  p = {};
  p.temperature = -1;
  EXPECT_EQ(ValidateSampling(p, 10).code(), absl::StatusCode::kInvalidArgument);
  p = {};
  p.top_p = 0;
  EXPECT_NE(ValidateSampling(p, 10).message().find("top_p must be in (0, 1]"), std::string::npos);
  p = {};
  p.top_k = 11;
  EXPECT_NE(ValidateSampling(p, 10).message().find("top_k must be in [0, 10]"), std::string::npos);
  p = {};
  EXPECT_TRUE(ValidateSampling(p, 10).ok());
}

}  // namespace
}  // namespace duet::fusion
