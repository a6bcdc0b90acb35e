// The fused CPU attention kernel behind AttentionPrefill/AttentionDecode on CPU.
// Tiled over query and key blocks with online softmax (few query rows: straight from the K and V
// rows, no tiles); never materialises the T x T scores.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace duet::kernels {

// Attention over args (validated here), dtype kF32 or kBF16 (InvalidArgument otherwise), float32
// accumulation; bf16 output rounded to nearest even. Same contract as AttentionReference: any
// q_start, kv_capacity >= kv_len, rows with no visible key written as zeros, every output element
// written. Splits batch x heads x query tiles over the process-wide pool
// (kernels/cpu/thread_pool.h: the OpenMP pool LibTorch uses), several small tiles per task, and
// runs small problems on the calling thread; results do not depend on either. Thread-safe.
absl::Status AttentionCpu(const AttentionArgs& args);

// Bytes of scratch AttentionCpu uses for args: one buffer per participating thread (kept
// thread-local between calls). Tile path: one tile's, and kBF16 adds a float32 copy of one V tile
// (64 x D floats). Decode path: its q_len rows' (2 q_len D + 64 floats), for both dtypes. The
// reference, for comparison, uses kv_len floats.
int64_t AttentionCpuScratchBytes(const AttentionArgs& args);

// Calls with q_len <= this take the decode path (attention_cpu_decode.h: each query row reads K and
// V in place, no tile copies); longer ones the tile path. Same contract either way.
// Chosen by measurement on the image drafter's decode shape (docs/kernels.md).
constexpr int64_t kCpuDecodeMaxRows = 4;

}  // namespace duet::kernels
