// float32 against bfloat16 on the shipped model (assets/models/duet-emoji): the decode step at
// batch 1 to 256 with guidance on, the image decoder, 256 drafts end to end with PNGs, and the
// bf16 matmul ceiling of this machine measured in the same run, so the decode step's share of it
// is read off one report. Run: ./build/bench/dtype_bench (docs/benchmarks.md has the numbers).
#include <benchmark/benchmark.h>

#include <map>

#include "common/compute_dtype.h"
#include "common/cpu_allocator.h"
#include "fusion/generation.h"
#include "model/duet_model.h"
#include "model/torch_threads.h"

namespace duet::model {
namespace {

const char* kModelDir = DUET_DEFAULT_MODEL_DIR;
constexpr float kGuidance = 3.0f;  // the CLI's default: every step runs 2B rows

torch::ScalarType DtypeOf(const benchmark::State& state) {
  return state.range(0) == 16 ? torch::kBFloat16 : torch::kFloat32;
}

DuetModel& Model(torch::ScalarType dtype) {
  static std::map<torch::ScalarType, std::unique_ptr<DuetModel>> models;
  auto& slot = models[dtype];
  if (!slot) {
    auto loaded = DuetModel::Load(kModelDir, dtype);
    if (!loaded.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", kModelDir, loaded.status().ToString().c_str());
      std::exit(1);
    }
    slot = std::move(*loaded);
  }
  return *slot;
}

// Multiply-adds of one decode step per row: the six linear layers of every block, attention over
// the average context, and the image head (embeddings and norms are negligible).
double StepMacsPerRow(const fusion::TransformerConfig& c) {
  const double C = c.d_model, F = c.d_ff, N = c.image_tokens();
  const double context = c.text_prefix_len + N / 2;
  const double per_layer = C * 3 * C + C * C + 2 * C * F + 2 * context * C;
  return c.n_layers * per_layer + C * c.image_codebook;
}

// One whole draft grid (64 steps) for B drafts of one prompt; reported per step.
void BM_DecodeStep(benchmark::State& state) {
  const torch::ScalarType dtype = DtypeOf(state);
  DuetModel& model = Model(dtype);
  const int64_t B = state.range(1);
  auto encoded = model.text().Encode({"jack-o-lantern"});
  const torch::Tensor text = encoded->embeddings.expand({B, -1, -1});
  const torch::Tensor lengths = encoded->lengths.expand({B});
  std::vector<uint64_t> seeds(B);
  for (int64_t i = 0; i < B; ++i) seeds[i] = i;
  fusion::SamplingParams sampling;
  sampling.guidance_scale = kGuidance;
  fusion::MultimodalTransformer transformer = model.transformer();
  for (auto _ : state) {
    auto codes = fusion::GenerateImageCodes(transformer, text, lengths, seeds, sampling);
    benchmark::DoNotOptimize(codes);
  }
  const auto& c = model.config().transformer;
  const double steps = static_cast<double>(c.image_tokens());
  state.counters["per_step"] = benchmark::Counter(
      steps, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["tokens/s"] =
      benchmark::Counter(B * steps, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * StepMacsPerRow(c) * 2 * B * steps / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(DtypeName(dtype));
}

// Codes to pixels for 64 images (one decoder batch).
void BM_DecodeImages(benchmark::State& state) {
  const torch::ScalarType dtype = DtypeOf(state);
  DuetModel& model = Model(dtype);
  const int64_t G = model.config().image_tokenizer.grid(), n = state.range(1);
  torch::manual_seed(0);
  const torch::Tensor codes =
      torch::randint(0, model.config().image_tokenizer.codebook_size(), {n, G, G}, torch::kInt64);
  for (auto _ : state) {
    auto images = model.image().DecodeCodes(codes);
    benchmark::DoNotOptimize(images);
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(n),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(DtypeName(dtype));
}

// What `duet generate -n 256` does in process: encode, decode codes, pixels, PNGs.
void BM_Drafts(benchmark::State& state) {
  const torch::ScalarType dtype = DtypeOf(state);
  DuetModel& model = Model(dtype);
  GenerateOptions options;
  options.count = static_cast<int>(state.range(1));
  options.sampling.guidance_scale = kGuidance;
  for (auto _ : state) {
    auto drafts = model.GenerateImages("jack-o-lantern", options);
    if (!drafts.ok()) state.SkipWithError(drafts.status().ToString().c_str());
    benchmark::DoNotOptimize(drafts);
  }
  state.counters["drafts/s"] = benchmark::Counter(static_cast<double>(options.count),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(DtypeName(dtype));
}

// The machine's matmul ceiling: a large square product in each dtype.
void BM_MatmulCeiling(benchmark::State& state) {
  const torch::ScalarType dtype = DtypeOf(state);
  const int64_t n = state.range(1);
  const torch::Tensor a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  for (auto _ : state) benchmark::DoNotOptimize(torch::matmul(a, b));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(DtypeName(dtype));
}

// Args: {dtype bits (32 or 16), size}.
void DtypeArgs(benchmark::internal::Benchmark* b, std::initializer_list<int64_t> sizes) {
  for (int64_t bits : {32, 16}) {
    for (int64_t size : sizes) b->Args({bits, size});
  }
  b->ArgNames({"bits", "n"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_MatmulCeiling)->Apply([](auto* b) { DtypeArgs(b, {2048}); });
BENCHMARK(BM_DecodeStep)->Apply([](auto* b) { DtypeArgs(b, {1, 16, 64, 256}); });
BENCHMARK(BM_DecodeImages)->Apply([](auto* b) { DtypeArgs(b, {64}); });
BENCHMARK(BM_Drafts)->Apply([](auto* b) { DtypeArgs(b, {256}); });

}  // namespace
}  // namespace duet::model

int main(int argc, char** argv) {
  duet::model::UseTorchThreads();  // every core, BLAS single-threaded, as the duet CLI runs
  duet::UseCachingCpuAllocator();  // as the duet CLI and the servers do
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
