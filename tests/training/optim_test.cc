// Tests of the optimizer (against LibTorch's AdamW), the learning-rate schedule, the training
// config and checkpoints.
#include <cmath>
#include <filesystem>
#include <string>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/model/tiny_duet.h"
#include "training/adam.h"
#include "training/checkpoint.h"
#include "training/losses.h"
#include "training/train_config.h"

namespace duet::training {
namespace {

TEST(AdamWTest, MatchesLibTorchAdamW) {
  torch::manual_seed(0);
  torch::Tensor mine = torch::randn({4, 3}).requires_grad_(true);
  torch::Tensor theirs = mine.detach().clone().requires_grad_(true);
  AdamW adam({{"w", mine}}, {0.9, 0.99, 1e-8, 0.01});
  torch::optim::AdamW reference(
      {theirs}, torch::optim::AdamWOptions(0.05).betas({0.9, 0.99}).eps(1e-8).weight_decay(0.01));
  for (int step = 0; step < 5; ++step) {
    const torch::Tensor target = torch::full({4, 3}, static_cast<double>(step));
    (mine - target).pow(2).sum().backward();
    adam.Step(0.05);
    reference.zero_grad();
    (theirs - target).pow(2).sum().backward();
    reference.step();
  }
  EXPECT_TRUE(torch::allclose(mine, theirs, 1e-6, 1e-6)) << mine - theirs;
}

// Every training config the docs tell people to run with is read by the same code `duet train`
// reads it with: a misspelt key or a value out of range fails here instead of an hour into a run.
// (duet-*.json beside them are model configs, read by `duet train --model-config`.)
TEST(TrainConfigTest, EveryShippedTrainingConfigLoads) {
  namespace fs = std::filesystem;
  int loaded = 0;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(fs::path(DUET_SOURCE_DIR) / "training" / "configs")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name.rfind("duet-", 0) == 0) continue;
    auto json = ReadJsonFile(entry.path().string());
    ASSERT_TRUE(json.ok()) << name << ": " << json.status();
    auto config = TrainConfig::FromJson(*json);
    EXPECT_TRUE(config.ok()) << name << ": " << config.status();
    ++loaded;
  }
  EXPECT_GE(loaded, 6);
}

TEST(AdamWTest, StateRoundTripsThroughACheckpoint) {
  model::testing::TempDir dir;
  torch::nn::Linear a(3, 2), b(3, 2);
  AdamW adam_a(NamedParameters({{"m.", a.ptr().get()}}), {});
  a->forward(torch::ones({1, 3})).sum().backward();
  adam_a.Step(0.1);
  ASSERT_TRUE(SaveCheckpoint(dir.path(), 7, {{"m.", a.ptr().get()}}, &adam_a, {}, 1).ok());
  ASSERT_TRUE(SaveCheckpoint(dir.path(), 9, {{"m.", a.ptr().get()}}, &adam_a, {}, 1).ok());
  EXPECT_EQ(LatestCheckpointStep(dir.path()), 9);
  EXPECT_FALSE(std::filesystem::exists(CheckpointPath(dir.path(), 7)));  // keep = 1
  AdamW adam_b(NamedParameters({{"m.", b.ptr().get()}}), {});
  auto step = LoadCheckpoint(CheckpointPath(dir.path(), 9), {{"m.", b.ptr().get()}}, &adam_b);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, 9);
  EXPECT_EQ(adam_b.steps(), 1);
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  // Same gradient, same state: the next updates agree exactly.
  a->forward(torch::ones({1, 3})).sum().backward();
  b->forward(torch::ones({1, 3})).sum().backward();
  adam_a.Step(0.1);
  adam_b.Step(0.1);
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
}

