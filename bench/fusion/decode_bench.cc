// Decoding speed of the multimodal transformer: one full 64-code image per iteration, with the
// KV cache (one token per step) against full recomputation of the sequence at every step.
// Config: assets/configs/duet-small.json's transformer (about 6M parameters, 8 x 8 code grid).
#include <benchmark/benchmark.h>

#include "fusion/sampler.h"
#include "fusion/transformer.h"

namespace duet::fusion {
namespace {

TransformerConfig SmallConfig() {
  TransformerConfig c;  // Mirrors assets/configs/duet-small.json after ModelConfig::Derive().
  c.d_model = 256;
  c.n_layers = 6;
  c.n_heads = 4;
  c.d_ff = 1024;
  c.window = 32;
  c.global_every = 3;
  c.text_dim = 128;
  c.text_prefix_len = 32;
  c.text_vocab = 1024;
  c.max_caption_len = 24;
  c.image_grid = 8;
  c.image_codebook = 1000;
  return c;
}

MultimodalTransformer& Model() {
  static MultimodalTransformer model = [] {
    torch::manual_seed(0);
    MultimodalTransformer m(SmallConfig());
    m->eval();
    return m;
  }();
  return model;
}

struct Batch {
  torch::Tensor prefix;
  PrefixLayout layout;
};

Batch MakeBatch(int64_t B) {
  const TransformerConfig c = SmallConfig();
  auto [prefix, layout] = Model()->EmbedTextPrefix(torch::randn({B, c.text_prefix_len, c.text_dim}),
                                                   torch::full({B}, 12, torch::kInt64),
                                                   torch::zeros({B}, torch::kBool));
  return {prefix, layout};
}

void SetCounters(benchmark::State& state, int64_t B, int64_t steps) {
  // Seconds per decoding step (shown with a unit, e.g. 5.9ms) and generated tokens per second.
  state.counters["per_step"] = benchmark::Counter(
      static_cast<double>(steps),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(B * steps),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  int64_t params = 0;
  for (const auto& p : Model()->parameters()) params += p.numel();
  state.counters["params_M"] = static_cast<double>(params) / 1e6;
}

void BM_DecodeWithCache(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  const int64_t B = state.range(0), N = SmallConfig().image_tokens();
  const Batch batch = MakeBatch(B);
  const int64_t K = SmallConfig().image_codebook;
  for (auto _ : state) {
    KVCache cache = Model()->NewCache(Task::kTextToImage, B);
    torch::Tensor tokens = torch::full({B, 1}, K, torch::kInt64);
    torch::Tensor x = torch::cat({batch.prefix, Model()->EmbedImageTargets(tokens, 0)}, 1);
    for (int64_t t = 0; t < N; ++t) {
      const int64_t start = t == 0 ? 0 : batch.layout.prefix_len + t;
      const torch::Tensor h = Model()->forward(x, Task::kTextToImage, start, batch.layout, &cache);
      tokens = Model()->ImageLogits(h.select(1, -1)).argmax(-1, true);
      if (t + 1 < N) x = Model()->EmbedImageTargets(tokens, t + 1);
    }
    benchmark::DoNotOptimize(tokens);
  }
  SetCounters(state, B, N);
}

void BM_DecodeRecompute(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  const int64_t B = state.range(0), N = SmallConfig().image_tokens();
  const Batch batch = MakeBatch(B);
  const int64_t K = SmallConfig().image_codebook;
  for (auto _ : state) {
    torch::Tensor inputs = torch::full({B, 1}, K, torch::kInt64);
    for (int64_t t = 0; t < N; ++t) {
      const torch::Tensor x = torch::cat({batch.prefix, Model()->EmbedImageTargets(inputs, 0)}, 1);
      const torch::Tensor h = Model()->forward(x, Task::kTextToImage, 0, batch.layout);
      const torch::Tensor next = Model()->ImageLogits(h.select(1, -1)).argmax(-1, true);
      inputs = torch::cat({inputs, next}, 1);
    }
    benchmark::DoNotOptimize(inputs);
  }
  SetCounters(state, B, N);
}

BENCHMARK(BM_DecodeWithCache)->Arg(1)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeRecompute)->Arg(1)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace duet::fusion

BENCHMARK_MAIN();
