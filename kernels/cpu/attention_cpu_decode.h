// The fused CPU attention's decode path: a few query rows of one (batch, head), each scored
// directly against the K rows and summing the V rows where they lie, with no tile copies (the tile
// path's transposes and V conversion cost more than the math when a tile has one query row).
// Header-only like attention_cpu_tile.h, so attention_cpu.cc compiles it once per instruction set,
// element type T (float, Bf16) and fast-path head dim.
//
// Shapes: a QueryTile<T> (attention_cpu_tile.h) with rows <= kDecodeMaxRows. Scores are in base 2
// (queries pre-scaled by scale * log2 e), so softmax uses 2^x. Precision: K and V elements are
// widened to float32 as they are loaded (exact for Bf16), all arithmetic is float32, and each
// output element is rounded to T once.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/attention_mask.h"
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
using cpu_tile::kVec;
using cpu_tile::LoadAsVec;
using cpu_tile::LoadVec;
using cpu_tile::QueryTile;
using cpu_tile::StoreVec;
using cpu_tile::ToFloat;
using cpu_tile::Vec8;

// Calls with q_len <= this take the decode path; longer ones the tile path. Measured on the image
// drafter's decode shape (docs/kernels.md): at 8 rows the tile path is faster.
constexpr int64_t kDecodeMaxRows = 4;
// Keys scored per online-softmax step: bounds the score buffer whatever kv_len is.
constexpr int64_t kChunkKeys = 64;
// Keys whose dot products are formed together: independent FMA chains to hide the FMA latency.
constexpr int64_t kKeysPerStep = 4;
static_assert(kChunkKeys % kVec == 0, "a chunk of scores is whole vectors");

// Per-thread working memory of one query row, carved from ScratchFloats(D) floats.
struct RowScratch {
  float* q;  // [D]           the scaled query row
  float* o;  // [D]           unnormalised output accumulator
  float* s;  // [kChunkKeys]  scores of one chunk, then probabilities
};

constexpr int64_t ScratchFloats(int64_t d) { return 2 * d + kChunkKeys; }

// The dot product's last D % 8 terms, after the whole vectors up to vec_end.
template <typename T>
inline float TailDot(const float* q, const T* k_row, int64_t vec_end, int64_t d_len) {
  float sum = 0.f;
  for (int64_t d = vec_end; d < d_len; ++d) sum += q[d] * ToFloat(k_row[d]);
  return sum;
}

// s[j] = q . K[j] for j < n. Every key's sum is formed in one order (vectors along D, in order,
// then HorizontalSum, then the tail) whether it falls in a group of kKeysPerStep or the remainder.
template <typename T>
inline void ScoreKeys(const float* q, const T* keys, int64_t n, int64_t d_len, float* s) {
  const int64_t vec_end = d_len - d_len % kVec;
  int64_t j = 0;
  for (; j + kKeysPerStep <= n; j += kKeysPerStep) {
    const T* k_rows = keys + j * d_len;
    Vec8 acc[kKeysPerStep] = {};
    for (int64_t d = 0; d < vec_end; d += kVec) {
      const Vec8 q_d = LoadVec(q + d);
      for (int64_t r = 0; r < kKeysPerStep; ++r) acc[r] += q_d * LoadAsVec(k_rows + r * d_len + d);
    }
    for (int64_t r = 0; r < kKeysPerStep; ++r) {
      s[j + r] = HorizontalSum(acc[r]) + TailDot(q, k_rows + r * d_len, vec_end, d_len);
    }
  }
  for (; j < n; ++j) {
    const T* k_row = keys + j * d_len;
    Vec8 acc = {};
    for (int64_t d = 0; d < vec_end; d += kVec) acc += LoadVec(q + d) * LoadAsVec(k_row + d);
    s[j] = HorizontalSum(acc) + TailDot(q, k_row, vec_end, d_len);
  }
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

// o += sum over j < n of p[j] * V[j], each V row widened as it is loaded. Head dims that are whole
// multiples of 64 keep 64 output columns in 8 registers across the chunk; others update o in
// memory, whole vectors then the D % 8 tail.
template <int kD, typename T>
inline void AccumulateValues(const float* p, const T* values, int64_t n, int64_t d_len,
                             float* o) {
  if constexpr (kD > 0 && kD % kBlockK == 0) {
    constexpr int64_t kBlockVecs = kBlockK / kVec;
    for (int64_t d0 = 0; d0 < kD; d0 += kBlockK) {
      Vec8 acc[kBlockVecs];
      for (int64_t c = 0; c < kBlockVecs; ++c) acc[c] = LoadVec(o + d0 + c * kVec);
      for (int64_t j = 0; j < n; ++j) {
        const T* v_row = values + j * kD + d0;
        for (int64_t c = 0; c < kBlockVecs; ++c) acc[c] += p[j] * LoadAsVec(v_row + c * kVec);
      }
      for (int64_t c = 0; c < kBlockVecs; ++c) StoreVec(o + d0 + c * kVec, acc[c]);
    }
  } else {
    const int64_t vec_end = d_len - d_len % kVec;
    for (int64_t j = 0; j < n; ++j) {
      const T* v_row = values + j * d_len;
      for (int64_t d = 0; d < vec_end; d += kVec) {
        StoreVec(o + d, LoadVec(o + d) + p[j] * LoadAsVec(v_row + d));
      }
      for (int64_t d = vec_end; d < d_len; ++d) o[d] += p[j] * ToFloat(v_row[d]);
    }
  }
}

// One query row: scores, softmax and P V chunk by chunk over its visible keys, then out = o / l
// rounded to T (zeros when no key is visible, like the reference). For a single query the ranges
// of VisibleKeyRanges are exact (every key inside is visible), so no mask is evaluated.
template <int kD, typename T>
inline void AttendRow(const QueryTile<T>& t, int64_t row, const RowScratch& sc) {
  const int64_t d_len = Dim<kD>(t);
  const T* q = t.q + row * d_len;
  for (int64_t d = 0; d < d_len; ++d) sc.q[d] = ToFloat(q[d]) * t.scale_log2;
  std::fill(sc.o, sc.o + d_len, 0.f);
  float m = kNegInf;
  float l = 0.f;
  const int64_t q_pos = t.q_pos + row;
  const VisibleKeys keys = VisibleKeyRanges(t.mask, t.prefix_valid, q_pos, q_pos, t.kv_len);
  for (const KeyRange& range : {keys.prefix, keys.target}) {
    for (int64_t k0 = range.begin; k0 < range.end; k0 += kChunkKeys) {
      const int64_t n = std::min(kChunkKeys, range.end - k0);
      ScoreKeys(sc.q, t.k + k0 * d_len, n, d_len, sc.s);
      SoftmaxStep(sc.s, n, d_len, &m, &l, sc.o);
      AccumulateValues<kD>(sc.s, t.v + k0 * d_len, n, d_len, sc.o);
    }
  }
  const float inv = l > 0.f ? 1.f / l : 0.f;
  T* out = t.out + row * d_len;
  for (int64_t d = 0; d < d_len; ++d) out[d] = FromFloat<T>(sc.o[d] * inv);
}

// All rows of the tile, one after another; each reads only its own visible K and V rows.
template <int kD, typename T>
inline void AttendDecodeRows(const QueryTile<T>& t, float* scratch) {
  const int64_t d_len = Dim<kD>(t);
  const RowScratch sc{scratch, scratch + d_len, scratch + 2 * d_len};
  for (int64_t row = 0; row < t.rows; ++row) AttendRow<kD>(t, row, sc);
}

}  // namespace duet::kernels::cpu_decode
