// The whole model's configuration (config.json in a model directory): name, tokenizer size and
// the configs of the text encoder, image tokenizer and transformer, checked for consistency.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "fusion/sampling.h"
#include "fusion/transformer_config.h"
#include "language/text_encoder_config.h"
#include "nlohmann/json.hpp"
#include "vision/image_tokenizer_config.h"

namespace duet::model {

// File names inside a model directory.
inline constexpr char kConfigFile[] = "config.json";
inline constexpr char kTokenizerFile[] = "tokenizer.model";
inline constexpr char kWeightsFile[] = "model.safetensors";
// Tensor name prefixes inside model.safetensors.
inline constexpr char kTextEncoderPrefix[] = "text_encoder.";
inline constexpr char kImageTokenizerPrefix[] = "image_tokenizer.";
inline constexpr char kTransformerPrefix[] = "transformer.";

// Text->image sampling settings for a request that leaves them unset: "sampling" in config.json,
// chosen for the shipped model by a sweep scored by the judge (docs/training.md). The CLI, the
// gateway and the transformer server all fill unset fields from here. Seeds are never defaulted.
struct SamplingDefaults {
  float temperature = 1.0f;
  int top_k = 0;
  float top_p = 1.0f;
  float guidance_scale = 1.0f;

  fusion::SamplingParams Params(uint64_t seed = 0) const {
    return {temperature, top_k, top_p, guidance_scale, seed};
  }
  // Sets the field named `key` ("temperature", "top_k", "top_p", "guidance_scale"; top_k is
  // truncated to an integer). False for any other key. Does not validate the value.
  bool Set(const std::string& key, double value);
};

// Sampling settings a request may leave unset; Resolve fills them from SamplingDefaults.
struct SamplingOverrides {
  std::optional<float> temperature, top_p, guidance_scale;
  std::optional<int> top_k;
  uint64_t seed = 0;

  fusion::SamplingParams Resolve(const SamplingDefaults& defaults) const {
    return {temperature.value_or(defaults.temperature), top_k.value_or(defaults.top_k),
            top_p.value_or(defaults.top_p), guidance_scale.value_or(defaults.guidance_scale), seed};
  }
};

struct ModelConfig {
  std::string name = "duet-tiny";                 // shown in PNG metadata and GetModelInfo
  language::TextEncoderConfig text_encoder;       // also fixes the tokenizer vocabulary size
  vision::ImageTokenizerConfig image_tokenizer;   // resolution, grid, codebook
  fusion::TransformerConfig transformer;          // must agree with the two above
  SamplingDefaults sampling;                      // for requests that leave a setting unset

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
