// The transformer's masks and KV cache: what each position may see, and that cached decoding
// reproduces full recomputation exactly, in both directions.
#include "fusion/transformer.h"

#include "fusion/attention.h"
#include "gtest/gtest.h"
#include "tests/fusion/tiny_model.h"

namespace duet::fusion {
namespace {

using testing::TinyConfig;
using testing::TinyModel;

struct TextToImageInputs {
  torch::Tensor text, lengths, codes, drop;
};

TextToImageInputs RandomT2I(int64_t B) {
  const TransformerConfig c = TinyConfig();
  return {torch::randn({B, c.text_prefix_len, c.text_dim}), torch::tensor({4, 6}).narrow(0, 0, B),
          torch::randint(c.image_codebook, {B, c.image_tokens()}), torch::zeros({B}, torch::kBool)};
}

TEST(Transformer, LaterTargetTokensNeverChangeEarlierOutputs) {
  torch::NoGradGuard no_grad;
  MultimodalTransformer model = TinyModel();
  TextToImageInputs in = RandomT2I(2);
  const torch::Tensor base = model->TextToImageLogits(in.text, in.lengths, in.codes, in.drop);
  for (int64_t t : {3, 9, 15}) {
    torch::Tensor changed = in.codes.clone();
    changed.select(1, t).add_(1).remainder_(TinyConfig().image_codebook);
    const torch::Tensor out = model->TextToImageLogits(in.text, in.lengths, changed, in.drop);
    // Output j predicts code j from codes < j: positions <= t are untouched, t + 1 must move.
    EXPECT_TRUE(torch::equal(out.narrow(1, 0, t + 1), base.narrow(1, 0, t + 1))) << t;
    if (t + 1 < base.size(1)) {
      EXPECT_FALSE(torch::allclose(out.select(1, t + 1), base.select(1, t + 1))) << t;
    }
  }
}

TEST(Transformer, PrefixTokensChangeEveryTargetPosition) {
  torch::NoGradGuard no_grad;
  MultimodalTransformer model = TinyModel();
  TextToImageInputs in = RandomT2I(1);
  const torch::Tensor base = model->TextToImageLogits(in.text, in.lengths, in.codes, in.drop);
  torch::Tensor text = in.text.clone();
  text[0][3] += 1.0;  // A real prefix position (length 4).
  const torch::Tensor out = model->TextToImageLogits(text, in.lengths, in.codes, in.drop);
  const torch::Tensor moved = (out - base).abs().amax(-1)[0];  // [N]
  EXPECT_GT(moved.min().item<float>(), 1e-6);
  // Padding positions of the prefix are invisible.
  torch::Tensor padded = in.text.clone();
  padded[0][5] += 1.0;
  EXPECT_TRUE(torch::equal(model->TextToImageLogits(padded, in.lengths, in.codes, in.drop), base));
}

TEST(Transformer, ImagePrefixChangesEveryCaptionPosition) {
  torch::NoGradGuard no_grad;
  MultimodalTransformer model = TinyModel();
  const TransformerConfig c = TinyConfig();
  const torch::Tensor codes = torch::randint(c.image_codebook, {1, c.image_tokens()});
  const torch::Tensor targets = torch::randint(4, c.text_vocab, {1, c.max_caption_len});
  const torch::Tensor base = model->ImageToTextLogits(codes, targets);
  torch::Tensor changed = codes.clone();
  changed[0][0] = (changed[0][0].item<int64_t>() + 1) % c.image_codebook;
  const torch::Tensor moved = (model->ImageToTextLogits(changed, targets) - base).abs().amax(-1)[0];
  EXPECT_GT(moved.min().item<float>(), 1e-6);
}

TEST(Transformer, SlidingWindowLayerIgnoresTokensBeyondTheWindow) {
  torch::NoGradGuard no_grad;
  MultimodalTransformer model = TinyModel();
  const TransformerConfig c = TinyConfig();
  auto* attention = model->layers->ptr<BlockImpl>(0)->attention.get();  // Layer 0 slides (window 4).
  const int64_t T = 20, P = 6;
  const torch::Tensor x = torch::randn({1, T, c.d_model});
  const PrefixLayout layout{P, torch::tensor({P}, torch::kInt32)};
  const torch::Tensor base = attention->forward(x, 0, layout, nullptr);
  torch::Tensor changed = x.clone();
  changed[0][8] += 1.0;
  const torch::Tensor out = attention->forward(changed, 0, layout, nullptr);
  const torch::Tensor moved = (out - base).abs().amax(-1)[0];  // [T]
  for (int64_t i = 0; i < T; ++i) {
    const bool in_window = i >= 8 && i - 8 < c.window;  // Causal target: later queries only.
    EXPECT_EQ(moved[i].item<float>() > 0, in_window) << "position " << i;
  }
}

// With global_prefix a sliding-window layer keeps the prompt in view of every query; without it,
// queries more than a window past a prefix position never see it.
TEST(Transformer, GlobalPrefixKeepsThePromptInViewBeyondTheWindow) {
  torch::NoGradGuard no_grad;
  const TransformerConfig c = TinyConfig();
  const int64_t T = 20, P = 6;
  const torch::Tensor x = torch::randn({1, T, c.d_model});
  torch::Tensor changed = x.clone();
  changed[0][1] += 1.0;
  const PrefixLayout layout{P, torch::tensor({P}, torch::kInt32)};
  for (bool global_prefix : {false, true}) {
    MultimodalTransformer model = TinyModel(7, global_prefix);
    auto* attention = model->layers->ptr<BlockImpl>(0)->attention.get();  // a sliding layer
    const torch::Tensor moved = (attention->forward(changed, 0, layout, nullptr) -
                                 attention->forward(x, 0, layout, nullptr))
                                    .abs()
                                    .amax(-1)[0];  // [T]
    for (int64_t i = 0; i < T; ++i) {
      const bool sees = global_prefix || i - 1 < c.window;
      EXPECT_EQ(moved[i].item<float>() > 0, sees)
          << "global_prefix " << global_prefix << " position " << i;
    }
  }
}

// Runs `steps` cached forwards and checks each step's hidden states against full recomputation.
void ExpectCacheMatchesRecompute(MultimodalTransformer& model, Task task, const torch::Tensor& x,
                                 const PrefixLayout& layout) {
  const torch::Tensor full = model->forward(x, task, 0, layout);  // [B, T, C]
  KVCache cache = model->NewCache(task, x.size(0));
  const int64_t P = layout.prefix_len, T = x.size(1);
  const torch::Tensor first = model->forward(x.narrow(1, 0, P + 1), task, 0, layout, &cache);
  EXPECT_LT((first - full.narrow(1, 0, P + 1)).abs().max().item<float>(), 1e-5);
  for (int64_t t = P + 1; t < T; ++t) {
    const torch::Tensor step = model->forward(x.narrow(1, t, 1), task, t, layout, &cache);
    EXPECT_LT((step.select(1, 0) - full.select(1, t)).abs().max().item<float>(), 1e-5) << t;
  }
}

TEST(Transformer, CachedDecodingMatchesRecomputeTextToImage) {
  torch::NoGradGuard no_grad;
  for (bool global_prefix : {false, true}) {
    MultimodalTransformer model = TinyModel(7, global_prefix);
    TextToImageInputs in = RandomT2I(2);
    auto [prefix, layout] = model->EmbedTextPrefix(in.text, in.lengths, in.drop);
    const torch::Tensor targets = model->EmbedImageTargets(in.codes, 0);
    ExpectCacheMatchesRecompute(model, Task::kTextToImage, torch::cat({prefix, targets}, 1),
                                layout);
  }
}

TEST(Transformer, CachedDecodingMatchesRecomputeImageToText) {
  torch::NoGradGuard no_grad;
  MultimodalTransformer model = TinyModel();
  const TransformerConfig c = TinyConfig();
  auto [prefix, layout] = model->EmbedImagePrefix(torch::randint(c.image_codebook, {3, 16}));
  const torch::Tensor targets = model->EmbedTextTargets(torch::randint(c.text_vocab, {3, 8}));
  ExpectCacheMatchesRecompute(model, Task::kImageToText, torch::cat({prefix, targets}, 1), layout);
}

TEST(Transformer, KernelPathMatchesTorchPath) {
  const torch::Tensor q = torch::randn({2, 3, 11, 8}), k = torch::randn({2, 3, 11, 8});
  const torch::Tensor v = torch::randn({2, 3, 11, 8});
  const torch::Tensor valid = torch::tensor({2, 4}, torch::kInt32);
  for (int64_t window : {0, 1, 3, 50}) {
    for (bool global_prefix : {false, true}) {
      const kernels::AttentionMask mask{4, window, global_prefix};
      torch::NoGradGuard no_grad;
      const torch::Tensor fast = Attend(q, k, v, 11, 0, valid, mask);
      const torch::Tensor slow = AttendTorch(q, k, v, 11, 0, valid, mask);
      EXPECT_LT((fast - slow).abs().max().item<float>(), 1e-5) << window << " " << global_prefix;
    }
  }
}

TEST(Transformer, NullPrefixRowsIgnoreThePrompt) {
  torch::NoGradGuard no_grad;
  MultimodalTransformer model = TinyModel();
  TextToImageInputs in = RandomT2I(2);
  const torch::Tensor drop = torch::ones({2}, torch::kBool);
  const torch::Tensor a = model->TextToImageLogits(in.text, in.lengths, in.codes, drop);
  const torch::Tensor b = model->TextToImageLogits(torch::randn_like(in.text), in.lengths, in.codes, drop);
  EXPECT_TRUE(torch::allclose(a, b));
  EXPECT_FALSE(torch::allclose(a, model->TextToImageLogits(in.text, in.lengths, in.codes, in.drop)));
}

// Training trims a text prefix to its batch's longest prompt; the logits and the gradients must
// be those of the full padded prefix, in the sliding-window layers too, with and without a global
// prefix.
TEST(Transformer, TrimmedPrefixGivesTheLogitsAndGradientsOfTheFullPrefix) {
  const torch::Tensor lengths = torch::tensor({2, 3});
  const torch::Tensor drop = torch::tensor({false, true});
  for (bool global_prefix : {false, true}) {
    MultimodalTransformer model = TinyModel(7, global_prefix);
    TextToImageInputs in = RandomT2I(2);
    const torch::Tensor qkv_weight = model->layers[0]->as<Block>()->attention->qkv->weight;
    const torch::Tensor full = model->TextToImageLogits(in.text, lengths, in.codes, drop);
    full.logsumexp(-1).sum().backward();
    const torch::Tensor full_grad = qkv_weight.grad().clone();
    model->zero_grad();
    const torch::Tensor trimmed_text = in.text.narrow(1, 0, 3).clone();
    const torch::Tensor trimmed = model->TextToImageLogits(trimmed_text, lengths, in.codes, drop);
    trimmed.logsumexp(-1).sum().backward();
    EXPECT_LT((full - trimmed).abs().max().item<float>(), 1e-5) << global_prefix;
    EXPECT_LT((full_grad - qkv_weight.grad()).abs().max().item<float>(), 1e-4) << global_prefix;
    EXPECT_THROW(model->TextToImageLogits(trimmed_text, torch::tensor({2, 4}), in.codes, drop),
                 c10::Error);  // A prompt longer than the trimmed prefix is refused, not cut.
  }
  // The skipped positions matter: without them the window would reach other keys.
  const kernels::AttentionMask window{3, TinyConfig().window};
  const torch::Tensor valid = torch::tensor({2, 3}, torch::kInt32);
  EXPECT_FALSE(torch::equal(BuildMask(19, 19, 0, valid, window, 3), BuildMask(19, 19, 0, valid, window)));
  EXPECT_TRUE(torch::equal(BuildMask(19, 19, 0, valid, window, 3).narrow(2, 3, 16).narrow(3, 0, 3),
                           BuildMask(22, 22, 0, valid, {6, window.window}).narrow(2, 6, 16).narrow(3, 0, 3)));
}

TEST(Transformer, TrainingGradientsReachEveryParameter) {
  MultimodalTransformer model = TinyModel();
  model->train();
  TextToImageInputs in = RandomT2I(2);
  const torch::Tensor drop = torch::tensor({false, true});
  const torch::Tensor logits = model->TextToImageLogits(in.text, in.lengths, in.codes, drop);
  const TransformerConfig c = TinyConfig();
  const torch::Tensor captions = torch::randint(4, c.text_vocab, {2, c.max_caption_len});
  const torch::Tensor text_logits = model->ImageToTextLogits(in.codes, captions);
  (logits.logsumexp(-1).mean() + text_logits.logsumexp(-1).mean()).backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<float>(), 0) << item.key();
  }
}

