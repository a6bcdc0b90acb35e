// The fused CPU attention's decode path: a few query rows of one (batch, head), each scored
// directly against the K rows and summing the V rows where they lie, with no tile copies (the tile
// path's transposes and V conversion cost more than the math when a tile has one query row).
// Header-only like attention_cpu_tile.h, so attention_cpu.cc compiles it once per instruction set,
// element type T (float, Bf16) and fast-path head dim.
//
// Shapes: a QueryTile<T> (attention_cpu_tile.h) with rows <= kCpuDecodeMaxRows (attention_cpu.h).
// Along D, rows are read 16 elements at a time in the pair layout of vec8.h (the scaled queries and
// output accumulators are kept in it, so K and V are never reordered); the last D % 16 elements
// run in plain order. Scores are in base 2 (queries pre-scaled by scale * log2 e).
// Precision: elements are widened to float32 as they are loaded (exact for Bf16), all arithmetic
// is float32 in the same order for both element types, and each output is rounded to T once.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/attention_mask.h"
#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/attention_cpu_tile.h"
#include "kernels/cpu/element_types.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/vec8.h"

namespace duet::kernels::cpu_decode {

using cpu_tile::Dim;
using cpu_tile::FromFloat;
using cpu_tile::HorizontalSum;
using cpu_tile::kBlockK;
using cpu_tile::kNegInf;
using cpu_tile::kPairBlock;
using cpu_tile::kPairLead;
using cpu_tile::kVec;
using cpu_tile::LoadPairs;
using cpu_tile::LoadVec;
using cpu_tile::QueryTile;
using cpu_tile::StoreVec;
using cpu_tile::ToFloat;
using cpu_tile::Vec8;

// Keys scored per online-softmax step: bounds the score buffer whatever kv_len is.
constexpr int64_t kChunkKeys = 64;
// Keys whose dot products are formed together, two accumulators each: 8 independent FMA chains.
constexpr int64_t kKeysPerStep = 4;
static_assert(kChunkKeys % kVec == 0, "a chunk of scores is whole vectors");

// Per-thread working memory for `rows` query rows: each row's scaled query and output accumulator
// (D floats each, pair layout), then one chunk of scores (kChunkKeys floats, later probabilities).
constexpr int64_t ScratchFloats(int64_t rows, int64_t d) { return 2 * rows * d + kChunkKeys; }

// Elements of a row that the pair layout covers; the rest (D % 16) stay in plain order.
inline int64_t PairEnd(int64_t d_len) { return d_len - d_len % kPairBlock; }

// Index in a plain row of slot `slot` of the pair layout (slot < PairEnd(D)).
inline int64_t PlainIndex(int64_t slot) {
  const int64_t block = slot - slot % kPairBlock;
  const int64_t lane = slot % kVec;
  const int64_t odd = (slot % kPairBlock) / kVec;
  return block + kPairLead[lane] + odd;
}

// kKeys consecutive keys: s[r] = q . K[r], every key's sum in one order (pair blocks along D, even
// and odd products apart, then HorizontalSum, then the plain tail), whatever kKeys is.
template <int64_t kKeys, typename T>
inline void ScoreGroup(const float* q, const T* k_rows, int64_t d_len, float* s) {
  const int64_t pair_end = PairEnd(d_len);
  Vec8 even[kKeys] = {};
  Vec8 odd[kKeys] = {};
  for (int64_t d = 0; d < pair_end; d += kPairBlock) {
    const Vec8 q_even = LoadVec(q + d);
    const Vec8 q_odd = LoadVec(q + d + kVec);
    for (int64_t r = 0; r < kKeys; ++r) {
      Vec8 k_even, k_odd;
      LoadPairs(k_rows + r * d_len + d, &k_even, &k_odd);
      even[r] += q_even * k_even;
      odd[r] += q_odd * k_odd;
    }
  }
  for (int64_t r = 0; r < kKeys; ++r) {
    float sum = HorizontalSum(even[r] + odd[r]);
    for (int64_t d = pair_end; d < d_len; ++d) sum += q[d] * ToFloat(k_rows[r * d_len + d]);
    s[r] = sum;
  }
}

// Asks for the cache lines of `rows` rows of D elements; a hint, never a fault.
template <typename T>
inline void PrefetchRows(const T* first, int64_t rows, int64_t d_len) {
  constexpr int64_t kCacheLine = 64;
  const char* begin = reinterpret_cast<const char*>(first);
  const char* end = reinterpret_cast<const char*>(first + rows * d_len);
  for (const char* line = begin; line < end; line += kCacheLine) __builtin_prefetch(line);
}

// s[j] = q . K[j] for the n keys from `keys`. Meanwhile the same keys' V rows are prefetched, as
// P V reads them right after this chunk's softmax: a large decode batch streams K and V from DRAM,
// and this made batch 512 with window 0 20-30% faster (docs/kernels.md).
template <typename T>
inline void ScoreKeys(const float* q, const T* keys, const T* values, int64_t n, int64_t d_len,
                      float* s) {
  int64_t j = 0;
  for (; j + kKeysPerStep <= n; j += kKeysPerStep) {
    PrefetchRows(values + j * d_len, kKeysPerStep, d_len);
    ScoreGroup<kKeysPerStep>(q, keys + j * d_len, d_len, s + j);
  }
  PrefetchRows(values + j * d_len, n - j, d_len);
  for (; j < n; ++j) ScoreGroup<1>(q, keys + j * d_len, d_len, s + j);
}

// Online softmax step over a chunk of n scores: P = 2^(s - m_new) in place, the running sum l and
// the accumulator o rescaled by 2^(m - m_new). Scores are padded with -inf to whole vectors, so
// the max, 2^x and sum loops run at full width; the padding contributes exact zeros.
inline void SoftmaxStep(float* s, int64_t n, int64_t d_len, float* m, float* l, float* o) {
  const int64_t padded = (n + kVec - 1) / kVec * kVec;
  std::fill(s + n, s + padded, kNegInf);
  Vec8 max8 = LoadVec(s);
  for (int64_t j = kVec; j < padded; j += kVec) {
    const Vec8 x = LoadVec(s + j);
    max8 = max8 > x ? max8 : x;
  }
  float chunk_max = max8[0];
  for (int64_t c = 1; c < kVec; ++c) chunk_max = std::max(chunk_max, max8[c]);
  const float m_new = std::max(*m, chunk_max);
  const float alpha = FastExp2(*m - m_new);  // 0 on the row's first chunk
  for (int64_t j = 0; j < padded; ++j) s[j] = FastExp2(s[j] - m_new);
  Vec8 sum8 = {};
  for (int64_t j = 0; j < padded; j += kVec) sum8 += LoadVec(s + j);
  *l = *l * alpha + HorizontalSum(sum8);
  *m = m_new;
  if (alpha != 1.f) {
    for (int64_t d = 0; d < d_len; ++d) o[d] *= alpha;
  }
}

// o += sum over j < n of p[j] * V[j], o in the pair layout. Head dims that are whole multiples of
// 64 keep 64 output columns in 8 registers across the chunk; others update o in memory.
template <int kD, typename T>
inline void AccumulateValues(const float* p, const T* values, int64_t n, int64_t d_len, float* o) {
  if constexpr (kD > 0 && kD % kBlockK == 0) {
    constexpr int64_t kRegs = kBlockK / kVec;
    for (int64_t d0 = 0; d0 < kD; d0 += kBlockK) {
      Vec8 acc[kRegs];
      for (int64_t c = 0; c < kRegs; ++c) acc[c] = LoadVec(o + d0 + c * kVec);
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t c = 0; c < kRegs; c += 2) {
          Vec8 v_even, v_odd;
          LoadPairs(values + j * kD + d0 + c * kVec, &v_even, &v_odd);
          acc[c] += p[j] * v_even;
          acc[c + 1] += p[j] * v_odd;
        }
      }
      for (int64_t c = 0; c < kRegs; ++c) StoreVec(o + d0 + c * kVec, acc[c]);
    }
  } else {
    const int64_t pair_end = PairEnd(d_len);
    for (int64_t j = 0; j < n; ++j) {
      const T* v_row = values + j * d_len;
      for (int64_t d = 0; d < pair_end; d += kPairBlock) {
        Vec8 v_even, v_odd;
        LoadPairs(v_row + d, &v_even, &v_odd);
        StoreVec(o + d, LoadVec(o + d) + p[j] * v_even);
        StoreVec(o + d + kVec, LoadVec(o + d + kVec) + p[j] * v_odd);
      }
      for (int64_t d = pair_end; d < d_len; ++d) o[d] += p[j] * ToFloat(v_row[d]);
    }
  }
}

