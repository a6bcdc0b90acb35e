// Batch invariance: a row's numbers never depend on how many rows, or which others, share its
// batch. Users rely on it (a seed found among 64 drafts regenerates alone, byte for byte), and it
// is what batched servers most often break: a matmul library may pick another kernel or another
// reduction blocking for another row count. Checked at Duet's real layer shapes, row by row.
#include <torch/torch.h>

#include "common/mixed_precision.h"
#include "fusion/generation.h"
#include "gtest/gtest.h"

namespace duet::fusion {
namespace {

constexpr int64_t kRowCounts[] = {1, 7, 64, 256};

// The default model's transformer widths (d 256, MLP 1024, 1000 codes, 4096 pieces, head dim 64)
// on a small grid, so a batch of 256 drafts decodes in well under a second.
TransformerConfig ServingShapes() {
  TransformerConfig c;
  c.d_model = 256;
  c.n_heads = 4;
  c.n_layers = 2;
  c.d_ff = 1024;
  c.window = 3;
  c.global_every = 2;
  c.text_dim = 128;
  c.text_prefix_len = 8;
  c.text_vocab = 4096;
  c.max_caption_len = 6;
  c.image_grid = 3;
  c.image_codebook = 1000;
  return c;
}

MultimodalTransformer Bf16Model() {
  torch::manual_seed(11);
  MultimodalTransformer model(ServingShapes());
  model->eval();
  ConvertForInference(*model, torch::kBFloat16);
  return model;
}

// Rows [0, n) of a fixed pool of 256 distinct prompts.
struct Prompts {
  torch::Tensor text, lengths;
  Prompts Take(int64_t n, int64_t first = 0) const {
    return {text.narrow(0, first, n), lengths.narrow(0, first, n)};
  }
};

Prompts PromptPool() {
  torch::manual_seed(5);
  const TransformerConfig c = ServingShapes();
  return {torch::randn({256, c.text_prefix_len, c.text_dim}),
          torch::randint(1, c.text_prefix_len + 1, {256}, torch::kInt64)};
}

std::vector<uint64_t> Seeds(uint64_t first, int64_t n) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < n; ++i) seeds.push_back(first + i);
  return seeds;
}

TEST(BatchInvariance, Bf16LinearRowsMatchTheRowAlone) {
  // [K, N] of every linear layer in the default model: qkv, proj, fc1, fc2, image and text heads.
  const std::pair<int64_t, int64_t> shapes[] = {
      {256, 768}, {256, 256}, {256, 1024}, {1024, 256}, {256, 1000}, {256, 4096}, {128, 256}};
  torch::manual_seed(1);
  for (const auto& [K, N] : shapes) {
    const torch::Tensor w = torch::randn({N, K}).to(torch::kBFloat16);
    const torch::Tensor b = torch::randn({N}).to(torch::kBFloat16);
    const torch::Tensor x = torch::randn({256, K}).to(torch::kBFloat16);
    for (int64_t M : kRowCounts) {
      const torch::Tensor batch = torch::linear(x.narrow(0, 0, M), w, b);
      for (int64_t row : {int64_t{0}, M / 2, M - 1}) {
        const torch::Tensor alone = torch::linear(x.narrow(0, row, 1), w, b);
        EXPECT_TRUE(torch::equal(batch[row], alone[0]))
            << "K " << K << " N " << N << " M " << M << " row " << row;
      }
    }
  }
}

TEST(BatchInvariance, Bf16DecodeStepLogitsMatchTheRowAlone) {
  // One prefill and one cached step, as GenerateImageCodes runs them, at each batch size.
  MultimodalTransformer model = Bf16Model();
  const Prompts pool = PromptPool();
  torch::NoGradGuard no_grad;
  auto step_logits = [&](const Prompts& p) {
    const int64_t B = p.text.size(0);
    auto [prefix, layout] = model->EmbedTextPrefix(p.text, p.lengths, torch::zeros({B}, torch::kBool));
    KVCache cache = model->NewCache(Task::kTextToImage, B);
    const torch::Tensor start = torch::full({B, 1}, ServingShapes().image_codebook, torch::kInt64);
    torch::Tensor x = torch::cat({prefix, model->EmbedImageTargets(start, 0)}, 1);
    model->forward(x, Task::kTextToImage, 0, layout, &cache);
    const torch::Tensor next = torch::arange(B, torch::kInt64).remainder(1000).view({B, 1});
    const torch::Tensor h = model->forward(model->EmbedImageTargets(next, 1), Task::kTextToImage,
                                           layout.prefix_len + 1, layout, &cache);
    return model->ImageLogits(h.select(1, -1));  // [B, K]
  };
  const torch::Tensor all = step_logits(pool.Take(256));
  for (int64_t M : kRowCounts) {
    const torch::Tensor part = step_logits(pool.Take(M));
    EXPECT_TRUE(torch::equal(part, all.narrow(0, 0, M))) << "batch " << M;
  }
}

