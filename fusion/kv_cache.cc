// Implementation of fusion/kv_cache.h.
#include "fusion/kv_cache.h"

#include <algorithm>

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

SlotKVCache::SlotKVCache(int n_layers, int64_t heads, int64_t capacity, int64_t head_dim,
                         torch::TensorOptions options)
    : keys_(n_layers), values_(n_layers), heads_(heads), capacity_(capacity),
      head_dim_(head_dim), options_(options) {}

void SlotKVCache::Reserve(int64_t rows) {
  const int64_t have = keys_.front().defined() ? keys_.front().size(0) : 0;
  if (rows <= have) return;
  const int64_t grown = std::max<int64_t>({rows, 2 * have, 8});
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    for (torch::Tensor* t : {&keys_[layer], &values_[layer]}) {
      torch::Tensor bigger = torch::empty({grown, heads_, capacity_, head_dim_}, options_);
      if (this->rows() > 0) bigger.narrow(0, 0, this->rows()).copy_(t->narrow(0, 0, this->rows()));
      *t = bigger;
    }
  }
}

int64_t SlotKVCache::Append(const KVCache& part) {
  TORCH_CHECK(part.capacity() == capacity_, "SlotKVCache::Append: capacity ", part.capacity(),
              " != ", capacity_);
  const int64_t first = rows(), n = part.batch();
  Reserve(first + n);
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    keys_[layer].narrow(0, first, n).copy_(part.keys(static_cast<int>(layer)));
    values_[layer].narrow(0, first, n).copy_(part.values(static_cast<int>(layer)));
  }
  lengths_.insert(lengths_.end(), n, static_cast<int32_t>(part.length()));
  Changed();
  return first;
}

void SlotKVCache::MoveRow(int64_t from, int64_t to) {
  if (from == to) return;
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    keys_[layer][to].copy_(keys_[layer][from]);
    values_[layer][to].copy_(values_[layer][from]);
  }
  lengths_[to] = lengths_[from];
  Changed();
}

void SlotKVCache::Truncate(int64_t rows) {
  lengths_.resize(rows);
  Changed();
}

const torch::Tensor& SlotKVCache::positions() const {
  if (!positions_.defined()) {
    positions_ = torch::tensor(std::vector<int64_t>(lengths_.begin(), lengths_.end()),
                               torch::kInt64).to(options_.device());
  }
  return positions_;
}

const torch::Tensor& SlotKVCache::kv_lens() const {
  if (!kv_lens_.defined()) {
    kv_lens_ = (torch::tensor(lengths_, torch::kInt32) + 1).to(options_.device());
  }
  return kv_lens_;
}

void SlotKVCache::Write(int layer, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t n = rows();
  TORCH_CHECK(k.size(0) == n && k.size(2) == 1, "SlotKVCache::Write takes one position per row");
  for (const int32_t length : lengths_) {
    TORCH_CHECK(length < capacity_, "KV cache full: a row holds ", length, " of ", capacity_);
  }
  if (!rows_.defined() || rows_.size(0) != n) {
    rows_ = torch::arange(n, torch::TensorOptions(torch::kInt64).device(k.device()));
  }
  using torch::indexing::Slice;
  keys_[layer].index_put_({rows_, Slice(), positions()}, k.squeeze(2));
  values_[layer].index_put_({rows_, Slice(), positions()}, v.squeeze(2));
}

void SlotKVCache::Advance() {
  for (int32_t& length : lengths_) ++length;
  Changed();
}

}  // namespace duet::fusion
