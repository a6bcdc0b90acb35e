// Tests of the evaluation metrics and caption helpers against hand-computed values.
#include "training/eval_metrics.h"

#include <cmath>
#include <numeric>

#include "gtest/gtest.h"
#include "training/batches.h"
#include "training/judge.h"
#include "tests/training/synthetic_data.h"

namespace duet::training {
namespace {

TEST(EvalMetricsTest, PsnrMatchesTheDefinition) {
  const torch::Tensor a = torch::zeros({2, 3, 8, 8});
  EXPECT_DOUBLE_EQ(MeanPsnr(a, a), kMaxPsnr);
  const torch::Tensor b = torch::full({2, 3, 8, 8}, 0.1);  // MSE 0.01 -> 20 dB
  EXPECT_NEAR(MeanPsnr(a, b), 20.0, 1e-4);
}

TEST(EvalMetricsTest, SsimIsOneForIdenticalImagesAndLowerForNoise) {
  torch::manual_seed(0);
  const torch::Tensor a = torch::rand({1, 3, 16, 16});
  EXPECT_NEAR(MeanSsim(a, a), 1.0, 1e-9);
  const torch::Tensor noisy = (a + 0.3 * torch::randn_like(a)).clamp(0, 1);
  EXPECT_LT(MeanSsim(a, noisy), 0.8);
  EXPECT_GT(MeanSsim(a, noisy), -1.0);
}

TEST(EvalMetricsTest, PairwiseDistance) {
  const torch::Tensor images =
      torch::stack({torch::zeros({3, 2, 2}), torch::ones({3, 2, 2}), torch::zeros({3, 2, 2})});
  // Pairs: (0,1) 1, (0,2) 0, (1,2) 1 -> 2/3.
  EXPECT_NEAR(MeanPairwiseDistance(images), 2.0 / 3.0, 1e-9);
  EXPECT_EQ(MeanPairwiseDistance(images.narrow(0, 0, 1)), 0.0);
}

TEST(EvalMetricsTest, TokenF1AndExactMatch) {
  EXPECT_DOUBLE_EQ(TokenF1("top hat", "top hat"), 1.0);
  EXPECT_DOUBLE_EQ(TokenF1("Top  hat", "top hat"), 1.0);
  EXPECT_NEAR(TokenF1("black top hat", "top hat"), 0.8, 1e-12);  // P 2/3, R 1
  EXPECT_DOUBLE_EQ(TokenF1("robot", "top hat"), 0.0);
  EXPECT_DOUBLE_EQ(TokenF1("", "top hat"), 0.0);
  EXPECT_NEAR(TokenF1("마술사 모자", "마술사 모자 검은"), 0.8, 1e-12);
  EXPECT_TRUE(ExactMatch(" Top hat ", "top hat"));
  EXPECT_FALSE(ExactMatch("top", "top hat"));
}

TEST(EvalMetricsTest, TopKAccuracy) {
  const torch::Tensor logits = torch::tensor({{0.1, 0.9, 0.0}, {0.5, 0.2, 0.3}});
  EXPECT_DOUBLE_EQ(TopKAccuracy(logits, torch::tensor({1, 2}), 1), 0.5);
  EXPECT_DOUBLE_EQ(TopKAccuracy(logits, torch::tensor({1, 2}), 2), 1.0);
  EXPECT_DOUBLE_EQ(TopKAccuracy(logits, torch::tensor({2, 1}), 5), 1.0);
}

TEST(EvalMetricsTest, BestOfEachGroupTakesTheFirstOfEquals) {
  const std::vector<double> scores = {-3, -1, -2, -5, -5, -4, 0};
  EXPECT_EQ(BestOfEachGroup(scores, 3), (std::vector<int64_t>{1, 5, 6}));  // last group short
  EXPECT_EQ(BestOfEachGroup({-2, -2, -7, -2}, 2), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(BestOfEachGroup(scores, 1).size(), scores.size());
}

TEST(CaptionTest, TargetsCarryBothLanguages) {
  Concept c{"1F3A9", "Objects", {"top hat", "tophat"}, {"마술사 모자", "마술"}};
  EXPECT_EQ(CaptionTarget(c), "top hat | 마술사 모자");
  EXPECT_EQ(SplitCaption(CaptionTarget(c)),
            std::make_pair(std::string("top hat"), std::string("마술사 모자")));
  EXPECT_EQ(SplitCaption("robot"), std::make_pair(std::string("robot"), std::string()));
}

TEST(CaptionTest, PadIds) {
  auto [ids, lengths] = PadIds({{5, 6, 7}, {8}}, 2);
  EXPECT_TRUE(torch::equal(ids, torch::tensor({{5, 6}, {8, 0}}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(lengths, torch::tensor({2, 1}, torch::kInt64)));
}

}  // namespace
}  // namespace duet::training

namespace duet::training {
namespace {

// A judge trained on styles names the style, not the concept: on the synthetic set (filled
// against outlined shapes) it tells the two apart wherever they differ. Bars have no inner part
// to leave out, so their two styles are the same pixels and are left out of the count.
TEST(JudgeTest, AStyleJudgeNamesTheStyle) {
  const Dataset data = testing::SyntheticDataset();
  std::vector<int64_t> all(static_cast<size_t>(data.size()));
  std::iota(all.begin(), all.end(), 0);
  JudgeOptions options;
  options.target = JudgeTarget::kStyle;
  options.epochs = 30;
  options.batch_size = 8;
  options.channels = 8;
  auto judge = TrainJudge(data, all, options, torch::kCPU);
  ASSERT_TRUE(judge.ok()) << judge.status();
  const torch::Tensor logits = JudgeLogits(*judge, ImagesToFloat(data.images), torch::kCPU);
  ASSERT_EQ(logits.size(1), 2);  // one class per style, not per concept
  const torch::Tensor predicted = logits.argmax(1);
  int right = 0, counted = 0;
  for (int64_t i = 0; i < data.size(); ++i) {
    if (data.ids[i].item<int64_t>() / 4 == 2) continue;  // a bar
    ++counted;
    right += predicted[i].item<int64_t>() == data.styles[i].item<int64_t>();
  }
  EXPECT_GE(right, counted - 1) << right << " of " << counted;
}

}  // namespace
}  // namespace duet::training