TEST(TransformerConfig, JsonRoundTripAndValidation) {
  TransformerConfig c = TinyConfig();
  auto back = TransformerConfig::FromJson(c.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), c.ToJson());
  nlohmann::json bad = c.ToJson();
  bad["n_heads"] = 5;
  EXPECT_NE(TransformerConfig::FromJson(bad).status().message().find("n_heads"), std::string::npos);
  bad = c.ToJson();
  bad["window"] = "wide";
  EXPECT_NE(TransformerConfig::FromJson(bad).status().message().find("window"), std::string::npos);
  bad = c.ToJson();
  bad["global_prefix"] = 1;
  EXPECT_NE(TransformerConfig::FromJson(bad).status().message().find("transformer.global_prefix"),
            std::string::npos);
  bad = c.ToJson();
  bad["global_prefix"] = true;
  ASSERT_TRUE(TransformerConfig::FromJson(bad).ok());
  EXPECT_TRUE(TransformerConfig::FromJson(bad)->global_prefix);
  bad.erase("global_prefix");  // model directories from before the key keep their mask
  EXPECT_FALSE(TransformerConfig::FromJson(bad)->global_prefix);
  EXPECT_TRUE(c.IsGlobalLayer(2));
  EXPECT_FALSE(c.IsGlobalLayer(0));
}

}  // namespace
}  // namespace duet::fusion
