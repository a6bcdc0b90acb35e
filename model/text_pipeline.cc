// Implementation of model/text_pipeline.h.
#include "model/text_pipeline.h"

#include "common/mixed_precision.h"
#include "common/tensor_io.h"
#include "language/text_batch.h"

namespace duet::model {

TextPipeline::TextPipeline(ModelConfig config, language::Tokenizer tokenizer,
                           language::TextEncoder encoder)
    : config_(std::move(config)), tokenizer_(std::move(tokenizer)), encoder_(std::move(encoder)) {
  encoder_->eval();
}

StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Load(const std::string& dir,
                                                           const ModelConfig& config,
                                                           const SafetensorsFile& weights,
                                                           torch::ScalarType dtype) {
  DUET_ASSIGN_OR_RETURN(language::Tokenizer tokenizer,
                        language::Tokenizer::Load(dir + "/" + kTokenizerFile));
  if (tokenizer.vocab_size() != config.text_encoder.vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, "/", kTokenizerFile, " has ", tokenizer.vocab_size(),
                     " pieces but text_encoder.vocab_size is ", config.text_encoder.vocab_size));
  }
  DUET_ASSIGN_OR_RETURN(language::TextEncoder encoder,
                        language::MakeTextEncoder(config.text_encoder));
  DUET_RETURN_IF_ERROR(LoadModule(weights, kTextEncoderPrefix, encoder.ptr().get()));
  ConvertForInference(*encoder, dtype);
  return std::make_unique<TextPipeline>(config, std::move(tokenizer), std::move(encoder));
}

StatusOr<std::vector<std::vector<int64_t>>> TextPipeline::Tokenize(
    const std::vector<std::string>& texts, int64_t max_tokens) const {
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) return absl::InvalidArgumentError(absl::StrCat("text ", i, " is empty"));
    StatusOr<std::vector<int>> ids = tokenizer_.Encode(texts[i]);
    if (!ids.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("text ", i, ": ", ids.status().message()));
    }
    if (static_cast<int64_t>(ids->size()) > max_tokens) {
      return absl::InvalidArgumentError(absl::StrCat("text ", i, " has ", ids->size(),
                                                     " tokens, the limit is ", max_tokens));
    }
    out.emplace_back(ids->begin(), ids->end());
  }
  return out;
}

StatusOr<EncodedTexts> TextPipeline::Encode(const std::vector<std::string>& texts) const {
  DUET_ASSIGN_OR_RETURN(auto batch,
                        language::TokenizeBatch(tokenizer_, texts, config_.text_encoder.max_len));
  EncodedTexts out{batch.first, batch.second, torch::Tensor()};
  language::TextEncoder encoder = encoder_;
  DUET_ASSIGN_OR_RETURN(out.embeddings, language::EncodeText(encoder, out.ids, out.lengths));
  return out;
}

StatusOr<std::string> TextPipeline::Detokenize(const std::vector<int64_t>& ids) const {
  // The range is checked in int64: narrowing first would read 2^32 + 5 as id 5.
  const int64_t vocab = tokenizer_.vocab_size();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", ids[i], " at position ", i,
                                                     " is outside [0, ", vocab, ")"));
    }
  }
  return tokenizer_.Decode(std::vector<int>(ids.begin(), ids.end()));
}

}  // namespace duet::model
