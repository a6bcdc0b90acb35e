// Batched generation: seeds make drafts reproducible one by one, cancellation stops early,
// and scores are real log-probabilities.
#include "fusion/generation.h"

#include "gtest/gtest.h"
#include "tests/fusion/tiny_model.h"

namespace duet::fusion {
namespace {

using testing::TinyConfig;
using testing::TinyModel;

struct Prompt {
  torch::Tensor text, lengths;
};

Prompt RepeatedPrompt(int64_t n) {
  torch::manual_seed(3);
  const TransformerConfig c = TinyConfig();
  const torch::Tensor one = torch::randn({1, c.text_prefix_len, c.text_dim});
  return {one.expand({n, -1, -1}).contiguous(), torch::full({n}, 5, torch::kInt64)};
}

std::vector<uint64_t> Seeds(uint64_t first, int64_t n) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < n; ++i) seeds.push_back(first + i);
  return seeds;
}

TEST(Generation, DraftAloneEqualsTheSameDraftInABatch) {
  MultimodalTransformer model = TinyModel();
  SamplingParams p;
  p.guidance_scale = 3.0f;
  p.top_k = 20;
  const Prompt batch = RepeatedPrompt(6);
  auto all = GenerateImageCodes(model, batch.text, batch.lengths, Seeds(100, 6), p);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->sizes(), (std::vector<int64_t>{6, 4, 4}));
  for (int64_t i : {0, 4}) {
    const Prompt one = RepeatedPrompt(1);
    auto alone = GenerateImageCodes(model, one.text, one.lengths, {100 + uint64_t(i)}, p);
    ASSERT_TRUE(alone.ok());
    EXPECT_TRUE(torch::equal((*alone)[0], (*all)[i])) << "draft " << i;
  }
  // Different seeds draw different grids.
  EXPECT_FALSE(torch::equal((*all)[0], (*all)[1]));
  EXPECT_GE(all->min().item<int64_t>(), 0);
  EXPECT_LT(all->max().item<int64_t>(), TinyConfig().image_codebook);
}

TEST(Generation, GreedyCodesMatchTeacherForcedArgmax) {
  MultimodalTransformer model = TinyModel();
  SamplingParams p;
  p.temperature = 0;
  const Prompt prompt = RepeatedPrompt(2);
  auto codes = GenerateImageCodes(model, prompt.text, prompt.lengths, Seeds(0, 2), p);
  ASSERT_TRUE(codes.ok());
  torch::NoGradGuard no_grad;
  const torch::Tensor flat = codes->view({2, -1});
  const torch::Tensor logits = model->TextToImageLogits(prompt.text, prompt.lengths, flat,
                                                        torch::zeros({2}, torch::kBool));
  EXPECT_TRUE(torch::equal(logits.argmax(-1), flat));
}

TEST(Generation, CancellationStopsBeforeTheNextStep) {
  MultimodalTransformer model = TinyModel();
  const Prompt prompt = RepeatedPrompt(2);
  int64_t steps = 0;
  auto codes = GenerateImageCodes(model, prompt.text, prompt.lengths, Seeds(0, 2), {},
                                  [&](int64_t done, int64_t total) {
                                    steps = done;
                                    EXPECT_EQ(total, 16);
                                    return done < 5;
                                  });
  EXPECT_EQ(codes.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(steps, 5);
}

TEST(Generation, RejectsBadSamplingAndMismatchedSeeds) {
  MultimodalTransformer model = TinyModel();
  const Prompt prompt = RepeatedPrompt(2);
  SamplingParams p;
  p.top_p = 1.5f;
  EXPECT_EQ(GenerateImageCodes(model, prompt.text, prompt.lengths, Seeds(0, 2), p).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateImageCodes(model, prompt.text, prompt.lengths, Seeds(0, 3), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Generation, GreedyCaptionScoresHigherThanOtherCaptions) {
  MultimodalTransformer model = TinyModel();
  const TransformerConfig c = TinyConfig();
  torch::manual_seed(5);
  const torch::Tensor codes = torch::randint(c.image_codebook, {3, c.image_tokens()});
  SamplingParams greedy;
  greedy.temperature = 0;
  auto captions = GenerateText(model, codes, Seeds(0, 3), greedy, c.max_caption_len - 1);
  ASSERT_TRUE(captions.ok()) << captions.status();
  for (const auto& caption : *captions) {
    EXPECT_LE(caption.size(), static_cast<size_t>(c.max_caption_len - 1));
    for (int64_t id : caption) EXPECT_NE(id, kTextEosId);
  }
  auto scores = ScoreText(model, codes, *captions);
  ASSERT_TRUE(scores.ok()) << scores.status();
  std::vector<std::vector<int64_t>> others(3, std::vector<int64_t>{7, 8, 9});
  auto other_scores = ScoreText(model, codes, others);
  ASSERT_TRUE(other_scores.ok());
  for (int b = 0; b < 3; ++b) {
    EXPECT_LT((*scores)[b], 0.0);
    EXPECT_LT((*other_scores)[b], 0.0);
  }
  // Scores are sums of per-token log-probabilities: an exact check against teacher forcing.
  std::vector<std::vector<int64_t>> one{{5, 6}};
  auto score = ScoreText(model, codes.narrow(0, 0, 1), one);
  ASSERT_TRUE(score.ok());
  torch::NoGradGuard no_grad;
  torch::Tensor targets = torch::zeros({1, c.max_caption_len}, torch::kInt64);
  targets[0][0] = 5;
  targets[0][1] = 6;
  targets[0][2] = kTextEosId;
  const torch::Tensor logp =
      torch::log_softmax(model->ImageToTextLogits(codes.narrow(0, 0, 1), targets).to(torch::kFloat64), -1);
  const double expected = logp[0][0][5].item<double>() + logp[0][1][6].item<double>() +
                          logp[0][2][kTextEosId].item<double>();
  EXPECT_NEAR((*score)[0], expected, 1e-9);
  EXPECT_EQ(ScoreText(model, codes.narrow(0, 0, 1), {{99}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace duet::fusion
