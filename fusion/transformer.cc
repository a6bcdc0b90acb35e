// Implementation of fusion/transformer.h, in the order of the diagram: attention, MLP, block, model.
#include "fusion/transformer.h"

#include <algorithm>

#include "common/mixed_precision.h"
#include "fusion/attention.h"

namespace duet::fusion {

SelfAttentionImpl::SelfAttentionImpl(const TransformerConfig& config, int layer)
    : layer_(layer),
      n_heads_(config.n_heads),
      window_(config.IsGlobalLayer(layer) ? 0 : config.window),
      global_prefix_(config.global_prefix) {
  qkv = register_module("qkv", torch::nn::Linear(config.d_model, 3 * config.d_model));
  proj = register_module("proj", torch::nn::Linear(config.d_model, config.d_model));
}

kernels::AttentionMask SelfAttentionImpl::Mask(const PrefixLayout& layout) const {
  return kernels::AttentionMask{layout.prefix_len, window_, global_prefix_};
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, int64_t start,
                                         const PrefixLayout& layout, KVCache* cache) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto heads = [&](const torch::Tensor& t) {  // [B, T, C] -> [B, H, T, Dh]
    return t.view({B, T, n_heads_, C / n_heads_}).transpose(1, 2);
  };
  const auto parts = Linear(qkv, x).chunk(3, /*dim=*/-1);  // compute dtype
  const torch::Tensor q = heads(parts[0]), k = heads(parts[1]), v = heads(parts[2]);
  const kernels::AttentionMask mask = Mask(layout);
  torch::Tensor y;
  if (layout.skipped > 0) {  // A trimmed training prefix: the kernels know only full layouts.
    TORCH_CHECK(cache == nullptr && start == 0, "a trimmed prefix cannot use a KV cache");
    y = AttendTorch(q, k, v, T, 0, layout.valid, mask, layout.skipped);
  } else if (cache != nullptr) {
    cache->Write(layer_, k, v);
    y = Attend(q, cache->keys(layer_), cache->values(layer_), start + T, start, layout.valid, mask);
  } else {
    y = Attend(q, k, v, T, 0, layout.valid, mask);
  }
  return Linear(proj, y.transpose(1, 2).reshape({B, T, C}));  // [B, T, C]
}

torch::Tensor SelfAttentionImpl::DecodeRows(const torch::Tensor& x, const PrefixLayout& layout,
                                            SlotKVCache& cache) {
  const int64_t B = x.size(0), C = x.size(2);
  auto heads = [&](const torch::Tensor& t) {  // [B, 1, C] -> [B, H, 1, Dh]
    return t.view({B, 1, n_heads_, C / n_heads_}).transpose(1, 2);
  };
  const auto parts = Linear(qkv, x).chunk(3, /*dim=*/-1);
  const torch::Tensor q = heads(parts[0]), k = heads(parts[1]), v = heads(parts[2]);
  cache.Write(layer_, k, v);
  const std::vector<int32_t>& lengths = cache.lengths();
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end()) + 1;
  const torch::Tensor y = Attend(q, cache.keys(layer_), cache.values(layer_), longest, 0,
                                 layout.valid, Mask(layout),
                                 cache.kv_lens());
  return Linear(proj, y.transpose(1, 2).reshape({B, 1, C}));
}

MlpImpl::MlpImpl(int d_model, int d_ff) {
  fc1 = register_module("fc1", torch::nn::Linear(d_model, d_ff));
  fc2 = register_module("fc2", torch::nn::Linear(d_ff, d_model));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return Linear(fc2, torch::gelu(Linear(fc1, x)));  // [B, T, C]
}

BlockImpl::BlockImpl(const TransformerConfig& config, int layer) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.d_model})));
  attention = register_module("attention", SelfAttention(config, layer));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.d_model})));
  mlp = register_module("mlp", Mlp(config.d_model, config.d_ff));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, int64_t start, const PrefixLayout& layout,
                                 KVCache* cache) {
  // The residual stream stays float32; the branches compute in the matmul dtype.
  torch::Tensor h = x + attention(Norm32(norm1, x), start, layout, cache);
  return h + mlp(Norm32(norm2, h));  // [B, T, C] float32
}

torch::Tensor BlockImpl::DecodeRows(const torch::Tensor& x, const PrefixLayout& layout,
                                    SlotKVCache& cache) {
  torch::Tensor h = x + attention->DecodeRows(Norm32(norm1, x), layout, cache);
  return h + mlp(Norm32(norm2, h));
}

