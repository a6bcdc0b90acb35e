// Implementation of language/text_encoder.h: the modules in diagram order, then the checked entry
// points. tests/reference/text_encoder_ref.py re-implements the same math independently.
#include "language/text_encoder.h"

#include <cmath>
#include <limits>

#include "common/mixed_precision.h"
#include "common/tensor_io.h"

namespace duet::language {
namespace {

constexpr double kInitStd = 0.02;  // embeddings and Linear weights ~ N(0, kInitStd)
constexpr double kLayerNormEps = 1e-5;

torch::nn::LayerNorm MakeLayerNorm(int d_model) {
  return torch::nn::LayerNorm(
      torch::nn::LayerNormOptions({static_cast<int64_t>(d_model)}).eps(kLayerNormEps));
}

// InvalidArgument "name[i][j] must be in [lo, hi], got v" for the first element out of range.
Status CheckElementsInRange(const char* name, const torch::Tensor& values, int64_t lo, int64_t hi) {
  const torch::Tensor bad = torch::logical_or(values.lt(lo), values.gt(hi)).nonzero();  // [N, dim]
  if (bad.size(0) == 0) return absl::OkStatus();
  const torch::Tensor index = bad[0].cpu();
  std::string where = name;
  torch::Tensor value = values;
  for (int64_t d = 0; d < index.size(0); ++d) {
    const int64_t i = index[d].item<int64_t>();
    absl::StrAppend(&where, "[", i, "]");
    value = value[i];
  }
  return CheckRange<int64_t>(where.c_str(), value.item<int64_t>(), lo, hi);
}

}  // namespace

SelfAttentionImpl::SelfAttentionImpl(const TextEncoderConfig& config)
    : n_heads_(config.n_heads),
      qkv_(register_module("qkv", torch::nn::Linear(config.d_model, 3 * config.d_model))),
      proj_(register_module("proj", torch::nn::Linear(config.d_model, config.d_model))) {}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& key_mask) {
  const int64_t batch = x.size(0), time = x.size(1), width = x.size(2);
  const int64_t head_dim = width / n_heads_;
  // [B, T, 3D] -> [3, B, H, T, Dh]: q, k, v are consecutive D-wide slices, heads inside each.
  const torch::Tensor qkv =
      Linear(qkv_, x).view({batch, time, 3, n_heads_, head_dim}).permute({2, 0, 3, 1, 4});
  const torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];  // [B, H, T, Dh]
  // Products in the compute dtype, softmax in float32 (common/mixed_precision.h).
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat32) /
                         std::sqrt(static_cast<double>(head_dim));
  scores = scores.masked_fill(key_mask.logical_not(),
                              -std::numeric_limits<float>::infinity());  // [B, H, T, T]
  const torch::Tensor y = torch::matmul(torch::softmax(scores, -1).to(v.scalar_type()), v);
  return Linear(proj_, y.transpose(1, 2).reshape({batch, time, width}));  // [B, T, D]
}

MlpImpl::MlpImpl(const TextEncoderConfig& config)
    : fc1_(register_module("fc1", torch::nn::Linear(config.d_model, config.d_ff))),
      fc2_(register_module("fc2", torch::nn::Linear(config.d_ff, config.d_model))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return Linear(fc2_, torch::gelu(Linear(fc1_, x)));  // [B, T, F] inside, exact (erf) GELU
}

EncoderLayerImpl::EncoderLayerImpl(const TextEncoderConfig& config)
    : norm1_(register_module("norm1", MakeLayerNorm(config.d_model))),
      attention_(register_module("attention", SelfAttention(config))),
      norm2_(register_module("norm2", MakeLayerNorm(config.d_model))),
      mlp_(register_module("mlp", Mlp(config))) {}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& key_mask) {
  torch::Tensor h = x + attention_(Norm32(norm1_, x), key_mask);  // [B, T, D] float32
  return h + mlp_(Norm32(norm2_, h));                             // [B, T, D] float32
}

