// The draft pipeline's parts (pipeline/draft_parts.h) over a model loaded in this process: the
// text pipeline, the transformer and the image pipeline of one DuetModel.
#pragma once

#include "model/duet_model.h"
#include "pipeline/draft_parts.h"

namespace duet::model {

// Borrows `model`, which must outlive it. One call at a time, like the model itself.
class LocalParts : public pipeline::Parts {
 public:
  explicit LocalParts(DuetModel& model) : model_(model) {}

  StatusOr<pipeline::EncodedPrompt> EncodePrompt(const std::string& prompt) override;
  StatusOr<std::vector<std::string>> Detokenize(
      const std::vector<std::vector<int64_t>>& ids) override;
  StatusOr<pipeline::CodeGrids> GenerateCodes(const pipeline::EncodedPrompt& prompt, int count,
                                              const fusion::SamplingParams& sampling,
                                              const pipeline::ProgressFn& progress) override;
  StatusOr<std::vector<std::vector<int64_t>>> GenerateCaptions(
      const pipeline::CodeGrids& codes, const fusion::SamplingParams& sampling,
      int max_tokens) override;
  StatusOr<std::vector<double>> ScoreText(
      const pipeline::CodeGrids& codes, const std::vector<std::vector<int64_t>>& texts) override;
  StatusOr<std::vector<std::string>> DecodePngs(
      const pipeline::CodeGrids& codes, const std::vector<pipeline::PngText>& metadata) override;
  StatusOr<pipeline::CodeGrids> EncodeImages(const std::vector<std::string>& images) override;
  // The image pipeline's own batch (ImagePipeline::kDecodeBatch).
  int DecodeChunk() const override;

 private:
  DuetModel& model_;
};

// CodeGrids <-> [count, grid * grid] int64 tensors.
torch::Tensor GridsToTensor(const pipeline::CodeGrids& codes);
pipeline::CodeGrids GridsFromTensor(const torch::Tensor& codes, int64_t grid);

}  // namespace duet::model