MultimodalTransformerImpl::MultimodalTransformerImpl(const TransformerConfig& config)
    : config_(config) {
  const int C = config.d_model;
  text_proj = register_module("text_proj", torch::nn::Linear(config.text_dim, C));
  null_prefix = register_parameter("null_prefix", torch::zeros({1, C}));
  image_embed = register_module("image_embed",
                                torch::nn::Embedding(config.image_codebook + 1, C));  // +1: start
  text_embed = register_module("text_embed", torch::nn::Embedding(config.text_vocab, C));
  position_embed =
      register_module("position_embed", torch::nn::Embedding(config.max_positions(), C));
  row_embed = register_module("row_embed", torch::nn::Embedding(config.image_grid, C));
  col_embed = register_module("col_embed", torch::nn::Embedding(config.image_grid, C));
  task_embed = register_module("task_embed", torch::nn::Embedding(2, C));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < config.n_layers; ++i) layers->push_back(Block(config, i));
  final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({C})));
  image_head = register_module("image_head", torch::nn::Linear(C, config.image_codebook));
  text_head = register_module("text_head", torch::nn::Linear(C, config.text_vocab));
  InitWeights(*this);
}

torch::Tensor MultimodalTransformerImpl::CellEmbedding(const torch::Tensor& cells) {
  return row_embed(torch::div(cells, config_.image_grid, "floor")) +
         col_embed(torch::remainder(cells, config_.image_grid));
}

std::pair<torch::Tensor, PrefixLayout> MultimodalTransformerImpl::EmbedTextPrefix(
    const torch::Tensor& text, const torch::Tensor& lengths, const torch::Tensor& drop) {
  const int64_t full = config_.text_prefix_len;
  const int64_t P = text.dim() == 3 ? text.size(1) : 0;  // < full: trimmed padding (training)
  TORCH_CHECK(text.dim() == 3 && P >= 1 && P <= full && text.size(2) == config_.text_dim,
              "text prefix must be [B, P <= ", full, ", ", config_.text_dim, "], got ",
              text.sizes());
  const torch::Tensor keep = drop.logical_not().to(text.dtype()).view({-1, 1, 1});
  const torch::Tensor null_rows = torch::cat(  // The null prefix at position 0, zeros after.
      {null_prefix.view({1, 1, -1}), torch::zeros({1, P - 1, config_.d_model}, text.options())}, 1);
  torch::Tensor x = keep * Linear(text_proj, text) + (1 - keep) * null_rows;  // [B, P, C] fp32
  const torch::Tensor valid = torch::where(drop, torch::ones_like(lengths), lengths);
  TORCH_CHECK(P == full || (lengths <= P).all().item<bool>(), "a trimmed prefix cut a prompt");
  return {x, PrefixLayout{P, valid.to(torch::kInt32), full - P}};
}

std::pair<torch::Tensor, PrefixLayout> MultimodalTransformerImpl::EmbedImagePrefix(
    const torch::Tensor& codes) {
  const int64_t B = codes.size(0), N = config_.image_tokens();
  TORCH_CHECK(codes.dim() == 2 && codes.size(1) == N, "image codes must be [B, ", N, "]");
  const torch::Tensor cells = torch::arange(N, codes.options());
  const torch::Tensor x = image_embed(codes) + CellEmbedding(cells);  // [B, N, C]
  return {x, PrefixLayout{N, torch::full({B}, N, codes.options().dtype(torch::kInt32))}};
}

torch::Tensor MultimodalTransformerImpl::EmbedImageTargets(const torch::Tensor& inputs,
                                                           int64_t first) {
  const torch::Tensor cells = torch::arange(first, first + inputs.size(1), inputs.options());
  return image_embed(inputs) + CellEmbedding(cells);  // [B, t, C]
}

torch::Tensor MultimodalTransformerImpl::EmbedImageTargets(const torch::Tensor& inputs,
                                                           const torch::Tensor& cells) {
  return image_embed(inputs) + CellEmbedding(cells);  // [B, t, C]
}

torch::Tensor MultimodalTransformerImpl::EmbedTextTargets(const torch::Tensor& inputs) {
  return text_embed(inputs);  // [B, t, C]
}

torch::Tensor MultimodalTransformerImpl::forward(const torch::Tensor& x, Task task, int64_t start,
                                                 const PrefixLayout& layout, KVCache* cache) {
  const int64_t T = x.size(1);
  TORCH_CHECK(start + T <= config_.max_positions(), "sequence of ", start + T,
              " positions exceeds max_positions ", config_.max_positions());
  TORCH_CHECK(cache == nullptr || cache->length() == start, "cache holds ", cache->length(),
              " positions, forward starts at ", start);
  const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  torch::Tensor positions = torch::arange(start, start + T, opts);
  if (layout.skipped > 0) {  // Targets keep the positions of the untrimmed prefix.
    TORCH_CHECK(cache == nullptr && start == 0, "a trimmed prefix cannot use a KV cache");
    positions = positions + (positions >= layout.prefix_len).to(torch::kInt64) * layout.skipped;
  }
  torch::Tensor h = x + position_embed(positions) +
                    task_embed->weight[static_cast<int>(task)];  // [B, T, C]
  for (const auto& layer : *layers) h = layer->as<Block>()->forward(h, start, layout, cache);
  if (cache != nullptr) cache->Advance(T);
  return Norm32(final_norm, h);  // [B, T, C] float32
}