// One query row's running state: its scaled query and accumulator (in scratch, pair layout), the
// online-softmax max m and sum l, and its visible keys. For a single query the ranges of
// VisibleKeyRanges are exact (every key inside is visible), so no mask is ever evaluated.
struct RowState {
  float* q;  // [D]
  float* o;  // [D]
  float m = kNegInf;
  float l = 0.f;
  VisibleKeys keys;
};

template <int kD, typename T>
inline RowState StartRow(const QueryTile<T>& t, int64_t row, float* q_and_o) {
  const int64_t d_len = Dim<kD>(t);
  const int64_t pair_end = PairEnd(d_len);
  RowState state;
  state.q = q_and_o;
  state.o = q_and_o + d_len;
  const T* q = t.q + row * d_len;
  for (int64_t d = 0; d < d_len; ++d) {
    state.q[d] = ToFloat(q[d < pair_end ? PlainIndex(d) : d]) * t.scale_log2;
  }
  std::fill(state.o, state.o + d_len, 0.f);
  const int64_t q_pos = t.q_pos + row;
  state.keys = VisibleKeyRanges(t.mask, t.prefix_valid, q_pos, q_pos, t.kv_len);
  return state;
}

// The row's visible keys inside the chunk [k0, k_end): scores, an online-softmax step, o += P V.
template <int kD, typename T>
inline void AttendChunk(const QueryTile<T>& t, const KeyRange& visible, int64_t k0, int64_t k_end,
                        RowState& row, float* s) {
  const int64_t d_len = Dim<kD>(t);
  const int64_t begin = std::max(k0, visible.begin);
  const int64_t n = std::min(k_end, visible.end) - begin;
  if (n <= 0) return;
  ScoreKeys(row.q, t.k + begin * d_len, t.v + begin * d_len, n, d_len, s);
  SoftmaxStep(s, n, d_len, &row.m, &row.l, row.o);
  AccumulateValues<kD>(s, t.v + begin * d_len, n, d_len, row.o);
}

