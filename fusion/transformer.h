// The multimodal transformer: one decoder stack shared by text->image and image->text.
// A sequence is a prefix (the condition, bidirectional) then a target (causal), see ARCHITECTURE.md.
//
// Layouts (P = text_prefix_len, N = image_grid^2, L = max_caption_len):
//   text->image: [text prefix, P positions][start, c_0 .. c_{N-2}]   predicts c_0 .. c_{N-1}
//   image->text: [image codes, N positions][BOS, y_0 .. y_{L-2}]    predicts y_0 .. y_{L-1}
// Shapes are [B, T, C] for activations and [B, H, T, Dh] inside attention. Precision: the
// residual stream, norms and logits are float32; linear layers and attention run in ComputeDtype().
#pragma once

#include <torch/torch.h>

#include "fusion/kv_cache.h"
#include "fusion/transformer_config.h"
#include "kernels/attention.h"

namespace duet::fusion {

// Where a batch of sequences stands: its prefix length and each row's real prefix length.
struct PrefixLayout {
  int64_t prefix_len = 0;     // P of this layout (padded)
  torch::Tensor valid;        // [B] int32: real prefix positions per row
  // Positions cut from the end of the prefix, all padding: training trims a text prefix to its
  // batch's longest prompt, and the targets keep the positions they have with the full P. The
  // result is the same as with the full padding. Only without a KV cache.
  int64_t skipped = 0;
};

class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(const TransformerConfig& config, int layer);
  // x: [B, T, C] at positions [start, start + T); with a cache, keys/values are appended to it.
  torch::Tensor forward(const torch::Tensor& x, int64_t start, const PrefixLayout& layout,
                        KVCache* cache);
  // One position per row, each row at its own length in `cache` (continuous batching):
  // x [rows, 1, C]; keys and values are written at each row's length.
  torch::Tensor DecodeRows(const torch::Tensor& x, const PrefixLayout& layout,
                           SlotKVCache& cache);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  kernels::AttentionMask Mask(const PrefixLayout& layout) const;

  int layer_, n_heads_;
  int64_t window_;       // 0 for a global layer
  bool global_prefix_;   // the window limits target keys only
};
TORCH_MODULE(SelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int d_model, int d_ff);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, C] -> [B, T, C]

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const TransformerConfig& config, int layer);
  torch::Tensor forward(const torch::Tensor& x, int64_t start, const PrefixLayout& layout,
                        KVCache* cache);
  torch::Tensor DecodeRows(const torch::Tensor& x, const PrefixLayout& layout,
                           SlotKVCache& cache);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attention{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

class MultimodalTransformerImpl : public torch::nn::Module {
 public:
  explicit MultimodalTransformerImpl(const TransformerConfig& config);
  const TransformerConfig& config() const { return config_; }

  // Prefix embeddings. Text: [B, P, text_dim] encoder output + lengths [B]; rows with drop[b]
  // become the learned null prefix (one valid position). Returns [B, P, C] and the layout.
  std::pair<torch::Tensor, PrefixLayout> EmbedTextPrefix(const torch::Tensor& text,
                                                         const torch::Tensor& lengths,
                                                         const torch::Tensor& drop);
  // Image codes [B, N] -> [B, N, C] (code + row + column embeddings); all positions valid.
  std::pair<torch::Tensor, PrefixLayout> EmbedImagePrefix(const torch::Tensor& codes);
  // Target inputs for cells first .. first + t - 1: previous codes [B, t] (K means "start").
  torch::Tensor EmbedImageTargets(const torch::Tensor& inputs, int64_t first);  // [B, t, C]
  // The same with each input's cell given: inputs and cells [B, t] -> [B, t, C].
  torch::Tensor EmbedImageTargets(const torch::Tensor& inputs, const torch::Tensor& cells);
  // Target inputs: previous caption tokens [B, t] (BOS at the first step).
  torch::Tensor EmbedTextTargets(const torch::Tensor& inputs);  // [B, t, C]

  // Runs the stack on embeddings x [B, T, C] at positions [start, start + T); adds position and
  // task embeddings. With a cache, it must hold exactly `start` positions. -> [B, T, C] normed.
  torch::Tensor forward(const torch::Tensor& x, Task task, int64_t start,
                        const PrefixLayout& layout, KVCache* cache = nullptr);

  // One decoding step of rows at different positions: x [rows, 1, C] is the input of row r at
  // position cache.lengths()[r]; layout.valid [rows] their prefix lengths. Each row's result is
  // the one forward() gives it alone at that position. Advances the cache. -> [rows, 1, C].
  torch::Tensor DecodeRows(const torch::Tensor& x, Task task, const PrefixLayout& layout,
                           SlotKVCache& cache);

  // Head logits, always float32 (the product itself runs in the compute dtype).
  torch::Tensor ImageLogits(const torch::Tensor& hidden);  // [.., C] -> [.., K]
  torch::Tensor TextLogits(const torch::Tensor& hidden);   // [.., C] -> [.., V]

  // The dtype the matrix products run in (common/mixed_precision.h): the linear weights' dtype
  // after ConvertForInference, else the thread's compute dtype. KV caches are kept in it.
  torch::ScalarType ComputeDtype() const;

  // Teacher-forced logits for training, scoring and tests.
  // text [B, P, text_dim], lengths [B], codes [B, N], drop [B] bool -> [B, N, K]
  torch::Tensor TextToImageLogits(const torch::Tensor& text, const torch::Tensor& lengths,
                                  const torch::Tensor& codes, const torch::Tensor& drop);
  // codes [B, N], targets [B, L] (caption ids ending in EOS, padded) -> [B, L, V]
  torch::Tensor ImageToTextLogits(const torch::Tensor& codes, const torch::Tensor& targets);

  // A KV cache sized for `task` and `batch` rows, on this module's device.
  KVCache NewCache(Task task, int64_t batch) const;
  // An empty slot cache of the same per-row size (fusion/engine.h).
  SlotKVCache NewSlotCache(Task task) const;

  torch::nn::Linear text_proj{nullptr}, image_head{nullptr}, text_head{nullptr};
  torch::nn::Embedding image_embed{nullptr}, text_embed{nullptr}, position_embed{nullptr};
  torch::nn::Embedding row_embed{nullptr}, col_embed{nullptr}, task_embed{nullptr};
  torch::Tensor null_prefix;  // [1, C]
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm final_norm{nullptr};

 private:
  torch::Tensor CellEmbedding(const torch::Tensor& cells);  // cells [..] -> row + col [.., C]
  TransformerConfig config_;
};
TORCH_MODULE(MultimodalTransformer);

// Normal(0, 0.02) weights, zero biases, unit LayerNorm: the initialisation of every Duet module.
void InitWeights(torch::nn::Module& module);

}  // namespace duet::fusion
