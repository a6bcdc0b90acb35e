// The whole model's configuration (config.json in a model directory): name, tokenizer size and
// the configs of the text encoder, image tokenizer and transformer, checked for consistency.
#pragma once

#include <string>

#include "common/status.h"
#include "fusion/transformer_config.h"
#include "language/text_encoder.h"
#include "nlohmann/json.hpp"
#include "vision/image_tokenizer.h"

namespace duet::model {

// File names inside a model directory.
inline constexpr char kConfigFile[] = "config.json";
inline constexpr char kTokenizerFile[] = "tokenizer.model";
inline constexpr char kWeightsFile[] = "model.safetensors";
// Tensor name prefixes inside model.safetensors.
inline constexpr char kTextEncoderPrefix[] = "text_encoder.";
inline constexpr char kImageTokenizerPrefix[] = "image_tokenizer.";
inline constexpr char kTransformerPrefix[] = "transformer.";

struct ModelConfig {
  std::string name = "duet-tiny";                 // shown in PNG metadata and GetModelInfo
  language::TextEncoderConfig text_encoder;       // also fixes the tokenizer vocabulary size
  vision::ImageTokenizerConfig image_tokenizer;   // resolution, grid, codebook
  fusion::TransformerConfig transformer;          // must agree with the two above

  // Copies the shared sizes (vocabulary, text width and length, grid, codebook) from the text
  // encoder and image tokenizer into the transformer config.
  void Derive();
  nlohmann::json ToJson() const;
  static StatusOr<ModelConfig> FromJson(const nlohmann::json& json);
  // InvalidArgument naming the two fields that disagree.
  Status Validate() const;
};

// Reads <dir>/config.json.
StatusOr<ModelConfig> ReadModelConfig(const std::string& dir);

}  // namespace duet::model