// out = o / l rounded to T, back in plain order; zeros when no key was visible, like the reference.
template <int kD, typename T>
inline void FinishRow(const QueryTile<T>& t, int64_t row, const RowState& state) {
  const int64_t d_len = Dim<kD>(t);
  const int64_t pair_end = PairEnd(d_len);
  const float inv = state.l > 0.f ? 1.f / state.l : 0.f;
  T* out = t.out + row * d_len;
  for (int64_t d = 0; d < d_len; ++d) {
    out[d < pair_end ? PlainIndex(d) : d] = FromFloat<T>(state.o[d] * inv);
  }
}

// The tile's rows walk the keys together, one chunk of at most kChunkKeys at a time over the
// visible keys of all rows (a superset of each row's), so each chunk of K and V comes from memory
// once and stays in cache while every row uses the part it may see.
template <int kD, typename T>
inline void AttendDecodeRows(const QueryTile<T>& t, float* scratch) {
  const int64_t d_len = Dim<kD>(t);
  RowState rows[kCpuDecodeMaxRows];
  for (int64_t r = 0; r < t.rows; ++r) rows[r] = StartRow<kD>(t, r, scratch + 2 * r * d_len);
  float* s = scratch + 2 * t.rows * d_len;
  const int64_t q_last = t.q_pos + t.rows - 1;
  const VisibleKeys all = VisibleKeyRanges(t.mask, t.prefix_valid, t.q_pos, q_last, t.kv_len);
  for (KeyRange VisibleKeys::*part : {&VisibleKeys::prefix, &VisibleKeys::target}) {
    const KeyRange& range = all.*part;
    for (int64_t k0 = range.begin; k0 < range.end; k0 += kChunkKeys) {
      const int64_t k_end = std::min(k0 + kChunkKeys, range.end);
      for (int64_t r = 0; r < t.rows; ++r) {
        AttendChunk<kD>(t, rows[r].keys.*part, k0, k_end, rows[r], s);
      }
    }
  }
  for (int64_t r = 0; r < t.rows; ++r) FinishRow<kD>(t, r, rows[r]);
}

}  // namespace duet::kernels::cpu_decode