TextEncoderImpl::TextEncoderImpl(const TextEncoderConfig& config)
    : config_(config),
      token_embedding_(register_module("token_embedding",
                                       torch::nn::Embedding(config.vocab_size, config.d_model))),
      position_embedding_(register_module("position_embedding",
                                          torch::nn::Embedding(config.max_len, config.d_model))),
      layers_(register_module("layers", torch::nn::ModuleList())),
      final_norm_(register_module("final_norm", MakeLayerNorm(config.d_model))) {
  for (int i = 0; i < config.n_layers; ++i) layers_->push_back(EncoderLayer(config));
  torch::NoGradGuard no_grad;
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, kInitStd);
      torch::nn::init::zeros_(linear->bias);
    } else if (auto* embedding = module->as<torch::nn::EmbeddingImpl>()) {
      torch::nn::init::normal_(embedding->weight, 0.0, kInitStd);
    }
  }
}

torch::Tensor TextEncoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& lengths) {
  TORCH_CHECK(ids.dim() == 2 && lengths.dim() == 1 && lengths.size(0) == ids.size(0),
              "text encoder expects ids [B, T] and lengths [B]");
  const int64_t batch = ids.size(0), time = ids.size(1);
  const torch::Tensor positions = torch::arange(time, ids.options());        // [T]
  const torch::Tensor real = positions.unsqueeze(0) < lengths.unsqueeze(1);  // [B, T]
  const torch::Tensor key_mask = real.view({batch, 1, 1, time});             // [B, 1, 1, T]
  torch::Tensor x = token_embedding_(ids) + position_embedding_(positions);  // [B, T, D]
  for (const auto& layer : *layers_) x = layer->as<EncoderLayerImpl>()->forward(x, key_mask);
  return Norm32(final_norm_, x).masked_fill(real.logical_not().unsqueeze(-1), 0.0);  // [B, T, D]
}

StatusOr<TextEncoder> MakeTextEncoder(const TextEncoderConfig& config) {
  DUET_RETURN_IF_ERROR(config.Validate());
  TextEncoder encoder{nullptr};
  DUET_RETURN_IF_ERROR(CatchTorch("build text encoder", [&] { encoder = TextEncoder(config); }));
  return encoder;
}

Status CheckEncoderInputs(const TextEncoderConfig& config, const torch::Tensor& ids,
                          const torch::Tensor& lengths) {
  if (!ids.defined() || ids.dim() != 2 || ids.scalar_type() != torch::kInt64) {
    return absl::InvalidArgumentError("ids must be a 2-D int64 tensor [B, T]");
  }
  const int64_t batch = ids.size(0), time = ids.size(1);
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("ids batch size", batch, 1, 1 << 20));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("ids length T", time, 1, config.max_len));
  if (!lengths.defined() || lengths.dim() != 1 || lengths.scalar_type() != torch::kInt64 ||
      lengths.size(0) != batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("lengths must be a 1-D int64 tensor of size ", batch));
  }
  if (lengths.device() != ids.device()) {
    return absl::InvalidArgumentError("ids and lengths must be on the same device");
  }
  DUET_RETURN_IF_ERROR(CheckElementsInRange("lengths", lengths, 1, time));
  DUET_RETURN_IF_ERROR(CheckElementsInRange("ids", ids, 0, config.vocab_size - 1));
  return absl::OkStatus();
}

StatusOr<torch::Tensor> EncodeText(TextEncoder& encoder, const torch::Tensor& ids,
                                   const torch::Tensor& lengths) {
  DUET_RETURN_IF_ERROR(CheckEncoderInputs(encoder->config(), ids, lengths));
  torch::Tensor out;
  DUET_RETURN_IF_ERROR(CatchTorch("text encoder forward", [&] {
    torch::NoGradGuard no_grad;
    out = encoder->forward(ids, lengths);
  }));
  return out;
}

}  // namespace duet::language
