// Implementation of model/duet_model.h: loading and saving; both paths run the draft pipeline.
#include "model/duet_model.h"

#include <algorithm>
#include <filesystem>

#include "common/file.h"
#include "common/tensor_io.h"
#include "model/local_parts.h"
#include "model/transformer_model.h"

namespace duet::model {
DuetModel::DuetModel(ModelConfig config, std::unique_ptr<TextPipeline> text,
                     std::unique_ptr<ImagePipeline> image, fusion::MultimodalTransformer transformer)
    : config_(std::move(config)),
      text_(std::move(text)),
      image_(std::move(image)),
      transformer_(std::move(transformer)) {
  transformer_->eval();
}

StatusOr<std::unique_ptr<DuetModel>> DuetModel::Load(const std::string& dir,
                                                     torch::ScalarType dtype) {
  DUET_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(dir));
  DUET_ASSIGN_OR_RETURN(SafetensorsFile weights, ReadSafetensors(dir + "/" + kWeightsFile));
  DUET_ASSIGN_OR_RETURN(auto text, TextPipeline::Load(dir, config, weights, dtype));
  DUET_ASSIGN_OR_RETURN(auto image, ImagePipeline::Load(config, weights, dtype));
  DUET_ASSIGN_OR_RETURN(fusion::MultimodalTransformer transformer,
                        LoadTransformerWeights(config.transformer, weights, dtype));
  return std::unique_ptr<DuetModel>(
      new DuetModel(config, std::move(text), std::move(image), std::move(transformer)));
}

StatusOr<std::unique_ptr<DuetModel>> DuetModel::InitRandom(ModelConfig config,
                                                           const std::vector<std::string>& corpus,
                                                           uint64_t seed) {
  config.Derive();
  DUET_RETURN_IF_ERROR(config.Validate());
  DUET_ASSIGN_OR_RETURN(language::Tokenizer tokenizer,
                        language::Tokenizer::Train(corpus, config.text_encoder.vocab_size));
  // A small corpus may yield fewer pieces than asked for; the heads follow the real vocabulary.
  config.text_encoder.vocab_size = tokenizer.vocab_size();
  config.Derive();
  torch::manual_seed(seed);
  DUET_ASSIGN_OR_RETURN(language::TextEncoder encoder,
                        language::MakeTextEncoder(config.text_encoder));
  auto text = std::make_unique<TextPipeline>(config, std::move(tokenizer), std::move(encoder));
  auto image = std::make_unique<ImagePipeline>(config, vision::ImageTokenizer(config.image_tokenizer));
  fusion::MultimodalTransformer transformer(config.transformer);
  return std::unique_ptr<DuetModel>(
      new DuetModel(config, std::move(text), std::move(image), std::move(transformer)));
}

Status DuetModel::Save(const std::string& dir) const {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  DUET_RETURN_IF_ERROR(WriteJsonFile(dir + "/" + kConfigFile, config_.ToJson()));
  DUET_RETURN_IF_ERROR(text_->tokenizer().Save(dir + "/" + kTokenizerFile));
  SafetensorsFile weights;
  weights.metadata = {{"format", "pt"}, {"name", config_.name}};
  DUET_RETURN_IF_ERROR(SaveModule(*text_->encoder(), kTextEncoderPrefix, &weights));
  DUET_RETURN_IF_ERROR(SaveModule(*image_->tokenizer(), kImageTokenizerPrefix, &weights));
  DUET_RETURN_IF_ERROR(SaveModule(*transformer_, kTransformerPrefix, &weights));
  return WriteSafetensors(dir + "/" + kWeightsFile, weights);
}

StatusOr<std::vector<Draft>> DuetModel::GenerateImages(const std::string& prompt,
                                                       const GenerateOptions& options,
                                                       const fusion::ProgressFn& progress) {
  LocalParts parts(*this);
  std::vector<Draft> drafts;
  DUET_RETURN_IF_ERROR(pipeline::GenerateDrafts(parts, config_, prompt, options, progress,
                                                [&](Draft draft) {
                                                  drafts.push_back(std::move(draft));
                                                  return absl::OkStatus();
                                                }));
  return drafts;
}

StatusOr<std::vector<CaptionResult>> DuetModel::Caption(const std::vector<std::string>& images,
                                                        const fusion::SamplingParams& sampling) {
  LocalParts parts(*this);
  return pipeline::CaptionImages(parts, config_, images, sampling);
}

}  // namespace duet::model