TEST(TrainConfigTest, JsonRoundTripAndErrors) {
  TrainConfig c;
  c.seed = 5;
  c.joint.batch_size = 7;
  c.joint.caption_batch_size = 3;
  c.joint.caption_variants = 4;
  c.joint.first_codes = 16;
  c.joint.first_codes_weight = 3.0;
  auto back = TrainConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->seed, 5u);
  EXPECT_EQ(back->joint.batch_size, 7);
  EXPECT_EQ(back->joint.caption_batch_size, 3);
  EXPECT_EQ(back->joint.caption_variants, 4);
  EXPECT_EQ(back->joint.first_codes, 16);
  EXPECT_EQ(back->joint.first_codes_weight, 3.0);
  // The image stage predicts no codes; a weight must be positive.
  auto image_first = TrainConfig::FromJson({{"image", {{"first_codes", 4}}}});
  ASSERT_FALSE(image_first.ok());
  EXPECT_NE(image_first.status().message().find("image.first_codes"), std::string::npos);
  auto zero_weight = TrainConfig::FromJson({{"joint", {{"first_codes_weight", 0.0}}}});
  ASSERT_FALSE(zero_weight.ok());
  EXPECT_NE(zero_weight.status().message().find("joint.first_codes_weight"), std::string::npos);
  // Caption rows exist only in the joint stage.
  auto image_rows = TrainConfig::FromJson({{"image", {{"caption_variants", 2}}}});
  ASSERT_FALSE(image_rows.ok());
  EXPECT_NE(image_rows.status().message().find("image.caption_variants"), std::string::npos);
  auto unknown = TrainConfig::FromJson({{"image", {{"stpes", 3}}}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("image.stpes"), std::string::npos);
  EXPECT_FALSE(TrainConfig::FromJson({{"device", "tpu"}}).ok());
  EXPECT_FALSE(TrainConfig::FromJson({{"joint", {{"lr", "fast"}}}}).ok());
}

TEST(TrainConfigTest, LearningRateWarmsUpThenDecays) {
  StageConfig s;
  s.steps = 100;
  s.warmup = 10;
  s.lr = 1.0;
  s.min_lr_ratio = 0.1;
  EXPECT_NEAR(LearningRate(s, 0), 0.1, 1e-12);
  EXPECT_NEAR(LearningRate(s, 9), 1.0, 1e-12);
  EXPECT_NEAR(LearningRate(s, 10), 1.0, 1e-12);
  EXPECT_NEAR(LearningRate(s, 55), 0.55, 1e-12);
  EXPECT_NEAR(LearningRate(s, 100), 0.1, 1e-12);
}

TEST(CodeLossTest, WeightedMeanCountsTheFirstCodesMoreAndKeepsAPerCodeMean) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({2, 5, 7}, torch::requires_grad());
  const torch::Tensor codes = torch::randint(0, 7, {2, 5}, torch::kInt64);
  const torch::Tensor per_code = CodeCrossEntropy(logits, codes);
  ASSERT_EQ(per_code.sizes(), codes.sizes());
  const torch::Tensor plain = torch::nn::functional::cross_entropy(logits.flatten(0, 1), codes.flatten());
  EXPECT_TRUE(torch::allclose(per_code.mean(), plain));
  // Weight 1 and first 0 are the plain mean.
  EXPECT_TRUE(torch::allclose(WeightedCodeMean(per_code, 2, 1.0), plain));
  EXPECT_TRUE(torch::allclose(WeightedCodeMean(per_code, 0, 4.0), plain));
  // First 2 of 5 codes counted 4 times: (4 * (c0 + c1) + c2 + c3 + c4) / (2 * 11) over both rows.
  const torch::Tensor c = per_code.detach();
  const torch::Tensor expected =
      (4 * c.narrow(1, 0, 2).sum() + c.narrow(1, 2, 3).sum()) / (2.0 * 11.0);
  const torch::Tensor weighted = WeightedCodeMean(per_code, 2, 4.0);
  EXPECT_TRUE(torch::allclose(weighted, expected));
  // A first beyond the row weights every code: the plain mean again.
  EXPECT_TRUE(torch::allclose(WeightedCodeMean(per_code, 99, 4.0), plain));
  // The gradient reaches the logits.
  weighted.backward();
  const torch::Tensor g = logits.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g[0][0].abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace duet::training