TEST(BatchInvariance, Bf16DraftAloneEqualsTheDraftInAnyBatch) {
  MultimodalTransformer model = Bf16Model();
  const Prompts pool = PromptPool();
  SamplingParams p;
  p.guidance_scale = 3.0f;
  // One prompt, many drafts; then the same drafts while other prompts fill the batch.
  const Prompts one = {pool.text.narrow(0, 0, 1).expand({256, -1, -1}),
                       pool.lengths.narrow(0, 0, 1).expand({256})};
  auto batch = GenerateImageCodes(model, one.text, one.lengths, Seeds(40, 256), p);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (int64_t M : {int64_t{2}, int64_t{7}, int64_t{64}}) {
    auto part = GenerateImageCodes(model, one.Take(M).text, one.Take(M).lengths, Seeds(40, M), p);
    ASSERT_TRUE(part.ok());
    EXPECT_TRUE(torch::equal(*part, batch->narrow(0, 0, M))) << "batch " << M;
  }
  for (int64_t i : {int64_t{0}, int64_t{37}, int64_t{255}}) {
    auto alone = GenerateImageCodes(model, one.Take(1, i).text, one.Take(1, i).lengths,
                                    {40 + static_cast<uint64_t>(i)}, p);
    ASSERT_TRUE(alone.ok());
    EXPECT_TRUE(torch::equal((*alone)[0], (*batch)[i])) << "draft " << i;
  }
  // Draft 5 of the prompt, decoded while 63 rows of other prompts share the batch.
  Prompts mixed = pool.Take(64);
  mixed.text = mixed.text.clone();
  mixed.lengths = mixed.lengths.clone();
  mixed.text[10] = pool.text[0];
  mixed.lengths[10] = pool.lengths[0];
  std::vector<uint64_t> seeds = Seeds(900, 64);
  seeds[10] = 45;
  auto shared = GenerateImageCodes(model, mixed.text, mixed.lengths, seeds, p);
  ASSERT_TRUE(shared.ok());
  EXPECT_TRUE(torch::equal((*shared)[10], (*batch)[5]));
  EXPECT_FALSE(torch::equal((*batch)[0], (*batch)[1]));  // seeds still matter
}

TEST(BatchInvariance, Bf16CaptionsAndScoresDoNotDependOnTheBatch) {
  MultimodalTransformer model = Bf16Model();
  torch::manual_seed(8);
  const torch::Tensor codes = torch::randint(0, 1000, {64, 9}, torch::kInt64);
  SamplingParams greedy;
  greedy.temperature = 0;
  auto all = GenerateText(model, codes, Seeds(0, 64), greedy, 5);
  ASSERT_TRUE(all.ok()) << all.status();
  auto all_scores = ScoreText(model, codes, *all);
  ASSERT_TRUE(all_scores.ok());
  for (int64_t i : {int64_t{0}, int64_t{13}, int64_t{63}}) {
    auto alone = GenerateText(model, codes.narrow(0, i, 1), {static_cast<uint64_t>(i)}, greedy, 5);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*alone)[0], (*all)[i]) << "image " << i;
    auto score = ScoreText(model, codes.narrow(0, i, 1), {(*all)[i]});
    ASSERT_TRUE(score.ok());
    EXPECT_EQ((*score)[0], (*all_scores)[i]) << "image " << i;  // bitwise, not approximately
  }
}

}  // namespace
}  // namespace duet::fusion
