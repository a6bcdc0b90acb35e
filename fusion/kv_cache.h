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

}  // namespace duet::fusion
