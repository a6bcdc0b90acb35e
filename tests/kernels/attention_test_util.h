// Shared helpers for the attention tests: random problems and an independent float64 reference.
// The reference is written from MaskAllows alone, so it checks the kernels' tiling and skipping.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/attention.h"

namespace duet::kernels::testing {

// One attention problem with float32 data laid out as kernels/attention.h describes.
struct Problem {
  int64_t batch = 2;
  int64_t heads = 2;
  int64_t q_len = 7;
  int64_t kv_len = 7;
  int64_t kv_capacity = 7;
  int64_t head_dim = 16;
  int64_t q_start = 0;
  AttentionMask mask;
  std::vector<int32_t> prefix_valid;  // [B]; empty means all of prefix_len is real
  std::vector<float> q, k, v;         // [B,H,Tq,D], [B,H,cap,D], [B,H,cap,D]

  // Prefill problem of length t; batch row b has prefix_valid = prefix_len >> b (so < P for b > 0).
  static Problem Prefill(int64_t batch, int64_t heads, int64_t t, int64_t d, int64_t prefix_len,
                         int64_t window, uint32_t seed) {
    Problem p;
    p.batch = batch;
    p.heads = heads;
    p.q_len = p.kv_len = p.kv_capacity = t;
    p.head_dim = d;
    p.mask = {prefix_len, window};
    for (int64_t b = 0; b < batch; ++b)
      p.prefix_valid.push_back(static_cast<int32_t>(prefix_len >> b));
    p.Fill(seed);
    return p;
  }

  // q_len (at most kv_len) decode rows at the end of kv_len keys, in a cache with `padding` more
  // slots (NaN, never to be read); otherwise as Prefill.
  static Problem Decode(int64_t batch, int64_t heads, int64_t kv_len, int64_t d,
                        int64_t prefix_len, int64_t window, int64_t q_len, int64_t padding,
                        uint32_t seed) {
    Problem p = Prefill(batch, heads, kv_len, d, prefix_len, window, seed);
    p.q_len = std::min(q_len, kv_len);
    p.q_start = kv_len - p.q_len;
    p.kv_capacity = kv_len + padding;
    p.Fill(seed);
    return p;
  }

  // Uniform [-2, 2] data; K/V slots past kv_len (capacity padding) hold NaN: never to be read.
  void Fill(uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-2.f, 2.f);
    q.resize(batch * heads * q_len * head_dim);
    for (float& x : q) x = dist(rng);
    const int64_t kv_size = batch * heads * kv_capacity * head_dim;
    k.assign(kv_size, std::numeric_limits<float>::quiet_NaN());
    v.assign(kv_size, std::numeric_limits<float>::quiet_NaN());
    for (int64_t bh = 0; bh < batch * heads; ++bh) {
      for (int64_t i = bh * kv_capacity * head_dim; i < (bh * kv_capacity + kv_len) * head_dim;
           ++i) {
        k[i] = dist(rng);
        v[i] = dist(rng);
      }
    }
  }

  // Args pointing at this problem's data and `out`.
  AttentionArgs Args(float* out) const {
    AttentionArgs a;
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.out = out;
    a.batch = batch;
    a.heads = heads;
    a.q_len = q_len;
    a.kv_len = kv_len;
    a.kv_capacity = kv_capacity;
    a.head_dim = head_dim;
    a.q_start = q_start;
    a.prefix_valid = prefix_valid.empty() ? nullptr : prefix_valid.data();
    a.mask = mask;
    a.scale = 1.f / std::sqrt(static_cast<float>(head_dim));
    return a;
  }

  int64_t Valid(int64_t b) const {
    return prefix_valid.empty() ? mask.prefix_len : prefix_valid[b];
  }
  size_t OutSize() const { return batch * heads * q_len * head_dim; }
};

// Batch row b of `full` as a batch-1 problem (its data and its prefix_valid).
inline Problem BatchRow(const Problem& full, int64_t b) {
  Problem row = full;
  row.batch = 1;
  row.prefix_valid = {full.prefix_valid[b]};
  auto slice = [b](const std::vector<float>& all, std::vector<float>& one, int64_t per_row) {
    one.assign(all.begin() + b * per_row, all.begin() + (b + 1) * per_row);
  };
  slice(full.q, row.q, full.heads * full.q_len * full.head_dim);
  slice(full.k, row.k, full.heads * full.kv_capacity * full.head_dim);
  slice(full.v, row.v, full.heads * full.kv_capacity * full.head_dim);
  return row;
}

// Float64 attention straight from the definition: softmax over the keys MaskAllows, zeros if none.
inline std::vector<double> ReferenceF64(const Problem& p) {
  const int64_t d_len = p.head_dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d_len));
  std::vector<double> out(p.OutSize(), 0.0);
  std::vector<double> w(p.kv_len);
  for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
    const int64_t valid = p.Valid(bh / p.heads);
    for (int64_t i = 0; i < p.q_len; ++i) {
      const float* qi = &p.q[(bh * p.q_len + i) * d_len];
      double max_score = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < p.kv_len; ++j) {
        w[j] = -std::numeric_limits<double>::infinity();
        if (!MaskAllows(p.mask, valid, p.q_start + i, j)) continue;
        const float* kj = &p.k[(bh * p.kv_capacity + j) * d_len];
        double dot = 0;
        for (int64_t d = 0; d < d_len; ++d) dot += double{qi[d]} * kj[d];
        w[j] = dot * scale;
        max_score = std::max(max_score, w[j]);
      }
      if (std::isinf(max_score)) continue;
      double sum = 0;
      double* oi = &out[(bh * p.q_len + i) * d_len];
      for (int64_t j = 0; j < p.kv_len; ++j) {
        if (std::isinf(w[j])) continue;
        const double e = std::exp(w[j] - max_score);
        sum += e;
        for (int64_t d = 0; d < d_len; ++d) oi[d] += e * p.v[(bh * p.kv_capacity + j) * d_len + d];
      }
      for (int64_t d = 0; d < d_len; ++d) oi[d] /= sum;
    }
  }
  return out;
}

// Largest |got - want|; NaN anywhere in got reads as infinity.
inline double MaxAbsError(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]);
    worst = std::isnan(e) ? std::numeric_limits<double>::infinity() : std::max(worst, e);
  }
  return worst;
}

}  // namespace duet::kernels::testing
