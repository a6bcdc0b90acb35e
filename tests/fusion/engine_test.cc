// fusion::Engine: sequences of different requests, with different sampling settings and guidance,
// joining at different steps and decoding in one forward per step, give exactly the tokens each
// gives alone (GenerateImageCodes / GenerateText with one row). Steps are counted, never timed.
#include "fusion/engine.h"

#include <map>

#include "common/mixed_precision.h"
#include "fusion/generation.h"
#include "gtest/gtest.h"

namespace duet::fusion {
namespace {

// The shipped model's widths (d 256, MLP 1024, text 128, 1000 codes, 4096 pieces): oneDNN's
// bf16 matmuls are row-invariant at these for every row count tested, but not at every width
// (at d_model 64 some row counts change a row's result), and these tests would report that as
// the engine's fault. A small grid and prefix keep them fast.
TransformerConfig SmallConfig() {
  TransformerConfig c;
  c.d_model = 256;
  c.n_heads = 4;
  c.n_layers = 3;
  c.d_ff = 1024;
  c.window = 3;  // windowed layers: positions matter row by row
  c.global_every = 3;
  c.text_dim = 128;
  c.text_prefix_len = 6;
  c.text_vocab = 4096;
  c.max_caption_len = 7;
  c.image_grid = 3;
  c.image_codebook = 1000;
  return c;
}

MultimodalTransformer Model(torch::ScalarType dtype) {
  torch::manual_seed(3);
  MultimodalTransformer model(SmallConfig());
  model->eval();
  ConvertForInference(*model, dtype);
  return model;
}

struct Request {
  torch::Tensor prompt;  // [L, text_dim] (text->image) or codes [N] (image->text)
  SamplingParams sampling;
  uint64_t seed;
  int64_t join_at;  // the engine step before which it is added
};

SamplingParams Params(float temperature, int top_k, float top_p, float guidance) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.guidance_scale = guidance;
  return p;
}

// Runs `requests` (owner = position) through one engine, adding each before its join step, and
// returns every sequence's tokens by owner. Checks one forward's worth of rows per step.
std::map<int64_t, std::vector<int64_t>> RunTogether(MultimodalTransformer model, Task task,
                                                    const std::vector<Request>& requests,
                                                    int64_t max_tokens, int64_t chunk_tokens) {
  Engine engine(model, task, chunk_tokens);
  std::map<int64_t, std::vector<int64_t>> out;
  for (int64_t step = 0; step < 1000; ++step) {
    for (size_t i = 0; i < requests.size(); ++i) {
      if (requests[i].join_at != step) continue;
      Sequence s;
      s.prefix = requests[i].prompt;
      s.sampling = requests[i].sampling;
      s.seed = requests[i].seed;
      s.max_tokens = max_tokens;
      s.owner = static_cast<int64_t>(i);
      engine.Add({s});
    }
    if (engine.empty() && step > requests.back().join_at) break;
    for (Finished& f : engine.Step()) out[f.owner] = f.tokens;
  }
  return out;
}

TEST(EngineTest, MixedRequestsJoiningLateEqualEachAlone) {
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    MultimodalTransformer model = Model(dtype);
    const TransformerConfig c = model->config();
    torch::manual_seed(8);
    std::vector<Request> requests;
    const SamplingParams settings[] = {Params(1.f, 0, 1.f, 1.f), Params(0.7f, 5, 1.f, 3.f),
                                       Params(0.f, 0, 1.f, 1.f), Params(1.3f, 0, 0.8f, 1.5f),
                                       Params(0.3f, 10, 0.9f, 1.f)};
    for (int i = 0; i < 10; ++i) {
      const int64_t L = 1 + i % c.text_prefix_len;
      requests.push_back({torch::randn({L, c.text_dim}), settings[i % 5],
                          static_cast<uint64_t>(100 + i), /*join_at=*/(i * 3) % 7});
    }
    std::stable_sort(requests.begin(), requests.end(),
                     [](const Request& a, const Request& b) { return a.join_at < b.join_at; });
    // A chunk budget of two guided prefills: some joins wait a step for their prefill.
    const auto together = RunTogether(model, Task::kTextToImage, requests, c.image_tokens(),
                                      4 * (c.text_prefix_len + 1));
    ASSERT_EQ(together.size(), requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      const Request& r = requests[i];
      torch::Tensor text = torch::zeros({1, c.text_prefix_len, c.text_dim});
      text[0].narrow(0, 0, r.prompt.size(0)).copy_(r.prompt);
      auto alone = GenerateImageCodes(model, text, torch::tensor({r.prompt.size(0)}), {r.seed},
                                      r.sampling);
      ASSERT_TRUE(alone.ok()) << alone.status();
      const torch::Tensor flat = alone->view({-1});
      const std::vector<int64_t> expected(flat.data_ptr<int64_t>(),
                                          flat.data_ptr<int64_t>() + flat.numel());
      EXPECT_EQ(together.at(static_cast<int64_t>(i)), expected)
          << "request " << i << " dtype " << dtype;
    }
  }
}

