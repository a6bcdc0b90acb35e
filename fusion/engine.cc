// Implementation of fusion/engine.h: prefill chunks into a fresh KVCache whose rows then join the
// slot cache, and one DecodeRows forward per step over every live row.
#include "fusion/engine.h"

#include <algorithm>

#include "fusion/step_threads.h"

namespace duet::fusion {
namespace {

torch::Tensor Column(const std::vector<int64_t>& values, const torch::Device& device) {
  return torch::tensor(values, torch::kInt64).view({-1, 1}).to(device);  // [n, 1]
}

}  // namespace

Engine::Engine(MultimodalTransformer model, Task task, int64_t chunk_tokens)
    : model_(std::move(model)),
      task_(task),
      chunk_tokens_(std::max<int64_t>(1, chunk_tokens)),
      cache_(model_->NewSlotCache(task)) {}

bool Engine::Guided(const Sequence& s) const {
  return task_ == Task::kTextToImage && s.sampling.guidance_scale != 1.f;
}

int64_t Engine::PrefillPositions(const Sequence& s) const {
  const TransformerConfig& c = model_->config();
  const int64_t prefix = task_ == Task::kTextToImage ? c.text_prefix_len : c.image_tokens();
  return (prefix + 1) * (Guided(s) ? 2 : 1);
}

void Engine::Add(std::vector<Sequence> sequences) {
  for (Sequence& s : sequences) waiting_.push_back(std::move(s));
}

size_t Engine::ChunkSize() const {
  size_t n = 0;
  int64_t positions = 0;
  while (n < waiting_.size()) {
    positions += PrefillPositions(waiting_[n]);
    if (n > 0 && positions > chunk_tokens_) break;
    ++n;
  }
  return n;
}

int64_t Engine::step_rows() const {
  int64_t rows = cache_.rows();
  const size_t n = ChunkSize();
  for (size_t i = 0; i < n; ++i) rows += Guided(waiting_[i]) ? 2 : 1;
  return rows;
}

int64_t Engine::Produced(int64_t owner) const {
  for (const Sequence& s : waiting_) {
    if (s.owner == owner) return 0;
  }
  int64_t least = -1;
  for (const Live& l : live_) {
    if (l.sequence.owner != owner) continue;
    const auto n = static_cast<int64_t>(l.tokens.size());
    least = least < 0 ? n : std::min(least, n);
  }
  return std::max<int64_t>(least, 0);
}

std::vector<Finished> Engine::Step() {
  // Inference only: with autograd on, attention would take the differentiable torch path, whose
  // numbers differ from the kernels' in the last bits.
  c10::InferenceMode inference;
  std::vector<Finished> finished;
  Decode(&finished);   // the rows that were already decoding
  Prefill(&finished);  // then new rows, which decode from the next step on
  return finished;
}

std::vector<int64_t> Engine::Sample(const torch::Tensor& logits, const std::vector<Live*>& live,
                                    int64_t row_offset) {
  std::vector<int64_t> cond, uncond;
  std::vector<float> scale;
  std::vector<SamplingParams> params;
  std::vector<DraftRng*> rngs;
  for (Live* l : live) {
    cond.push_back(l->cond - row_offset);
    uncond.push_back((l->uncond >= 0 ? l->uncond : l->cond) - row_offset);
    scale.push_back(l->uncond >= 0 ? l->sequence.sampling.guidance_scale : 1.f);
    params.push_back(l->sequence.sampling);
    rngs.push_back(&l->rng);
  }
  const torch::Device device = logits.device();
  const torch::Tensor c = logits.index_select(0, torch::tensor(cond).to(device));
  const torch::Tensor u = logits.index_select(0, torch::tensor(uncond).to(device));
  // uncond + scale * (cond - uncond): exactly cond where there is no guidance (u == c).
  const torch::Tensor s = torch::tensor(scale).to(device).view({-1, 1});
  const torch::Tensor guided = u + s * (c - u);
  tokens_sampled_ += static_cast<int64_t>(live.size());
  return SampleTokens(guided, params, rngs);
}

bool Engine::Accept(Live& live, int64_t token) {
  if (task_ == Task::kImageToText && token == kTextEosId) return true;
  live.tokens.push_back(token);
  return static_cast<int64_t>(live.tokens.size()) >= live.sequence.max_tokens;
}

void Engine::Prefill(std::vector<Finished>* finished) {
  const size_t n = ChunkSize();
  if (n == 0) return;
  std::vector<Sequence> chunk(std::make_move_iterator(waiting_.begin()),
                              std::make_move_iterator(waiting_.begin() + n));
  waiting_.erase(waiting_.begin(), waiting_.begin() + n);
  const TransformerConfig& c = model_->config();
  const torch::Device device = model_->null_prefix.device();
  const auto ids = torch::TensorOptions(torch::kInt64).device(device);
  // Rows: every sequence's conditioned row, then the null-prefix twins of the guided ones.
  std::vector<size_t> twins;
  for (size_t i = 0; i < n; ++i) {
    if (Guided(chunk[i])) twins.push_back(i);
  }
  const int64_t rows = static_cast<int64_t>(n + twins.size());
  const StepThreads threads(rows);
  torch::Tensor h;
  PrefixLayout layout;
  KVCache cache = model_->NewCache(task_, rows);
  if (task_ == Task::kTextToImage) {
    torch::Tensor text = torch::zeros({rows, c.text_prefix_len, c.text_dim});
    torch::Tensor lengths = torch::empty({rows}, torch::kInt64);
    torch::Tensor drop = torch::zeros({rows}, torch::kBool);
    for (int64_t r = 0; r < rows; ++r) {
      const bool twin = r >= static_cast<int64_t>(n);
      const Sequence& s = chunk[twin ? twins[r - n] : r];
      const int64_t L = s.prefix.size(0);
      text[r].narrow(0, 0, L).copy_(s.prefix);
      lengths[r] = L;
      drop[r] = twin;
    }
    torch::Tensor prefix;
    std::tie(prefix, layout) =
        model_->EmbedTextPrefix(text.to(device), lengths.to(device), drop.to(device));
    const torch::Tensor start = torch::full({rows, 1}, c.image_codebook, ids);
    const torch::Tensor x = torch::cat({prefix, model_->EmbedImageTargets(start, 0)}, 1);
    h = model_->forward(x, task_, 0, layout, &cache);
  } else {
    std::vector<torch::Tensor> codes;
    for (const Sequence& s : chunk) codes.push_back(s.prefix.view({1, -1}));
    torch::Tensor prefix;
    std::tie(prefix, layout) = model_->EmbedImagePrefix(torch::cat(codes).to(device));
    const torch::Tensor bos = torch::full({rows, 1}, kTextBosId, ids);
    h = model_->forward(torch::cat({prefix, model_->EmbedTextTargets(bos)}, 1), task_, 0, layout,
                        &cache);
  }
  const torch::Tensor last = h.select(1, -1);
  const torch::Tensor logits =
      task_ == Task::kTextToImage ? model_->ImageLogits(last) : model_->TextLogits(last);

  const int64_t first = cache_.Append(cache);
  const torch::Tensor valid = layout.valid.to(torch::kCPU, torch::kInt32).contiguous();
  valid_.insert(valid_.end(), valid.data_ptr<int32_t>(), valid.data_ptr<int32_t>() + rows);
  const size_t base = live_.size();
  for (size_t i = 0; i < n; ++i) {
    Live l{std::move(chunk[i]), DraftRng(0), {}, first + static_cast<int64_t>(i), -1};
    l.rng = DraftRng(l.sequence.seed);
    live_.push_back(std::move(l));
    row_owner_.push_back(static_cast<int64_t>(base + i));
  }
  for (size_t t = 0; t < twins.size(); ++t) {
    live_[base + twins[t]].uncond = first + static_cast<int64_t>(n + t);
    row_owner_.push_back(static_cast<int64_t>(base + twins[t]));
  }
  std::vector<Live*> joined;
  for (size_t i = base; i < live_.size(); ++i) joined.push_back(&live_[i]);
  const std::vector<int64_t> tokens = Sample(logits, joined, first);
  std::vector<bool> remove(live_.size(), false);
  for (size_t i = 0; i < joined.size(); ++i) {
    if (Accept(*joined[i], tokens[i])) {
      finished->push_back({joined[i]->sequence.owner, joined[i]->sequence.index,
                           std::move(joined[i]->tokens)});
      remove[base + i] = true;
    }
  }
  RemoveLive(remove);
}

void Engine::Decode(std::vector<Finished>* finished) {
  const int64_t rows = cache_.rows();
  if (rows == 0) return;
  const TransformerConfig& c = model_->config();
  const torch::Device device = model_->null_prefix.device();
  const StepThreads threads(rows);
  std::vector<int64_t> last(rows);
  for (int64_t r = 0; r < rows; ++r) last[r] = live_[row_owner_[r]].tokens.back();
  torch::Tensor x;
  if (task_ == Task::kTextToImage) {  // the code of cell t - 1, embedded at cell t
    std::vector<int64_t> cells(rows);
    for (int64_t r = 0; r < rows; ++r) cells[r] = cache_.lengths()[r] - c.text_prefix_len;
    x = model_->EmbedImageTargets(Column(last, device), Column(cells, device));
  } else {
    x = model_->EmbedTextTargets(Column(last, device));
  }
  const PrefixLayout layout{task_ == Task::kTextToImage ? c.text_prefix_len : c.image_tokens(),
                            torch::tensor(valid_, torch::kInt32).to(device)};
  const torch::Tensor h = model_->DecodeRows(x, task_, layout, cache_);
  const torch::Tensor logits = task_ == Task::kTextToImage ? model_->ImageLogits(h.select(1, 0))
                                                           : model_->TextLogits(h.select(1, 0));
  std::vector<Live*> live;
  for (Live& l : live_) live.push_back(&l);
  const std::vector<int64_t> tokens = Sample(logits, live, 0);
  std::vector<bool> remove(live_.size(), false);
  for (size_t i = 0; i < live_.size(); ++i) {
    if (Accept(live_[i], tokens[i])) {
      finished->push_back({live_[i].sequence.owner, live_[i].sequence.index,
                           std::move(live_[i].tokens)});
      remove[i] = true;
    }
  }
  RemoveLive(remove);
}

int64_t Engine::Drop(const std::function<bool(int64_t owner)>& drop) {
  c10::InferenceMode inference;  // the cache's tensors are inference tensors
  const size_t before = waiting_.size() + live_.size();
  waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(),
                                [&](const Sequence& s) { return drop(s.owner); }),
                 waiting_.end());
  std::vector<bool> remove(live_.size());
  for (size_t i = 0; i < live_.size(); ++i) remove[i] = drop(live_[i].sequence.owner);
  RemoveLive(remove);
  return static_cast<int64_t>(before - waiting_.size() - live_.size());
}

