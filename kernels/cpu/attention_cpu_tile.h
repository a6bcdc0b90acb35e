// One query tile of the fused CPU attention: the tile's queries against K/V tiles, online softmax.
// Header-only so attention_cpu.cc can compile it once per instruction set (AVX2+FMA, baseline)
// and element type T (float, Bf16).
//
// Shapes: a tile is `rows` <= kBlockQ query rows of one (batch, head); keys arrive kBlockK at a
// time. Scores are kept in base 2 (queries pre-scaled by scale * log2 e), so softmax uses 2^x.
// Precision: T is only what memory holds. Q, K and V are converted to float32 as they enter the
// tile's scratch (exact for Bf16), all arithmetic is float32, and StoreRows rounds to T once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/attention_mask.h"
#include "kernels/cpu/element_types.h"
#include "kernels/cpu/fast_exp.h"
#include "kernels/cpu/vec8.h"

namespace duet::kernels::cpu_tile {

constexpr int64_t kBlockQ = 32;  // query rows per tile (one task of the thread pool)
constexpr int64_t kBlockK = 64;  // keys per tile: the width of every vectorised score loop
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Float V rows are read in place; other element types are converted into scratch per key tile.
template <typename T>
constexpr bool kValuesInPlace = std::is_same_v<T, float>;

// One task: a range of query rows of one (batch, head) slice. Not owning.
template <typename T>
struct QueryTile {
  const T* q = nullptr;  // [rows, D], the tile's first query row
  const T* k = nullptr;  // [kv_len, D], keys of this (b, h)
  const T* v = nullptr;  // [kv_len, D]
  T* out = nullptr;      // [rows, D]
  int64_t rows = 0;      // in [1, kBlockQ]
  int64_t q_pos = 0;     // absolute position of the tile's first query
  int64_t kv_len = 0;
  int64_t head_dim = 0;
  int64_t prefix_valid = 0;
  AttentionMask mask;
  float scale_log2 = 0.f;  // softmax scale * log2(e)
};

// Per-thread working memory, carved from one float buffer of ScratchFloats<T>(D).
struct Scratch {
  float* q;   // [kBlockQ, D]   scaled queries
  float* kt;  // [D, kBlockK]   key tile, transposed so score loops run along keys
  float* s;   // [kBlockQ, kBlockK] scores, then probabilities
  float* o;   // [kBlockQ, D]   unnormalised output accumulator
  float* m;   // [kBlockQ]      running row max (base 2)
  float* l;   // [kBlockQ]      running row sum of 2^(s - m)
  float* v;   // [kBlockK, D]   value tile as float; nullptr when kValuesInPlace<T>
};

template <typename T>
constexpr int64_t ScratchFloats(int64_t d) {
  const int64_t value_tile = kValuesInPlace<T> ? 0 : kBlockK * d;
  return 2 * kBlockQ * d + d * kBlockK + kBlockQ * kBlockK + 2 * kBlockQ + value_tile;
}

template <typename T>
inline Scratch CarveScratch(float* base, int64_t d) {
  Scratch sc;
  sc.q = base;
  sc.kt = sc.q + kBlockQ * d;
  sc.s = sc.kt + d * kBlockK;
  sc.o = sc.s + kBlockQ * kBlockK;
  sc.m = sc.o + kBlockQ * d;
  sc.l = sc.m + kBlockQ;
  sc.v = kValuesInPlace<T> ? nullptr : sc.l + kBlockQ;
  return sc;
}

// Loops over the head dim use the compile-time kD when it is non-zero (fast paths 64 and 128).
template <int kD, typename T>
inline int64_t Dim(const QueryTile<T>& t) {
  return kD > 0 ? kD : t.head_dim;
}

template <int kD, typename T>
inline void LoadScaledQueries(const QueryTile<T>& t, const Scratch& sc) {
  const int64_t d_len = Dim<kD>(t);
  for (int64_t i = 0; i < t.rows * d_len; ++i) sc.q[i] = ToFloat(t.q[i]) * t.scale_log2;
}

// kt[d][j] = K[k0 + j][d]; columns j >= n are zero so the score loops keep their full width.
template <int kD, typename T>
inline void TransposeKeys(const QueryTile<T>& t, const T* keys, int64_t n, const Scratch& sc) {
  const int64_t d_len = Dim<kD>(t);
  for (int64_t j = 0; j < kBlockK; ++j) {
    for (int64_t d = 0; d < d_len; ++d) {
      sc.kt[d * kBlockK + j] = j < n ? ToFloat(keys[j * d_len + d]) : 0.f;
    }
  }
}

// The key tile's n V rows as float32: read in place for float; otherwise converted once into
// sc.v, so every query row of the tile reuses the converted block.
template <int kD, typename T>
inline const float* LoadValues(const QueryTile<T>& t, const T* values, int64_t n,
                               const Scratch& sc) {
  if constexpr (kValuesInPlace<T>) {
    return values;
  } else {
    const int64_t d_len = Dim<kD>(t);
    for (int64_t i = 0; i < n * d_len; ++i) sc.v[i] = ToFloat(values[i]);
    return sc.v;
  }
}

constexpr int64_t kScoreVecs = kBlockK / kVec;  // one score row = 8 registers (vec8.h)
static_assert(kBlockK % kVec == 0, "score rows are whole vectors");

// S = Q K^T for the tile: row i of S is sum over d of q[i][d] * (row d of K^T), accumulated in
// registers (8 loads per 8 multiply-adds).
template <int kD, typename T>
inline void ComputeScores(const QueryTile<T>& t, const Scratch& sc) {
  const int64_t d_len = Dim<kD>(t);
  for (int64_t i = 0; i < t.rows; ++i) {
    Vec8 acc[kScoreVecs] = {};
    for (int64_t d = 0; d < d_len; ++d) {
      const float q_id = sc.q[i * d_len + d];
      const float* kt_row = sc.kt + d * kBlockK;
      for (int64_t c = 0; c < kScoreVecs; ++c) acc[c] += q_id * LoadVec(kt_row + c * kVec);
    }
    for (int64_t c = 0; c < kScoreVecs; ++c) StoreVec(sc.s + i * kBlockK + c * kVec, acc[c]);
  }
}

// o_row += sum over j < n of p[j] * V[j]. For head dims that are whole multiples of 64, 64 columns
// at a time stay in 8 registers across all keys; other head dims use a plain loop.
template <int kD>
inline void AccumulatePV(const float* p, const float* values, int64_t n, int64_t d_len,
                         float* o_row) {
  if constexpr (kD > 0 && kD % kBlockK == 0) {
    for (int64_t d0 = 0; d0 < kD; d0 += kBlockK) {
      Vec8 acc[kScoreVecs];
      for (int64_t c = 0; c < kScoreVecs; ++c) acc[c] = LoadVec(o_row + d0 + c * kVec);
      for (int64_t j = 0; j < n; ++j) {
        const float* v_row = values + j * kD + d0;
        for (int64_t c = 0; c < kScoreVecs; ++c) acc[c] += p[j] * LoadVec(v_row + c * kVec);
      }
      for (int64_t c = 0; c < kScoreVecs; ++c) StoreVec(o_row + d0 + c * kVec, acc[c]);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) {
      if (p[j] == 0.f) continue;
      const float* v_row = values + j * d_len;
      for (int64_t d = 0; d < d_len; ++d) o_row[d] += p[j] * v_row[d];
    }
  }
}

// Partial tiles only: masked scores (and columns past the tile's n keys) become -inf.
template <typename T>
inline void ApplyMask(const QueryTile<T>& t, int64_t k0, int64_t n, const Scratch& sc) {
  for (int64_t i = 0; i < t.rows; ++i) {
    float* s_row = sc.s + i * kBlockK;
    for (int64_t j = 0; j < kBlockK; ++j) {
      if (j >= n || !MaskAllows(t.mask, t.prefix_valid, t.q_pos + i, k0 + j)) s_row[j] = kNegInf;
    }
  }
}

// Online softmax: row max, P = 2^(S - m), rescale the running sum and accumulator, O += P V.
template <int kD, typename T>
inline void SoftmaxAccumulate(const QueryTile<T>& t, const float* values, int64_t n,
                              const Scratch& sc) {
  const int64_t d_len = Dim<kD>(t);
  for (int64_t i = 0; i < t.rows; ++i) {
    float* s_row = sc.s + i * kBlockK;
    float tile_max = kNegInf;
    for (int64_t j = 0; j < kBlockK; ++j) tile_max = std::max(tile_max, s_row[j]);
    if (tile_max == kNegInf) continue;  // no visible key in this tile for this row
    const float m_new = std::max(sc.m[i], tile_max);
    const float alpha = FastExp2(sc.m[i] - m_new);  // 0 on the row's first visible tile
    for (int64_t j = 0; j < kBlockK; ++j) s_row[j] = FastExp2(s_row[j] - m_new);
    float row_sum = 0.f;
    for (int64_t j = 0; j < kBlockK; ++j) row_sum += s_row[j];
    sc.l[i] = sc.l[i] * alpha + row_sum;
    sc.m[i] = m_new;
    float* o_row = sc.o + i * d_len;
    if (alpha != 1.f) {
      for (int64_t d = 0; d < d_len; ++d) o_row[d] *= alpha;
    }
    AccumulatePV<kD>(s_row, values, n, d_len, o_row);
  }
}

// out = O / l, rounded to T; rows that saw no key (l == 0) are written as zeros, like the
// reference.
template <int kD, typename T>
inline void StoreRows(const QueryTile<T>& t, const Scratch& sc) {
  const int64_t d_len = Dim<kD>(t);
  for (int64_t i = 0; i < t.rows; ++i) {
    const float inv = sc.l[i] > 0.f ? 1.f / sc.l[i] : 0.f;
    for (int64_t d = 0; d < d_len; ++d) {
      t.out[i * d_len + d] = FromFloat<T>(sc.o[i * d_len + d] * inv);
    }
  }
}

// The whole tile: only key tiles inside VisibleKeyRanges are visited, and the mask is evaluated
// only on tiles that BlockFullyVisible cannot clear.
template <int kD, typename T>
inline void AttendQueryTile(const QueryTile<T>& t, float* scratch) {
  const int64_t d_len = Dim<kD>(t);
  const Scratch sc = CarveScratch<T>(scratch, d_len);
  LoadScaledQueries<kD>(t, sc);
  std::fill(sc.o, sc.o + t.rows * d_len, 0.f);
  std::fill(sc.m, sc.m + kBlockQ, kNegInf);
  std::fill(sc.l, sc.l + kBlockQ, 0.f);
  const int64_t q_last = t.q_pos + t.rows - 1;
  const VisibleKeys keys = VisibleKeyRanges(t.mask, t.prefix_valid, t.q_pos, q_last, t.kv_len);
  for (const KeyRange& range : {keys.prefix, keys.target}) {
    for (int64_t k0 = range.begin; k0 < range.end; k0 += kBlockK) {
      const int64_t n = std::min(kBlockK, range.end - k0);
      TransposeKeys<kD>(t, t.k + k0 * d_len, n, sc);
      ComputeScores<kD>(t, sc);
      const bool full = n == kBlockK &&
                        BlockFullyVisible(t.mask, t.prefix_valid, t.q_pos, q_last, k0, k0 + n - 1);
      if (!full) ApplyMask(t, k0, n, sc);
      const float* values = LoadValues<kD>(t, t.v + k0 * d_len, n, sc);
      SoftmaxAccumulate<kD>(t, values, n, sc);
    }
  }
  StoreRows<kD>(t, sc);
}

}  // namespace duet::kernels::cpu_tile
