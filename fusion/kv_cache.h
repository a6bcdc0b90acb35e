// Per-layer key/value cache for incremental decoding: each step costs O(context), not O(context^2).
// Preallocated to a fixed capacity; not thread-safe (one cache per decoding batch).
#pragma once

#include <vector>

#include <torch/torch.h>

namespace duet::fusion {

class KVCache {
 public:
  // Allocates [batch, heads, capacity, head_dim] keys and values for each of n_layers layers.
  KVCache(int n_layers, int64_t batch, int64_t heads, int64_t capacity, int64_t head_dim,
          torch::TensorOptions options = torch::kFloat32);

  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }  // positions written by completed forwards
  int64_t batch() const { return batch_; }

  // Writes k, v [B, H, t, Dh] for `layer` at positions [length, length + t). Throws when full.
  void Write(int layer, const torch::Tensor& k, const torch::Tensor& v);
  const torch::Tensor& keys(int layer) const { return keys_[layer]; }
  const torch::Tensor& values(int layer) const { return values_[layer]; }
  // Marks t more positions as written; called once per forward after every layer wrote.
  void Advance(int64_t t) { length_ += t; }

  // Keeps only the given batch rows (e.g. dropping finished or cancelled sequences).
  void SelectRows(const torch::Tensor& rows);

  // The rows of `parts`, in order, as one cache: how a batch prefilled in chunks becomes one.
  // Every part must have the same layers, heads, capacity and length (throws otherwise).
  static KVCache ConcatRows(const std::vector<KVCache>& parts);

 private:
  KVCache() = default;
  std::vector<torch::Tensor> keys_, values_;
  int64_t batch_ = 0, capacity_ = 0, length_ = 0;
};

// The cache of a continuously batched decode (fusion/engine.h): rows [0, rows()) are live
// sequences, each at its own length, so sequences that started at different steps share one
// forward. Rows join from a prefilled KVCache and leave by moving the last row into the hole;
// the storage grows by doubling and never shrinks. Same layout per layer as KVCache:
// [row capacity, heads, capacity, head_dim]. Not thread-safe.
class SlotKVCache {
 public:
  SlotKVCache(int n_layers, int64_t heads, int64_t capacity, int64_t head_dim,
              torch::TensorOptions options);

  int64_t rows() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t capacity() const { return capacity_; }
  const std::vector<int32_t>& lengths() const { return lengths_; }

  // Appends every row of `part` (all of length part.length()); returns the first new row.
  int64_t Append(const KVCache& part);
  // Row `from` takes the place of row `to` (keys, values and length).
  void MoveRow(int64_t from, int64_t to);
  // Keeps rows [0, rows).
  void Truncate(int64_t rows);

  // Writes k, v [rows(), H, 1, Dh] of every row at that row's length. Throws when one is full.
  void Write(int layer, const torch::Tensor& k, const torch::Tensor& v);
  // Keys and values of the live rows, [rows(), H, capacity, Dh] (a view).
  torch::Tensor keys(int layer) const { return keys_[layer].narrow(0, 0, rows()); }
  torch::Tensor values(int layer) const { return values_[layer].narrow(0, 0, rows()); }
  // Every row one position longer; once per forward, after every layer wrote.
  void Advance();
  // The rows' lengths as int64 [rows()] (where the next keys go: the query positions) and, plus
  // one, as int32 (the keys each row attends to), on the cache's device; built once per forward.
  const torch::Tensor& positions() const;
  const torch::Tensor& kv_lens() const;

 private:
  void Reserve(int64_t rows);
  void Changed() { positions_ = torch::Tensor(), kv_lens_ = torch::Tensor(); }
  std::vector<torch::Tensor> keys_, values_;
  std::vector<int32_t> lengths_;
  mutable torch::Tensor positions_, kv_lens_, rows_;  // derived from lengths_, built on demand
  int64_t heads_, capacity_, head_dim_;
  torch::TensorOptions options_;
};

}  // namespace duet::fusion