void Engine::RemoveLive(const std::vector<bool>& remove) {
  std::vector<int64_t> freed;
  for (size_t i = 0; i < live_.size(); ++i) {
    if (!remove[i]) continue;
    freed.push_back(live_[i].cond);
    if (live_[i].uncond >= 0) freed.push_back(live_[i].uncond);
  }
  if (freed.empty()) return;
  // Highest first: the last row is then never a freed one, and moves into the hole.
  std::sort(freed.rbegin(), freed.rend());
  for (const int64_t hole : freed) {
    const int64_t tail = cache_.rows() - 1;
    if (hole != tail) {
      cache_.MoveRow(tail, hole);
      valid_[hole] = valid_[tail];
      Live& moved = live_[row_owner_[tail]];
      (moved.cond == tail ? moved.cond : moved.uncond) = hole;
      row_owner_[hole] = row_owner_[tail];
    }
    cache_.Truncate(tail);
    valid_.pop_back();
    row_owner_.pop_back();
  }
  std::vector<Live> kept;
  for (size_t i = 0; i < live_.size(); ++i) {
    if (!remove[i]) kept.push_back(std::move(live_[i]));
  }
  live_ = std::move(kept);
  for (size_t i = 0; i < live_.size(); ++i) {
    row_owner_[live_[i].cond] = static_cast<int64_t>(i);
    if (live_[i].uncond >= 0) row_owner_[live_[i].uncond] = static_cast<int64_t>(i);
  }
}

}  // namespace duet::fusion
