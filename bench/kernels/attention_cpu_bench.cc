// Fused CPU attention vs the plain reference: time per call and scratch memory per call.
// B=1, H=4, D=64, causal (prefix 0) with and without a 128-token window; numbers in
// docs/kernels.md.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/attention.h"
#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/thread_pool.h"

namespace duet::kernels {
namespace {

constexpr int64_t kBatch = 1;
constexpr int64_t kHeads = 4;
constexpr int64_t kHeadDim = 64;
constexpr int64_t kWindow = 128;
// The reference is O(T^2) single-threaded and also scores masked keys: beyond this it is skipped.
constexpr int64_t kMaxReferenceLen = 1024;

struct Inputs {
  std::vector<float> q, k, v, out;
  AttentionArgs args;

  Inputs(int64_t t, int64_t window) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    const int64_t size = kBatch * kHeads * t * kHeadDim;
    for (auto* x : {&q, &k, &v}) {
      x->resize(size);
      for (float& e : *x) e = dist(rng);
    }
    out.resize(size);
    args.q = q.data();
    args.k = k.data();
    args.v = v.data();
    args.out = out.data();
    args.batch = kBatch;
    args.heads = kHeads;
    args.q_len = args.kv_len = t;
    args.head_dim = kHeadDim;
    args.mask = {/*prefix_len=*/0, window};
    args.scale = 1.f / std::sqrt(static_cast<float>(kHeadDim));
  }
};

// Multiply-adds a perfect kernel would do (unmasked pairs only), for the GFLOP/s counter.
double VisiblePairs(int64_t t, int64_t window) {
  double pairs = 0;
  for (int64_t i = 0; i < t; ++i) pairs += window > 0 ? std::min<int64_t>(i + 1, window) : i + 1;
  return pairs;
}

void SetCounters(benchmark::State& state, int64_t t, int64_t window, int64_t scratch_bytes) {
  const double flops = 4.0 * kBatch * kHeads * kHeadDim * VisiblePairs(t, window);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["scratch_KiB"] = static_cast<double>(scratch_bytes) / 1024;
  state.counters["threads"] = CpuKernelThreads();
}

void BM_Fused(benchmark::State& state) {
  const int64_t t = state.range(0), window = state.range(1);
  Inputs in(t, window);
  for (auto _ : state) {
    if (!AttentionCpu(in.args).ok()) state.SkipWithError("AttentionCpu failed");
    benchmark::DoNotOptimize(in.out.data());
  }
  SetCounters(state, t, window, AttentionCpuScratchBytes(in.args));
}

void BM_Reference(benchmark::State& state) {
  const int64_t t = state.range(0), window = state.range(1);
  Inputs in(t, window);
  for (auto _ : state) {
    if (!AttentionReference(in.args).ok()) state.SkipWithError("reference failed");
    benchmark::DoNotOptimize(in.out.data());
  }
  SetCounters(state, t, window, t * static_cast<int64_t>(sizeof(float)));  // one score row
}

void Shapes(benchmark::internal::Benchmark* b, int64_t max_len) {
  for (int64_t window : {int64_t{0}, kWindow}) {
    for (int64_t t : {64, 256, 1024, 4096}) {
      if (t <= max_len) b->Args({t, window});
    }
  }
  b->ArgNames({"T", "window"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK(BM_Fused)->Apply([](auto* b) { Shapes(b, 4096); });
BENCHMARK(BM_Reference)->Apply([](auto* b) { Shapes(b, kMaxReferenceLen); });

}  // namespace
}  // namespace duet::kernels

BENCHMARK_MAIN();
