// The decoding engine: continuous batching for one task. Every live sequence of every request
// decodes in one forward per step, each row at its own position in a slot KV cache
// (SlotKVCache); sampling settings and guidance are per sequence. New sequences wait for a
// prefill chunk (at most `chunk_tokens` positions per step), sample their first token there, and
// decode from the next step on; finished and dropped sequences free their rows at once.
//
// A sequence's tokens depend only on its own inputs, settings and seed, never on what else is in
// the batch or when it joined (tests/fusion/engine_test.cc). Used by fusion::GenerateImageCodes
// and GenerateText (the CLI, `duet eval`) and by the transformer server's scheduler.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "fusion/kv_cache.h"
#include "fusion/sampler.h"
#include "fusion/transformer.h"

namespace duet::fusion {

struct Sequence {
  // text->image: the prompt's encoder output [L, text_dim], 1 <= L <= text_prefix_len (rows of
  // one request may share one tensor). image->text: the image codes [N] int64.
  torch::Tensor prefix;
  SamplingParams sampling;  // guidance_scale != 1 adds a null-prefix twin (text->image only)
  uint64_t seed = 0;        // of its DraftRng
  int64_t max_tokens = 0;   // image: N; text: the caption limit (EOS ends it earlier)
  int64_t owner = 0;        // the caller's ids, handed back with every result
  int64_t index = 0;
};

struct Finished {
  int64_t owner = 0, index = 0;
  std::vector<int64_t> tokens;  // image: N codes; text: the caption without EOS
};

// Not thread-safe: one thread steps it.
class Engine {
 public:
  Engine(MultimodalTransformer model, Task task, int64_t chunk_tokens = 2048);

  // Queues sequences (validated by the caller); they are prefilled in arrival order.
  void Add(std::vector<Sequence> sequences);
  // One step: a prefill chunk of waiting sequences, if any, then one forward for every sequence
  // that was already decoding. Returns the sequences that finished in it.
  std::vector<Finished> Step();
  // Removes every waiting or live sequence of `owner` for which drop(owner) is true; their rows
  // leave before the next forward. Returns how many sequences went.
  int64_t Drop(const std::function<bool(int64_t owner)>& drop);

  bool empty() const { return waiting_.empty() && live_.empty(); }
  // Cache rows that will decode at the next step (a guided sequence has two).
  int64_t rows() const { return cache_.rows(); }
  // Rows the next Step() computes: its prefill chunk plus rows().
  int64_t step_rows() const;
  int64_t waiting() const { return static_cast<int64_t>(waiting_.size()); }
  // Tokens produced so far by the least advanced sequence of `owner` (0 while one waits).
  int64_t Produced(int64_t owner) const;
  int64_t tokens_sampled() const { return tokens_sampled_; }
  Task task() const { return task_; }

 private:
  struct Live {
    Sequence sequence;
    DraftRng rng;
    std::vector<int64_t> tokens;
    int64_t cond = -1, uncond = -1;  // cache rows; uncond -1 without guidance
  };
  bool Guided(const Sequence& s) const;
  int64_t PrefillPositions(const Sequence& s) const;
  // How many waiting sequences the next chunk takes (at least one).
  size_t ChunkSize() const;
  void Prefill(std::vector<Finished>* finished);
  void Decode(std::vector<Finished>* finished);
  // Samples one token per sequence of `live` from their rows of `logits` [rows, V] (indexed by
  // cond / uncond row, minus `row_offset`).
  std::vector<int64_t> Sample(const torch::Tensor& logits, const std::vector<Live*>& live,
                              int64_t row_offset);
  // Appends the token; true when the sequence is complete.
  bool Accept(Live& live, int64_t token);
  // Removes live_[i] for every marked i, compacting the cache.
  void RemoveLive(const std::vector<bool>& remove);

  MultimodalTransformer model_;
  const Task task_;
  const int64_t chunk_tokens_;
  std::deque<Sequence> waiting_;
  std::vector<Live> live_;  // decoding; live_[i]'s rows in cache_
  std::vector<int64_t> row_owner_;  // cache row -> index in live_
  std::vector<int32_t> valid_;      // cache row -> real prefix length
  SlotKVCache cache_;
  int64_t tokens_sampled_ = 0;
};

}  // namespace duet::fusion
