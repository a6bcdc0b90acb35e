// The image side of a model: validated image bytes to code grids, and code grids to pixels.
// Loaded by the in-process engine and by the image-codec service.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/safetensors.h"
#include "common/status.h"
#include "model/model_config.h"
#include "vision/image.h"
#include "vision/image_io.h"
#include "vision/image_tokenizer.h"

namespace duet::model {

// Thread-safe after construction: every method is const and allocates its own tensors.
class ImagePipeline {
 public:
  ImagePipeline(ModelConfig config, vision::ImageTokenizer tokenizer);

  // Reads the image_tokenizer.* tensors from `weights`; convolutions then run in `dtype`
  // (common/mixed_precision.h), while pixels in and out stay float32.
  static StatusOr<std::unique_ptr<ImagePipeline>> Load(const ModelConfig& config,
                                                       const SafetensorsFile& weights,
                                                       torch::ScalarType dtype = torch::kFloat32);

  // Decodes PNG/JPEG bytes (limits checked before pixels are allocated), composites alpha over
  // white, resizes to the model resolution. InvalidArgument names the image index.
  StatusOr<std::vector<vision::Image>> DecodeBytes(const std::vector<std::string>& images,
                                                   const vision::ImageLimits& limits = {}) const;
  // Images of the model resolution (others are resized) -> codes [B, G, G] int64.
  StatusOr<torch::Tensor> EncodeImages(const std::vector<vision::Image>& images) const;
  // Codes [B, G, G] -> images, decoded in batches of kDecodeBatch grids. Every layer treats the
  // images of a batch apart (tests/model check it bit for bit), so an image never depends on
  // the others decoded with it.
  StatusOr<std::vector<vision::Image>> DecodeCodes(const torch::Tensor& codes) const;

  static constexpr int64_t kDecodeBatch = 64;  // bounds activation memory (~70 MB at 64 px)

  vision::ImageTokenizer tokenizer() const { return tokenizer_; }
  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  vision::ImageTokenizer tokenizer_;
};

}  // namespace duet::model
