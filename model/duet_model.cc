// Implementation of model/duet_model.h: the text -> codes -> PNG and image -> codes -> text paths.
#include "model/duet_model.h"

#include <algorithm>
#include <filesystem>

#include "common/file.h"
#include "common/tensor_io.h"
#include "model/png_metadata.h"
#include "model/transformer_model.h"
#include "vision/png_codec.h"

namespace duet::model {
namespace {

// Rows decoded together; bounds KV-cache memory for large draft counts. Rows never interact,
// so chunking does not change any draft.
constexpr int kGenerationChunk = 64;

}  // namespace

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
  DUET_RETURN_IF_ERROR(CheckRange("count", options.count, 1, kMaxDrafts));
  DUET_RETURN_IF_ERROR(fusion::ValidateSampling(options.sampling, config_.transformer.image_codebook));
  DUET_RETURN_IF_ERROR(CheckPromptForMetadata(prompt));  // before any work
  StatusOr<EncodedTexts> encoded = text_->Encode({prompt});
  if (!encoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", encoded.status().message()));
  }
  const int64_t steps = config_.transformer.image_tokens();
  const int64_t chunks = (options.count + kGenerationChunk - 1) / kGenerationChunk;
  std::vector<torch::Tensor> grids;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t first = chunk * kGenerationChunk;
    const int64_t rows = std::min<int64_t>(kGenerationChunk, options.count - first);
    std::vector<uint64_t> seeds;
    for (int64_t i = 0; i < rows; ++i) seeds.push_back(options.sampling.seed + first + i);
    const fusion::ProgressFn chunk_progress = [&](int64_t done, int64_t) {
      return !progress || progress(chunk * steps + done, chunks * steps);
    };
    DUET_ASSIGN_OR_RETURN(
        torch::Tensor codes,
        fusion::GenerateImageCodes(transformer_, encoded->embeddings.expand({rows, -1, -1}),
                                   encoded->lengths.expand({rows}), seeds, options.sampling,
                                   chunk_progress));
    grids.push_back(codes);
  }
  const torch::Tensor codes = torch::cat(grids);
  DUET_ASSIGN_OR_RETURN(std::vector<vision::Image> images, image_->DecodeCodes(codes));
  std::vector<double> scores(options.count, 0.0);
  if (options.rerank) {
    DUET_ASSIGN_OR_RETURN(auto prompt_ids,
                          text_->Tokenize({prompt}, config_.transformer.max_caption_len - 1));
    std::vector<std::vector<int64_t>> captions(options.count, prompt_ids[0]);
    DUET_ASSIGN_OR_RETURN(scores,
                          fusion::ScoreText(transformer_, codes.view({options.count, -1}), captions));
  }
  std::vector<Draft> drafts(options.count);
  for (int i = 0; i < options.count; ++i) {
    Draft& draft = drafts[i];
    draft.index = i;
    draft.seed = options.sampling.seed + i;
    draft.score = scores[i];
    DUET_ASSIGN_OR_RETURN(draft.png, vision::EncodePng(images[i], DraftMetadata(
        prompt, draft.seed, options.sampling, config_.name, options.rerank, draft.score)));
  }
  if (options.rerank) {
    std::stable_sort(drafts.begin(), drafts.end(),
                     [](const Draft& a, const Draft& b) { return a.score > b.score; });
  }
  return drafts;
}

StatusOr<std::vector<CaptionResult>> DuetModel::Caption(const std::vector<std::string>& images,
                                                        const fusion::SamplingParams& sampling) {
  if (images.empty()) return absl::InvalidArgumentError("images must not be empty");
  DUET_ASSIGN_OR_RETURN(std::vector<vision::Image> decoded, image_->DecodeBytes(images));
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes, image_->EncodeImages(decoded));
  const int64_t B = codes.size(0);
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < B; ++i) seeds.push_back(sampling.seed + i);
  const torch::Tensor flat = codes.view({B, -1});
  DUET_ASSIGN_OR_RETURN(auto ids, fusion::GenerateText(transformer_, flat, seeds, sampling,
                                                       config_.transformer.max_caption_len - 1));
  DUET_ASSIGN_OR_RETURN(std::vector<double> scores, fusion::ScoreText(transformer_, flat, ids));
  std::vector<CaptionResult> out(B);
  for (int64_t b = 0; b < B; ++b) {
    DUET_ASSIGN_OR_RETURN(out[b].text, text_->Detokenize(ids[b]));
    out[b].score = scores[b];
  }
  return out;
}

}  // namespace duet::model
