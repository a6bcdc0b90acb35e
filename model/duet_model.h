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

namespace duet::model {

struct GenerateOptions {
  int count = 1;                    // drafts, in [1, kMaxDrafts]
  fusion::SamplingParams sampling;  // draft i uses sampling.seed + i
  bool rerank = false;              // order drafts by log p(prompt | draft), best first
};
inline constexpr int kMaxDrafts = 256;

struct Draft {
  int index = 0;       // position in the request (seed = sampling.seed + index)
  uint64_t seed = 0;
  double score = 0;    // log p(prompt | image); computed when reranking, else 0
  std::string png;     // PNG bytes with metadata (see png_metadata.h)
};

struct CaptionResult {
  std::string text;
  double score = 0;  // log p(caption | image)
};

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

  // Generates options.count drafts for one prompt; progress reports decoding steps.
  StatusOr<std::vector<Draft>> GenerateImages(const std::string& prompt,
                                              const GenerateOptions& options,
                                              const fusion::ProgressFn& progress = nullptr);
  // One caption per image (PNG or JPEG bytes), greedy unless sampling says otherwise.
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