torch::Tensor MultimodalTransformerImpl::DecodeRows(const torch::Tensor& x, Task task,
                                                    const PrefixLayout& layout,
                                                    SlotKVCache& cache) {
  TORCH_CHECK(x.dim() == 3 && x.size(0) == cache.rows() && x.size(1) == 1,
              "DecodeRows takes [rows, 1, C] for the cache's ", cache.rows(), " rows, got ",
              x.sizes());
  const torch::Tensor positions = cache.positions().view({-1, 1});
  torch::Tensor h = x + position_embed(positions) +
                    task_embed->weight[static_cast<int>(task)];  // [rows, 1, C]
  for (const auto& layer : *layers) h = layer->as<Block>()->DecodeRows(h, layout, cache);
  cache.Advance();
  return Norm32(final_norm, h);
}

torch::Tensor MultimodalTransformerImpl::TextToImageLogits(const torch::Tensor& text,
                                                           const torch::Tensor& lengths,
                                                           const torch::Tensor& codes,
                                                           const torch::Tensor& drop) {
  const int64_t N = config_.image_tokens();
  auto [prefix, layout] = EmbedTextPrefix(text, lengths, drop);
  const torch::Tensor start = torch::full({codes.size(0), 1}, config_.image_codebook, codes.options());
  const torch::Tensor inputs = torch::cat({start, codes.narrow(1, 0, N - 1)}, 1);  // [B, N]
  const torch::Tensor x = torch::cat({prefix, EmbedImageTargets(inputs, 0)}, 1);
  const torch::Tensor h = forward(x, Task::kTextToImage, 0, layout);
  return ImageLogits(h.narrow(1, layout.prefix_len, N));  // [B, N, K]
}

torch::Tensor MultimodalTransformerImpl::ImageToTextLogits(const torch::Tensor& codes,
                                                           const torch::Tensor& targets) {
  const int64_t L = targets.size(1);
  auto [prefix, layout] = EmbedImagePrefix(codes);
  const torch::Tensor bos = torch::full({targets.size(0), 1}, kTextBosId, targets.options());
  const torch::Tensor inputs = torch::cat({bos, targets.narrow(1, 0, L - 1)}, 1);  // [B, L]
  const torch::Tensor x = torch::cat({prefix, EmbedTextTargets(inputs)}, 1);
  const torch::Tensor h = forward(x, Task::kImageToText, 0, layout);
  return TextLogits(h.narrow(1, layout.prefix_len, L));  // [B, L, V]
}

KVCache MultimodalTransformerImpl::NewCache(Task task, int64_t batch) const {
  const int64_t capacity = task == Task::kTextToImage
                               ? config_.text_prefix_len + config_.image_tokens()
                               : config_.image_tokens() + config_.max_caption_len;
  const torch::ScalarType dtype = ComputeDtype();  // keys and values come out of qkv in it
  return KVCache(config_.n_layers, batch, config_.n_heads, capacity, config_.head_dim(),
                 torch::TensorOptions().dtype(dtype).device(null_prefix.device()));
}

SlotKVCache MultimodalTransformerImpl::NewSlotCache(Task task) const {
  const KVCache shape = NewCache(task, 0);
  return SlotKVCache(config_.n_layers, config_.n_heads, shape.capacity(), config_.head_dim(),
                     torch::TensorOptions().dtype(ComputeDtype()).device(null_prefix.device()));
}

torch::Tensor MultimodalTransformerImpl::ImageLogits(const torch::Tensor& hidden) {
  return Linear(image_head, hidden).to(torch::kFloat32);
}

torch::Tensor MultimodalTransformerImpl::TextLogits(const torch::Tensor& hidden) {
  return Linear(text_head, hidden).to(torch::kFloat32);
}

torch::ScalarType MultimodalTransformerImpl::ComputeDtype() const {
  return duet::ComputeDtypeFor(image_head->weight);  // every linear layer shares one dtype
}

void InitWeights(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    const bool is_norm = name.find("norm") != std::string::npos;
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.zero_();
    } else if (is_norm) {
      p.fill_(1.0);
    } else {
      p.normal_(0.0, 0.02);
    }
  }
}

}  // namespace duet::fusion
