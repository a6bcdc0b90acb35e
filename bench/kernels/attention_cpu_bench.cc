// Fused CPU attention (float32 and bfloat16) vs the plain reference: time and scratch per call.
// Prefill: B=1, H=4, D=64, causal (prefix 0) with and without a 128-token window. Decode: the image
// drafting step, B=512, H=4, D=64, a few query rows against a 96-key cache. Numbers in
// docs/kernels.md.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/attention.h"
#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/element_types.h"
#include "kernels/cpu/thread_pool.h"

namespace duet::kernels {
namespace {

constexpr int64_t kBatch = 1;
constexpr int64_t kHeads = 4;
constexpr int64_t kHeadDim = 64;
constexpr int64_t kWindow = 128;
// The reference is O(T^2) single-threaded and also scores masked keys: beyond this it is skipped.
constexpr int64_t kMaxReferenceLen = 1024;

// The same data as float32 (args) and rounded to bfloat16 (bf16_args, raw uint16 buffers).
struct Inputs {
  std::vector<float> q, k, v, out;
  std::vector<uint16_t> q16, k16, v16, out16;
  AttentionArgs args, bf16_args;

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
    for (auto [from, to] : {std::pair{&q, &q16}, {&k, &k16}, {&v, &v16}}) {
      for (float x : *from) to->push_back(cpu_tile::FromFloat<cpu_tile::Bf16>(x).bits);
    }
    out16.resize(size);
    bf16_args = args;
    bf16_args.dtype = ElementType::kBF16;
    bf16_args.q = q16.data();
    bf16_args.k = k16.data();
    bf16_args.v = v16.data();
    bf16_args.out = out16.data();
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

void BM_FusedBf16(benchmark::State& state) {
  const int64_t t = state.range(0), window = state.range(1);
  Inputs in(t, window);
  for (auto _ : state) {
    if (!AttentionCpu(in.bf16_args).ok()) state.SkipWithError("AttentionCpu (bf16) failed");
    benchmark::DoNotOptimize(in.out16.data());
  }
  SetCounters(state, t, window, AttentionCpuScratchBytes(in.bf16_args));
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

// Decode as the image drafter runs it: prefix-LM over a 32-token caption (real lengths vary by
// row), q_len new rows at the end of kv_len keys, in a cache of kDecodeCapacity slots.
constexpr int64_t kDecodeBatch = 512;
constexpr int64_t kDecodePrefix = 32;
constexpr int64_t kDecodeWindow = 32;  // most layers; the rest are global (window 0)
constexpr int64_t kDecodeKvLen = 96;
constexpr int64_t kDecodeCapacity = 100;

struct DecodeInputs {
  std::vector<float> q, k, v, out;
  std::vector<uint16_t> q16, k16, v16, out16;
  std::vector<int32_t> prefix_valid;
  AttentionArgs args, bf16_args;

  DecodeInputs(int64_t q_len, int64_t window) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    const int64_t slices = kDecodeBatch * kHeads;
    q.resize(slices * q_len * kHeadDim);
    k.resize(slices * kDecodeCapacity * kHeadDim);
    v.resize(k.size());
    for (auto* x : {&q, &k, &v}) {
      for (float& e : *x) e = dist(rng);
    }
    out.resize(q.size());
    out16.resize(q.size());
    for (int64_t b = 0; b < kDecodeBatch; ++b) prefix_valid.push_back(20 + b % 13);
    args.q = q.data();
    args.k = k.data();
    args.v = v.data();
    args.out = out.data();
    args.batch = kDecodeBatch;
    args.heads = kHeads;
    args.q_len = q_len;
    args.kv_len = kDecodeKvLen;
    args.kv_capacity = kDecodeCapacity;
    args.head_dim = kHeadDim;
    args.q_start = kDecodeKvLen - q_len;
    args.prefix_valid = prefix_valid.data();
    args.mask = {kDecodePrefix, window};
    args.scale = 1.f / std::sqrt(static_cast<float>(kHeadDim));
    for (auto [from, to] : {std::pair{&q, &q16}, {&k, &k16}, {&v, &v16}}) {
      for (float x : *from) to->push_back(cpu_tile::FromFloat<cpu_tile::Bf16>(x).bits);
    }
    bf16_args = args;
    bf16_args.dtype = ElementType::kBF16;
    bf16_args.q = q16.data();
    bf16_args.k = k16.data();
    bf16_args.v = v16.data();
    bf16_args.out = out16.data();
  }

  // Unmasked (query, key) pairs of the whole call.
  double VisiblePairs() const {
    double pairs = 0;
    for (int64_t b = 0; b < kDecodeBatch; ++b) {
      for (int64_t i = 0; i < args.q_len; ++i) {
        for (int64_t j = 0; j < args.kv_len; ++j) {
          pairs += MaskAllows(args.mask, prefix_valid[b], args.q_start + i, j);
        }
      }
    }
    return pairs * kHeads;
  }
};

// range(0) = q_len, range(1) = window, range(2) = 1 for bf16.
void BM_Decode(benchmark::State& state) {
  const DecodeInputs in(state.range(0), state.range(1));
  const AttentionArgs& args = state.range(2) ? in.bf16_args : in.args;
  for (auto _ : state) {
    if (!AttentionDecode(args).ok()) state.SkipWithError("AttentionDecode failed");
    benchmark::DoNotOptimize(args.out);
  }
  const double flops = 4.0 * kHeadDim * in.VisiblePairs();
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["scratch_KiB"] = static_cast<double>(AttentionCpuScratchBytes(args)) / 1024;
  state.counters["threads"] = CpuKernelThreads();
}

BENCHMARK(BM_Decode)
    ->ArgsProduct({{1, 2, 4, 8}, {0, kDecodeWindow}, {0, 1}})
    ->ArgNames({"q_len", "window", "bf16"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK(BM_Fused)->Apply([](auto* b) { Shapes(b, 4096); });
BENCHMARK(BM_FusedBf16)->Apply([](auto* b) { Shapes(b, 4096); });
BENCHMARK(BM_Reference)->Apply([](auto* b) { Shapes(b, kMaxReferenceLen); });

}  // namespace
}  // namespace duet::kernels

BENCHMARK_MAIN();
