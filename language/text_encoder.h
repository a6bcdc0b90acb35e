// The bidirectional text encoder: a small pre-norm transformer from token ids to contextual
// embeddings, the prefix that conditions text->image generation. Read it top-down like nanoGPT.
//
// Shapes: B batch, T sequence length (<= max_len), D d_model, H n_heads, F d_ff.
// Checkpoint parameter names (stable; they are the safetensors keys, prefix added by the caller):
//   token_embedding.weight [V, D]            position_embedding.weight [max_len, D]
//   layers.{i}.norm1.{weight,bias} [D]       layers.{i}.attention.qkv.{weight [3D, D], bias [3D]}
//   layers.{i}.attention.proj.{weight [D, D], bias [D]}
//   layers.{i}.norm2.{weight,bias} [D]       layers.{i}.mlp.fc1.{weight [F, D], bias [F]}
//   layers.{i}.mlp.fc2.{weight [D, F], bias [D]}
//   final_norm.{weight,bias} [D]
#pragma once

#include <torch/torch.h>

#include "common/status.h"
#include "language/text_encoder_config.h"

namespace duet::language {

// Multi-head self-attention over all real positions (bidirectional); padded keys are masked.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const TextEncoderConfig& config);
  // x [B, T, D], key_mask [B, 1, 1, T] bool (true = real key) -> [B, T, D]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask);

 private:
  int n_heads_;
  torch::nn::Linear qkv_{nullptr};   // D -> 3D, with bias; output is [q | k | v]
  torch::nn::Linear proj_{nullptr};  // D -> D, with bias
};
TORCH_MODULE(SelfAttention);

// Position-wise feed-forward: Linear -> GELU (exact, erf) -> Linear.
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const TextEncoderConfig& config);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, D] -> [B, T, D]

 private:
  torch::nn::Linear fc1_{nullptr};  // D -> F
  torch::nn::Linear fc2_{nullptr};  // F -> D
};
TORCH_MODULE(Mlp);

// Pre-norm block: x + Attn(LN1(x)), then + MLP(LN2(x)).
class EncoderLayerImpl : public torch::nn::Module {
 public:
  explicit EncoderLayerImpl(const TextEncoderConfig& config);
  // x [B, T, D], key_mask [B, 1, 1, T] -> [B, T, D]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask);

 private:
  torch::nn::LayerNorm norm1_{nullptr};
  SelfAttention attention_{nullptr};
  torch::nn::LayerNorm norm2_{nullptr};
  Mlp mlp_{nullptr};
};
TORCH_MODULE(EncoderLayer);

// The whole encoder. Construct only from a config that passed Validate() (MakeTextEncoder does
// both). Initialization: embeddings and Linear weights ~ N(0, 0.02), biases 0, LayerNorm (1, 0).
// Thread safety: forward only reads parameters, so concurrent forward calls under
// torch::NoGradGuard are safe; loading weights must not overlap with them.
class TextEncoderImpl : public torch::nn::Module {
 public:
  explicit TextEncoderImpl(const TextEncoderConfig& config);

  // ids [B, T] int64 in [0, V), lengths [B] int64 in [1, T], T <= max_len -> [B, T, D] float32.
  // Position t of row b is real when t < lengths[b]; ids at other positions must still be valid
  // ids, but their values change nothing, and their output rows are zero.
  // Throws c10::Error on bad input: use EncodeText for a Status instead.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& lengths);

  const TextEncoderConfig& config() const { return config_; }

 private:
  TextEncoderConfig config_;
  torch::nn::Embedding token_embedding_{nullptr};
  torch::nn::Embedding position_embedding_{nullptr};
  torch::nn::ModuleList layers_{nullptr};  // EncoderLayer x n_layers, named layers.0 ...
  torch::nn::LayerNorm final_norm_{nullptr};
};
TORCH_MODULE(TextEncoder);

// Validates `config` and builds a freshly initialized encoder (CPU, float32).
StatusOr<TextEncoder> MakeTextEncoder(const TextEncoderConfig& config);

// InvalidArgument, naming the tensor and the limit, unless ids is [B, T] int64 with B >= 1,
// 1 <= T <= max_len and every id in [0, vocab_size), and lengths is [B] int64 in [1, T], on the
// same device. The first bad element is named: "ids[0][3] must be in [0, 511], got 600".
Status CheckEncoderInputs(const TextEncoderConfig& config, const torch::Tensor& ids,
                          const torch::Tensor& lengths);

// CheckEncoderInputs, then forward without autograd; torch errors become Internal.
// Thread-safe as forward is (see TextEncoderImpl).
StatusOr<torch::Tensor> EncodeText(TextEncoder& encoder, const torch::Tensor& ids,
                                   const torch::Tensor& lengths);

}  // namespace duet::language
