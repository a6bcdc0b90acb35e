// Hyperparameters of the multimodal transformer, with one commented default per field.
// The config is part of every model directory (config.json, key "transformer").
#pragma once

#include <algorithm>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace duet::fusion {

// Which direction a sequence goes; selects the task embedding and the output head.
enum class Task : int { kTextToImage = 0, kImageToText = 1 };

struct TransformerConfig {
  int d_model = 256;           // residual stream width
  int n_layers = 4;            // decoder blocks
  int n_heads = 4;             // attention heads; d_model % n_heads == 0
  int d_ff = 1024;             // MLP hidden width
  int window = 32;             // sliding-window layers see keys with |i - j| < window
  bool global_prefix = false;  // sliding-window layers also see the whole prefix (the condition)
  int global_every = 4;        // every global_every-th layer (1-based) is global; 1: all global
  int text_dim = 128;          // width of the text encoder's output (text->image prefix)
  int text_prefix_len = 32;    // padded prompt length P for text->image (= text encoder max_len)
  int text_vocab = 512;        // caption vocabulary size (image->text head)
  int max_caption_len = 32;    // caption target length, EOS included
  int image_grid = 8;          // G: images are G x G codes, in raster order
  int image_codebook = 1000;   // K: number of image codes
  float prompt_dropout = 0.1f; // training: probability of replacing the prompt by the null prefix

  int image_tokens() const { return image_grid * image_grid; }
  int head_dim() const { return d_model / n_heads; }
  bool IsGlobalLayer(int layer) const { return (layer + 1) % global_every == 0; }
  // Positions needed by the longer of the two sequence layouts.
  int max_positions() const {
    return std::max(text_prefix_len + image_tokens(), image_tokens() + max_caption_len);
  }

  nlohmann::json ToJson() const;
  // Missing keys keep their defaults; wrong types or invalid values are InvalidArgument.
  static StatusOr<TransformerConfig> FromJson(const nlohmann::json& json);
  Status Validate() const;
};

}  // namespace duet::fusion

namespace duet::fusion {
// Caption token ids shared with language::Tokenizer (pad 0, unk 1, bos 2, eos 3).
inline constexpr int64_t kTextPadId = 0;
inline constexpr int64_t kTextBosId = 2;
inline constexpr int64_t kTextEosId = 3;
}  // namespace duet::fusion