TEST(EngineTest, CaptionsOfDifferentLengthsEqualEachAlone) {
  MultimodalTransformer model = Model(torch::kBFloat16);
  const TransformerConfig c = model->config();
  torch::manual_seed(9);
  std::vector<Request> requests;
  for (int i = 0; i < 6; ++i) {
    requests.push_back({torch::randint(0, c.image_codebook, {c.image_tokens()}, torch::kInt64),
                        Params(i % 2 == 0 ? 1.5f : 0.f, 0, 1.f, 1.f),
                        static_cast<uint64_t>(7 * i), /*join_at=*/i});
  }
  const auto together = RunTogether(model, Task::kImageToText, requests, c.max_caption_len - 1,
                                    1 << 20);
  ASSERT_EQ(together.size(), requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    auto alone = GenerateText(model, requests[i].prompt.view({1, -1}), {requests[i].seed},
                              requests[i].sampling, c.max_caption_len - 1);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ(together.at(static_cast<int64_t>(i)), (*alone)[0]) << "caption " << i;
  }
}

TEST(EngineTest, StepsCountRowsAndDroppedSequencesLeaveAtOnce) {
  MultimodalTransformer model = Model(torch::kFloat32);
  const TransformerConfig c = model->config();
  const int64_t prefill = c.text_prefix_len + 1;
  Engine engine(model, Task::kTextToImage, /*chunk_tokens=*/2 * prefill);
  std::vector<Sequence> sequences(3);
  for (int i = 0; i < 3; ++i) {
    sequences[i].prefix = torch::randn({2, c.text_dim});
    sequences[i].max_tokens = c.image_tokens();
    sequences[i].owner = i;  // owner 2 is guided: two rows
    sequences[i].sampling.guidance_scale = i == 2 ? 2.f : 1.f;
  }
  engine.Add(sequences);
  EXPECT_EQ(engine.step_rows(), 2);  // the first chunk: two unguided prefills fill the budget
  engine.Step();
  EXPECT_EQ(engine.rows(), 2);
  EXPECT_EQ(engine.Produced(0), 1);
  EXPECT_EQ(engine.Produced(2), 0);  // still waiting
  EXPECT_EQ(engine.step_rows(), 4);  // two decoding rows + the guided prefill
  engine.Step();
  EXPECT_EQ(engine.rows(), 4);
  EXPECT_EQ(engine.Produced(0), 2);
  EXPECT_EQ(engine.Produced(2), 1);
  EXPECT_EQ(engine.Drop([](int64_t owner) { return owner == 0; }), 1);
  EXPECT_EQ(engine.rows(), 3);
  for (int64_t step = 3; step <= c.image_tokens(); ++step) {
    const std::vector<Finished> finished = engine.Step();
    if (step < c.image_tokens()) {
      EXPECT_TRUE(finished.empty()) << step;
    } else {
      ASSERT_EQ(finished.size(), 1u);
      EXPECT_EQ(finished[0].owner, 1);
      EXPECT_EQ(static_cast<int64_t>(finished[0].tokens.size()), c.image_tokens());
    }
  }
  EXPECT_EQ(engine.rows(), 2);  // the guided sequence, one step behind
  EXPECT_EQ(engine.Step().size(), 1u);
  EXPECT_TRUE(engine.empty());
  EXPECT_EQ(engine.rows(), 0);
}

}  // namespace
}  // namespace duet::fusion
