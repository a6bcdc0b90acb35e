// Implementation of fusion/kv_cache.h.
#include "fusion/kv_cache.h"

namespace duet::fusion {

KVCache::KVCache(int n_layers, int64_t batch, int64_t heads, int64_t capacity, int64_t head_dim,
                 torch::TensorOptions options)
    : batch_(batch), capacity_(capacity) {
  for (int i = 0; i < n_layers; ++i) {
    keys_.push_back(torch::zeros({batch, heads, capacity, head_dim}, options));
    values_.push_back(torch::zeros({batch, heads, capacity, head_dim}, options));
  }
}

void KVCache::Write(int layer, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t t = k.size(2);
  TORCH_CHECK(length_ + t <= capacity_, "KV cache full: ", length_, " + ", t, " > ", capacity_);
  keys_[layer].narrow(2, length_, t).copy_(k);
  values_[layer].narrow(2, length_, t).copy_(v);
}

void KVCache::SelectRows(const torch::Tensor& rows) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    keys_[i] = keys_[i].index_select(0, rows).contiguous();
    values_[i] = values_[i].index_select(0, rows).contiguous();
  }
  batch_ = rows.size(0);
}

}  // namespace duet::fusion
