// The text encoder's hyperparameters (config.json, key "text_encoder"), with no LibTorch: the
// gateway and the transformer read them without loading the encoder.
#pragma once

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace duet::language {

struct TextEncoderConfig {
  int vocab_size = 512;  // V: token ids are in [0, V); must cover the tokenizer's vocabulary
  int max_len = 32;      // longest sequence T (rows of the position embedding)
  int d_model = 128;     // D: residual stream width, also the output width
  int n_layers = 2;      // transformer blocks
  int n_heads = 4;       // attention heads; d_model % n_heads == 0
  int d_ff = 512;        // F: MLP hidden width

  int head_dim() const { return d_model / n_heads; }

  // {"vocab_size": ..., "max_len": ..., ...} with every field.
  nlohmann::json ToJson() const;
  // Missing keys keep their defaults. InvalidArgument, naming the key, for a non-object, an
  // unknown key, a value that is not an integer, or a value out of range (see Validate).
  static StatusOr<TextEncoderConfig> FromJson(const nlohmann::json& json);
  // InvalidArgument naming the first field out of range, or d_model not divisible by n_heads.
  Status Validate() const;
};

}  // namespace duet::language
