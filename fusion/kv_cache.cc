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

KVCache KVCache::ConcatRows(const std::vector<KVCache>& parts) {
  TORCH_CHECK(!parts.empty(), "ConcatRows needs at least one cache");
  KVCache out;
  out.capacity_ = parts.front().capacity_;
  out.length_ = parts.front().length_;
  for (const KVCache& part : parts) {
    TORCH_CHECK(part.keys_.size() == parts.front().keys_.size() &&
                    part.capacity_ == out.capacity_ && part.length_ == out.length_,
                "ConcatRows: caches of different shapes");
    out.batch_ += part.batch_;
  }
  for (size_t layer = 0; layer < parts.front().keys_.size(); ++layer) {
    std::vector<torch::Tensor> keys, values;
    for (const KVCache& part : parts) {
      keys.push_back(part.keys_[layer]);
      values.push_back(part.values_[layer]);
    }
    out.keys_.push_back(torch::cat(keys));
    out.values_.push_back(torch::cat(values));
  }
  return out;
}

}  // namespace duet::fusion
