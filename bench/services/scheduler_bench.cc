// The transformer scheduler with the shipped model, in process: how long a 256-draft request's
// prefill and a 256-row ScoreText hold up a one-draft request beside them, chunked (the default
// --chunk_tokens 2048) against one unchunked pass (1 << 20). Not in ctest; numbers in docs/.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "common/cpu_allocator.h"
#include "model/duet_model.h"
#include "model/torch_threads.h"
#include "services/transformer/scheduler.h"

namespace duet::services {
namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

model::DuetModel& Model() {
  static std::unique_ptr<model::DuetModel> model = [] {
    model::UseTorchThreads();
    UseCachingCpuAllocator();
    auto loaded = model::DuetModel::Load(DUET_SOURCE_DIR "/assets/models/duet-emoji");
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::exit(1);
    }
    return *std::move(loaded);
  }();
  return *model;
}

torch::Tensor Prefix(const std::string& prompt) {
  model::EncodedTexts e = *Model().text().Encode({prompt});
  return e.embeddings[0].narrow(0, 0, e.lengths[0].item<int64_t>()).contiguous();
}

// A one-draft request that records when it finished and its longest wait between two tokens.
struct Small {
  std::promise<void> finished;
  Clock::time_point last;
  double longest_gap_s = 0;
  ImageRequest Make() {
    ImageRequest r;
    r.prefix = Prefix("jack-o-lantern");
    r.sampling.seed = 1;
    last = Clock::now();
    r.progress = [this](int64_t, int64_t) {
      const Clock::time_point now = Clock::now();
      longest_gap_s = std::max(longest_gap_s, Seconds(now - last));
      last = now;
    };
    r.done = [this](StatusOr<torch::Tensor>) { finished.set_value(); };
    return r;
  }
};

SchedulerOptions Options(int64_t chunk_tokens) {
  SchedulerOptions options;
  options.chunk.tokens = chunk_tokens;
  return options;
}

// A 256-draft guided request, cancelled 0.3 s in; a one-draft request submitted at the cancel.
void BM_SmallBesideCancelledLarge(benchmark::State& state) {
  Scheduler scheduler(Model().transformer(), Options(state.range(0)));
  double small_s = 0, cancel_s = 0, gap_s = 0;
  for (auto _ : state) {
    std::atomic<bool> cancel{false};
    std::promise<Clock::time_point> dropped;
    ImageRequest large;
    large.prefix = Prefix("a robot vacuum that looks like a supercar");
    large.count = 256;
    large.sampling.guidance_scale = 1.3f;
    large.cancelled = [&] { return cancel.load(); };
    large.done = [&](StatusOr<torch::Tensor>) { dropped.set_value(Clock::now()); };
    scheduler.Submit(std::move(large)).IgnoreError();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Small small;
    const Clock::time_point start = Clock::now();
    cancel = true;
    scheduler.Submit(small.Make()).IgnoreError();
    cancel_s = Seconds(dropped.get_future().get() - start);
    small.finished.get_future().wait();
    small_s = Seconds(Clock::now() - start);
    gap_s = small.longest_gap_s;
    state.SetIterationTime(small_s);
  }
  state.counters["cancel_to_free_s"] = cancel_s;
  state.counters["small_latency_s"] = small_s;
  state.counters["small_longest_gap_s"] = gap_s;
}

// A 256-row ScoreText (what --rerank sends) submitted with a one-draft request.
void BM_SmallBesideScoring(benchmark::State& state) {
  Scheduler scheduler(Model().transformer(), Options(state.range(0)));
  const auto& c = Model().config().transformer;
  double small_s = 0, gap_s = 0, score_s = 0;
  for (auto _ : state) {
    ScoreRequest score;
    score.codes = torch::randint(c.image_codebook, {256, c.image_tokens()}, torch::kInt64);
    score.texts.assign(256, {5, 6, 7, 8, 9});
    std::promise<Clock::time_point> scored;
    score.done = [&](StatusOr<std::vector<double>>) { scored.set_value(Clock::now()); };
    Small small;
    const Clock::time_point start = Clock::now();
    scheduler.Submit(small.Make()).IgnoreError();
    scheduler.Submit(std::move(score)).IgnoreError();
    small.finished.get_future().wait();
    small_s = Seconds(Clock::now() - start);
    score_s = Seconds(scored.get_future().get() - start);
    gap_s = small.longest_gap_s;
    state.SetIterationTime(small_s);
  }
  state.counters["small_latency_s"] = small_s;
  state.counters["small_longest_gap_s"] = gap_s;
  state.counters["score_s"] = score_s;
}

void BM_SmallAlone(benchmark::State& state) {
  Scheduler scheduler(Model().transformer(), {});
  for (auto _ : state) {
    Small small;
    const Clock::time_point start = Clock::now();
    scheduler.Submit(small.Make()).IgnoreError();
    small.finished.get_future().wait();
    state.SetIterationTime(Seconds(Clock::now() - start));
    state.counters["small_longest_gap_s"] = small.longest_gap_s;
  }
}

constexpr int64_t kChunked = 2048, kUnchunked = 1 << 20;
BENCHMARK(BM_SmallAlone)->UseManualTime()->Iterations(2)->Unit(benchmark::kSecond);
BENCHMARK(BM_SmallBesideCancelledLarge)->Arg(kChunked)->Arg(kUnchunked)->UseManualTime()
    ->Iterations(2)->Unit(benchmark::kSecond);
BENCHMARK(BM_SmallBesideScoring)->Arg(kChunked)->Arg(kUnchunked)->UseManualTime()
    ->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
}  // namespace duet::services

BENCHMARK_MAIN();
