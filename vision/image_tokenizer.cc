// The tokenizer as it is drawn: patchify stem, residual blocks, 2x down, residual blocks, FSQ;
// and back up with pixel shuffle. Shapes: R = resolution, P = R / patch, G = P / 2.
#include "vision/image_tokenizer.h"

#include <numeric>

#include "common/mixed_precision.h"

namespace duet::vision {
namespace {

constexpr int kMaxNormGroups = 32;
constexpr int kDownFactor = 2;  // The one stride-2 step between the patch grid and the code grid.

torch::nn::GroupNorm Norm(int channels) {
  return torch::nn::GroupNorm(std::gcd(channels, kMaxNormGroups), channels);
}

torch::nn::Conv2d Conv(int in, int out, int kernel, int stride = 1, int padding = 0) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

torch::nn::ModuleList ResBlocks(int count, int channels) {
  torch::nn::ModuleList blocks;
  for (int i = 0; i < count; ++i) blocks->push_back(ResBlock(channels));
  return blocks;
}

torch::Tensor RunBlocks(const torch::nn::ModuleList& blocks, torch::Tensor x) {
  for (const auto& block : *blocks) x = block->as<ResBlock>()->forward(x);
  return x;
}

}  // namespace

ResBlockImpl::ResBlockImpl(int channels)
    : norm1_(register_module("norm1", Norm(channels))),
      norm2_(register_module("norm2", Norm(channels))),
      conv1_(register_module("conv1", Conv(channels, channels, 3, 1, 1))),
      conv2_(register_module("conv2", Conv(channels, channels, 3, 1, 1))) {}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x) {
  // Norms in float32; convolutions (and so the block's stream) in the compute dtype.
  const torch::Tensor h = Conv2d(conv1_, torch::silu(Norm32(norm1_, x)));  // [B, C, H, W]
  return x + Conv2d(conv2_, torch::silu(Norm32(norm2_, h)));               // [B, C, H, W]
}

ImageEncoderImpl::ImageEncoderImpl(const ImageTokenizerConfig& config) {
  const int c = config.channels;
  stem_ = register_module("stem", Conv(3, c, config.patch, config.patch));
  blocks_hi_ = register_module("blocks_hi", ResBlocks(config.res_blocks, c));
  down_ = register_module("down", Conv(c, c, kDownFactor, kDownFactor));
  blocks_lo_ = register_module("blocks_lo", ResBlocks(config.res_blocks, c));
  norm_out_ = register_module("norm_out", Norm(c));
  to_latent_ = register_module("to_latent", Conv(c, config.latent_channels(), 1));
}

torch::Tensor ImageEncoderImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = RunBlocks(blocks_hi_, Conv2d(stem_, images));  // [B, C, P, P]
  x = RunBlocks(blocks_lo_, Conv2d(down_, x));                     // [B, C, G, G]
  // Latents in float32: FSQ rounds them, and rounding must not see bf16 steps.
  return Conv2d(to_latent_, torch::silu(Norm32(norm_out_, x))).to(torch::kFloat32);  // [B, D, G, G]
}

ImageDecoderImpl::ImageDecoderImpl(const ImageTokenizerConfig& config) : patch_(config.patch) {
  const int c = config.channels;
  from_latent_ = register_module("from_latent", Conv(config.latent_channels(), c, 1));
  blocks_lo_ = register_module("blocks_lo", ResBlocks(config.res_blocks, c));
  up_ = register_module("up", Conv(c, c * kDownFactor * kDownFactor, 3, 1, 1));
  blocks_hi_ = register_module("blocks_hi", ResBlocks(config.res_blocks, c));
  norm_out_ = register_module("norm_out", Norm(c));
  to_pixels_ = register_module("to_pixels", Conv(c, 3 * patch_ * patch_, 3, 1, 1));
}

torch::Tensor ImageDecoderImpl::forward(const torch::Tensor& codes) {
  torch::Tensor x = RunBlocks(blocks_lo_, Conv2d(from_latent_, codes));  // [B, C, G, G]
  x = torch::pixel_shuffle(Conv2d(up_, x), kDownFactor);                 // [B, C, P, P]
  x = RunBlocks(blocks_hi_, x);                                          // [B, C, P, P]
  x = Conv2d(to_pixels_, torch::silu(Norm32(norm_out_, x)));  // [B, 3 * patch^2, P, P]
  return torch::pixel_shuffle(x, patch_).to(torch::kFloat32);  // [B, 3, R, R] float32
}

ImageTokenizerImpl::ImageTokenizerImpl(const ImageTokenizerConfig& config)
    : config_(config),
      encoder_(register_module("encoder", ImageEncoder(config))),
      fsq_(register_module("fsq", Fsq(config.fsq_levels))),
      decoder_(register_module("decoder", ImageDecoder(config))) {}

void ImageTokenizerImpl::CheckImages(const torch::Tensor& images) const {
  const int r = config_.resolution;
  TORCH_CHECK(
      images.dim() == 4 && images.size(1) == 3 && images.size(2) == r && images.size(3) == r,
      "image tokenizer expects images [B, 3, ", r, ", ", r, "], got ", images.sizes());
  TORCH_CHECK(images.is_floating_point(), "image tokenizer expects float images, got ",
              images.scalar_type());
}

torch::Tensor ImageTokenizerImpl::Encode(const torch::Tensor& images) {
  CheckImages(images);
  torch::NoGradGuard no_grad;
  const torch::Tensor codes = fsq_(encoder_(images));  // [B, D, G, G]
  return fsq_->CodesToIndices(codes);                  // [B, G, G]
}

torch::Tensor ImageTokenizerImpl::Decode(const torch::Tensor& codes) {
  const int g = config_.grid();
  TORCH_CHECK(codes.dim() == 3 && codes.size(1) == g && codes.size(2) == g &&
                  codes.scalar_type() == torch::kInt64,
              "image tokenizer expects int64 codes [B, ", g, ", ", g, "], got ",
              codes.scalar_type(), " ", codes.sizes());
  TORCH_CHECK(codes.numel() == 0 || (codes.min().item<int64_t>() >= 0 &&
                                     codes.max().item<int64_t>() < fsq_->codebook_size()),
              "image codes must be in [0, ", fsq_->codebook_size(), ")");
  torch::NoGradGuard no_grad;
  const torch::Tensor latents = fsq_->IndicesToCodes(codes);  // [B, D, G, G]
  return decoder_(latents).clamp(-1.0, 1.0);                  // [B, 3, R, R]
}

torch::Tensor ImageTokenizerImpl::forward(const torch::Tensor& images) {
  CheckImages(images);
  return decoder_(fsq_(encoder_(images)));  // [B, 3, R, R]
}

}  // namespace duet::vision
