// The text side of a model: tokenizer plus text encoder, from strings to prefix embeddings.
// Loaded by the in-process engine and by the text-encoder service.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/safetensors.h"
#include "common/status.h"
#include "language/text_encoder.h"
#include "language/tokenizer.h"
#include "model/model_config.h"

namespace duet::model {

struct EncodedTexts {
  torch::Tensor ids;         // [B, P] int64, padded with the pad id 0
  torch::Tensor lengths;     // [B] int64, real tokens per text
  torch::Tensor embeddings;  // [B, P, text_dim] float32, zero at padding
};

// Thread-safe after construction: every method is const and allocates its own tensors.
class TextPipeline {
 public:
  TextPipeline(ModelConfig config, language::Tokenizer tokenizer, language::TextEncoder encoder);

  // Reads the tokenizer from <dir> and the text_encoder.* tensors from `weights`; the encoder's
  // matrix products then run in `dtype` (common/mixed_precision.h), its output stays float32.
  static StatusOr<std::unique_ptr<TextPipeline>> Load(const std::string& dir,
                                                      const ModelConfig& config,
                                                      const SafetensorsFile& weights,
                                                      torch::ScalarType dtype = torch::kFloat32);

  // Token ids per text. InvalidArgument names the text index: empty, invalid UTF-8, or more
  // than max_tokens tokens.
  StatusOr<std::vector<std::vector<int64_t>>> Tokenize(const std::vector<std::string>& texts,
                                                       int64_t max_tokens) const;
  // Tokenizes (at most text_encoder.max_len tokens each) and encodes a batch.
  StatusOr<EncodedTexts> Encode(const std::vector<std::string>& texts) const;
  // Ids back to text; special ids are skipped, out-of-range ids are InvalidArgument.
  StatusOr<std::string> Detokenize(const std::vector<int64_t>& ids) const;

  const language::Tokenizer& tokenizer() const { return tokenizer_; }
  language::TextEncoder encoder() const { return encoder_; }
  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  language::Tokenizer tokenizer_;
  language::TextEncoder encoder_;
};

}  // namespace duet::model
