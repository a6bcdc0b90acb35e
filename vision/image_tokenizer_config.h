// The image tokenizer's hyperparameters (config.json, key "image_tokenizer"), with no LibTorch:
// the gateway and the transformer read them without loading the tokenizer.
#pragma once

#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace duet::vision {

// Hyperparameters; stored in <model>/config.json under the tokenizer's key.
struct ImageTokenizerConfig {
  int resolution = 64;                         // Square image side in pixels, input and output.
  int patch = 4;                               // Patchify stem stride; resolution/patch per side.
  int channels = 128;                          // Width of every conv and residual block.
  int res_blocks = 2;                          // Residual blocks per resolution, per side.
  int latent_dim = 0;                          // Latent channels; 0 means fsq_levels.size().
  std::vector<int> fsq_levels = {8, 5, 5, 5};  // FSQ levels per latent channel (1000 codes).

  int grid() const { return resolution / patch / 2; }  // Code grid side G.
  int codebook_size() const;                           // Product of fsq_levels.
  int latent_channels() const;                         // latent_dim, or fsq_levels.size() if 0.

  // InvalidArgument naming the field: resolution in [8, 1024], patch in [1, 16], resolution a
  // multiple of 2 * patch, channels in [4, 2048], res_blocks in [0, 16], 1..16 fsq_levels each
  // in [2, 256] with product <= 2^20, latent_dim 0 or fsq_levels.size().
  Status Validate() const;
  // All fields, latent_dim included as stored.
  nlohmann::json ToJson() const;
  // Missing keys keep their defaults. InvalidArgument naming the key for unknown keys, wrong
  // types, or values Validate() rejects.
  static StatusOr<ImageTokenizerConfig> FromJson(const nlohmann::json& json);
};

}  // namespace duet::vision
