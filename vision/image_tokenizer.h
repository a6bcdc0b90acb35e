// The image tokenizer/decoder: a patchify conv encoder down to a G x G grid, FSQ codes, and a
// mirrored pixel-shuffle decoder. Patchify first because REFERENCES.md measured it learning far
// faster per CPU second than convolutions at full resolution.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/status.h"
#include "vision/fsq.h"
#include "vision/image_tokenizer_config.h"

namespace duet::vision {

// Parameter names (stable; they are checkpoint keys through SaveModule):
//   encoder.stem.{weight,bias}                    Conv2d(3, C, patch, stride patch)
//   encoder.blocks_hi.<i>.{norm1,conv1,norm2,conv2}.{weight,bias}   at R/patch
//   encoder.down.{weight,bias}                    Conv2d(C, C, 2, stride 2)
//   encoder.blocks_lo.<i>.{norm1,conv1,norm2,conv2}.{weight,bias}   at G
//   encoder.norm_out.{weight,bias}, encoder.to_latent.{weight,bias}  Conv1x1 C -> D
//   decoder.from_latent.{weight,bias}             Conv1x1 D -> C
//   decoder.blocks_lo.<i>.*, decoder.up.{weight,bias} (Conv3x3 C -> 4C, PixelShuffle 2)
//   decoder.blocks_hi.<i>.*, decoder.norm_out.*, decoder.to_pixels.{weight,bias}
//                                                 (Conv3x3 C -> 3 * patch^2, PixelShuffle patch)
// GroupNorm uses gcd(C, 32) groups. FSQ has no parameters.

// Pre-activation residual block: x + conv2(silu(norm2(conv1(silu(norm1(x)))))).
class ResBlockImpl : public torch::nn::Module {
 public:
  explicit ResBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> same

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
};
TORCH_MODULE(ResBlock);

// Images [B, 3, R, R] -> continuous latents [B, D, G, G].
class ImageEncoderImpl : public torch::nn::Module {
 public:
  explicit ImageEncoderImpl(const ImageTokenizerConfig& config);
  torch::Tensor forward(const torch::Tensor& images);

 private:
  torch::nn::Conv2d stem_{nullptr}, down_{nullptr}, to_latent_{nullptr};
  torch::nn::ModuleList blocks_hi_, blocks_lo_;
  torch::nn::GroupNorm norm_out_{nullptr};
};
TORCH_MODULE(ImageEncoder);

// Codes [B, D, G, G] -> unclamped images [B, 3, R, R].
class ImageDecoderImpl : public torch::nn::Module {
 public:
  explicit ImageDecoderImpl(const ImageTokenizerConfig& config);
  torch::Tensor forward(const torch::Tensor& codes);

 private:
  torch::nn::Conv2d from_latent_{nullptr}, up_{nullptr}, to_pixels_{nullptr};
  torch::nn::ModuleList blocks_lo_, blocks_hi_;
  torch::nn::GroupNorm norm_out_{nullptr};
  int patch_ = 1;
};
TORCH_MODULE(ImageDecoder);

// Thread safety: Encode/Decode may run concurrently on one instance once it is loaded and not
// being trained or moved. Tensor-level precondition failures throw c10::Error (wrap with
// CatchTorch at the service boundary); the messages name the expected shape or range.
class ImageTokenizerImpl : public torch::nn::Module {
 public:
  // Precondition: config.Validate() is OK.
  explicit ImageTokenizerImpl(const ImageTokenizerConfig& config);

  // Images [B, 3, R, R] in [-1, 1] -> codes [B, G, G] int64 in [0, codebook_size). No grad.
  torch::Tensor Encode(const torch::Tensor& images);
  // Codes [B, G, G] int64 in [0, codebook_size) -> images [B, 3, R, R] in [-1, 1]. No grad.
  torch::Tensor Decode(const torch::Tensor& codes);
  // Training: images [B, 3, R, R] -> reconstruction [B, 3, R, R] through the straight-through
  // quantizer, NOT clamped (so a loss never loses its gradient at the range ends).
  torch::Tensor forward(const torch::Tensor& images);

  const ImageTokenizerConfig& config() const { return config_; }
  const Fsq& fsq() const { return fsq_; }

 private:
  void CheckImages(const torch::Tensor& images) const;

  ImageTokenizerConfig config_;
  ImageEncoder encoder_{nullptr};
  Fsq fsq_{nullptr};
  ImageDecoder decoder_{nullptr};
};
TORCH_MODULE(ImageTokenizer);

}  // namespace duet::vision
