// The fused CPU attention: splits the call into query tiles and runs them on the thread pool.
// Calls of at most kCpuDecodeMaxRows query rows take the decode path (attention_cpu_decode.h: each
// row reads K and V in place), longer ones the tile path (attention_cpu_tile.h). Both are compiled
// here for AVX2+FMA and for the baseline ISA, once per element type (float32, bfloat16) and
// fast-path head dim.
#include "kernels/cpu/attention_cpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/attention_cpu_decode.h"
#include "kernels/cpu/attention_cpu_tile.h"
#include "kernels/cpu/thread_pool.h"

namespace duet::kernels {
namespace {

using cpu_decode::AttendDecodeRows;
using cpu_tile::AttendQueryTile;
using cpu_tile::Bf16;
using cpu_tile::kBlockQ;
using cpu_tile::QueryTile;
template <typename T>
using TileFn = void (*)(const QueryTile<T>&, float* scratch);

// Below this many multiply-adds (about 0.1 ms of work) a call stays on the calling thread: waking
// the pool would cost more than it saves.
constexpr double kMinParallelMacs = 1 << 20;
// Consecutive tiles are grouped into one task of at least this many multiply-adds (about 10 us):
// a decode tile (the few rows of one (b, h)) alone is too small to be worth claiming.
constexpr double kMinTaskMacs = 1 << 16;
constexpr float kLog2e = 1.44269504088896341f;  // softmax runs in base 2: e^x = 2^(x log2 e)

// `flatten` inlines the whole tile body so every loop is compiled for the function's ISA.
template <int kD, typename T>
__attribute__((flatten)) void AttendBaseline(const QueryTile<T>& t, float* scratch) {
  AttendQueryTile<kD>(t, scratch);
}

template <int kD, typename T>
__attribute__((flatten)) void DecodeBaseline(const QueryTile<T>& t, float* scratch) {
  AttendDecodeRows<kD>(t, scratch);
}

#if defined(__x86_64__)
template <int kD, typename T>
__attribute__((target("avx2,fma"), flatten)) void AttendAvx2(const QueryTile<T>& t,
                                                             float* scratch) {
  AttendQueryTile<kD>(t, scratch);
}

template <int kD, typename T>
__attribute__((target("avx2,fma"), flatten)) void DecodeAvx2(const QueryTile<T>& t,
                                                             float* scratch) {
  AttendDecodeRows<kD>(t, scratch);
}

bool HasAvx2Fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

template <int kD, typename T>
TileFn<T> SelectForDim(bool decode) {
#if defined(__x86_64__)
  if (HasAvx2Fma()) return decode ? &DecodeAvx2<kD, T> : &AttendAvx2<kD, T>;
#endif
  return decode ? &DecodeBaseline<kD, T> : &AttendBaseline<kD, T>;
}

// Fast paths for the model's head dims; any other D runs the generic (runtime D) version.
template <typename T>
TileFn<T> SelectTileFn(int64_t head_dim, bool decode) {
  switch (head_dim) {
    case 64:
      return SelectForDim<64, T>(decode);
    case 128:
      return SelectForDim<128, T>(decode);
    default:
      return SelectForDim<0, T>(decode);
  }
}

bool UsesDecodePath(const AttentionArgs& args) { return args.q_len <= kCpuDecodeMaxRows; }

template <typename T>
int64_t ScratchFloats(const AttentionArgs& args) {
  return UsesDecodePath(args) ? cpu_decode::ScratchFloats(args.q_len, args.head_dim)
                              : cpu_tile::ScratchFloats<T>(args.head_dim);
}

float* ThreadScratch(int64_t floats) {
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < floats) scratch.resize(floats);
  return scratch.data();
}

int64_t NumQueryTiles(const AttentionArgs& args) { return (args.q_len + kBlockQ - 1) / kBlockQ; }
int64_t NumTiles(const AttentionArgs& args) {
  return args.batch * args.heads * NumQueryTiles(args);
}

// Upper bound on the multiply-adds of a call, to decide whether threads pay off.
double EstimatedMacs(const AttentionArgs& args) {
  const int64_t windowed =
      2 * args.mask.window + (args.mask.global_prefix ? args.mask.prefix_len : 0);
  const int64_t keys_per_query =
      args.mask.window > 0 ? std::min(args.kv_len, windowed) : args.kv_len;
  return 2.0 * args.batch * args.heads * args.q_len * keys_per_query * args.head_dim;
}

// Tiles per task: enough for kMinTaskMacs, so tiny decode tiles are claimed in groups.
int64_t TilesPerTask(const AttentionArgs& args) {
  const int64_t tiles = NumTiles(args);
  if (tiles <= 1) return 1;
  const double macs_per_tile = EstimatedMacs(args) / tiles;
  const double wanted = std::ceil(kMinTaskMacs / macs_per_tile);  // inf when a tile is empty
  return std::max<int64_t>(1, static_cast<int64_t>(std::min<double>(wanted, tiles)));
}

int64_t NumTasks(const AttentionArgs& args) {
  const int64_t per_task = TilesPerTask(args);
  return (NumTiles(args) + per_task - 1) / per_task;
}

// Tile i -> (b, h, query tile). Ranks run from the last query tile to the first: with causal
// masks later tiles see more keys, so the longest tasks are claimed first.
template <typename T>
QueryTile<T> MakeTile(const AttentionArgs& args, int64_t tile) {
  const int64_t slices = args.batch * args.heads;
  const int64_t bh = tile % slices;
  const int64_t tile_index = NumQueryTiles(args) - 1 - tile / slices;
  const int64_t d_len = args.head_dim;
  const int64_t capacity = args.kv_capacity ? args.kv_capacity : args.kv_len;
  const int64_t row0 = tile_index * kBlockQ;
  const int64_t b = bh / args.heads;
  QueryTile<T> t;
  t.q = static_cast<const T*>(args.q) + (bh * args.q_len + row0) * d_len;
  t.k = static_cast<const T*>(args.k) + bh * capacity * d_len;
  t.v = static_cast<const T*>(args.v) + bh * capacity * d_len;
  t.out = static_cast<T*>(args.out) + (bh * args.q_len + row0) * d_len;
  t.rows = std::min(kBlockQ, args.q_len - row0);
  t.kv_len = args.kv_lens ? args.kv_lens[b] : args.kv_len;
  t.q_pos = (args.kv_lens ? t.kv_len - args.q_len : args.q_start) + row0;
  t.head_dim = d_len;
  t.prefix_valid = args.prefix_valid ? args.prefix_valid[b] : args.mask.prefix_len;
  t.mask = args.mask;
  t.scale_log2 = args.scale * kLog2e;
  return t;
}

// Every tile writes only its own output rows and computes them from that (b, h) alone, in a
// fixed order, so results do not depend on the thread count, the grouping of tiles into tasks,
// the schedule or the batch size.
template <typename T>
void RunTiles(const AttentionArgs& args) {
  const TileFn<T> attend = SelectTileFn<T>(args.head_dim, UsesDecodePath(args));
  const int64_t scratch_floats = ScratchFloats<T>(args);
  const int64_t tiles = NumTiles(args);
  const int64_t tiles_per_task = TilesPerTask(args);
  const int64_t tasks = NumTasks(args);
  auto run_task = [&](int64_t task) {
    float* scratch = ThreadScratch(scratch_floats);
    const int64_t end = std::min(tiles, (task + 1) * tiles_per_task);
    for (int64_t tile = task * tiles_per_task; tile < end; ++tile) {
      attend(MakeTile<T>(args, tile), scratch);
    }
  };
  if (EstimatedMacs(args) < kMinParallelMacs) {
    for (int64_t task = 0; task < tasks; ++task) run_task(task);
  } else {
    ParallelFor(tasks, run_task);
  }
}

// The element types the CPU kernel is compiled for; kF16 has no CPU path.
absl::Status CheckCpuElementType(ElementType dtype) {
  if (dtype == ElementType::kF32 || dtype == ElementType::kBF16) return absl::OkStatus();
  const char* got = dtype == ElementType::kF16 ? "kF16" : "an unknown ElementType";
  return absl::InvalidArgumentError(
      absl::StrCat("dtype must be kF32 or kBF16 for CPU attention, got ", got,
                   " (float16 runs only on the CUDA kernels)"));
}

}  // namespace

absl::Status AttentionCpu(const AttentionArgs& args) {
  if (absl::Status s = ValidateAttentionArgs(args); !s.ok()) return s;
  if (absl::Status s = CheckCpuElementType(args.dtype); !s.ok()) return s;
  if (args.dtype == ElementType::kBF16) {
    RunTiles<Bf16>(args);
  } else {
    RunTiles<float>(args);
  }
  return absl::OkStatus();
}

int64_t AttentionCpuScratchBytes(const AttentionArgs& args) {
  const int64_t threads = EstimatedMacs(args) < kMinParallelMacs
                              ? 1
                              : std::min<int64_t>(CpuKernelThreads(), NumTasks(args));
  const int64_t floats =
      args.dtype == ElementType::kBF16 ? ScratchFloats<Bf16>(args) : ScratchFloats<float>(args);
  return threads * floats * static_cast<int64_t>(sizeof(float));
}

}  // namespace duet::kernels
