// The in-process engine: one model directory loaded whole, text->image drafts and captions.
// The CLI uses it directly; the services use its three parts (text, image, transformer) apart.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "fusion/generation.h"
#include "fusion/transformer.h"
#include "model/image_pipeline.h"
#include "model/model_config.h"
#include "model/text_pipeline.h"
#include "pipeline/draft_pipeline.h"

namespace duet::model {

// The pipeline's request and result types (pipeline/draft_pipeline.h), under the names the
// in-process API has always used.
using GenerateOptions = pipeline::DraftOptions;
using Draft = pipeline::Draft;
using CaptionResult = pipeline::Caption;
using pipeline::kMaxDrafts;

// Not thread-safe: one call at a time (generation holds per-call KV caches, but the
// transformer is shared). Wrap in a mutex or use the services for concurrency.
class DuetModel {
 public:
  // Loads config.json, tokenizer.model and model.safetensors (F32 or BF16 tensors) from `dir`;
  // matrix products then run in `dtype` (common/compute_dtype.h picks it), weights converted once.
  static StatusOr<std::unique_ptr<DuetModel>> Load(const std::string& dir,
                                                   torch::ScalarType dtype = torch::kFloat32);
  // A randomly initialised model whose tokenizer is trained on `corpus`.
  static StatusOr<std::unique_ptr<DuetModel>> InitRandom(ModelConfig config,
                                                         const std::vector<std::string>& corpus,
                                                         uint64_t seed);
  // Writes config.json, tokenizer.model and model.safetensors into `dir` (created if needed).
  Status Save(const std::string& dir) const;

  // Generates options.count drafts for one prompt through the draft pipeline, in its output order;
  // progress reports decoding steps.
  StatusOr<std::vector<Draft>> GenerateImages(const std::string& prompt,
                                              const GenerateOptions& options,
                                              const fusion::ProgressFn& progress = nullptr);
  // One caption per image (PNG or JPEG bytes), greedy unless sampling says otherwise; the
  // pipeline's CaptionImages.
  StatusOr<std::vector<CaptionResult>> Caption(const std::vector<std::string>& images,
                                               const fusion::SamplingParams& sampling);

  const ModelConfig& config() const { return config_; }
  // The compute dtype of the transformer (float32 for InitRandom models).
  torch::ScalarType dtype() const { return transformer_->ComputeDtype(); }
  TextPipeline& text() { return *text_; }
  ImagePipeline& image() { return *image_; }
  fusion::MultimodalTransformer transformer() { return transformer_; }

 private:
  DuetModel(ModelConfig config, std::unique_ptr<TextPipeline> text,
            std::unique_ptr<ImagePipeline> image, fusion::MultimodalTransformer transformer);

  ModelConfig config_;
  std::unique_ptr<TextPipeline> text_;
  std::unique_ptr<ImagePipeline> image_;
  fusion::MultimodalTransformer transformer_;
};

}  // namespace duet::model
