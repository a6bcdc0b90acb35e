// Implementation of model/image_pipeline.h.
#include "model/image_pipeline.h"

#include "common/mixed_precision.h"
#include "common/tensor_io.h"
#include "vision/image_tensor.h"

namespace duet::model {

ImagePipeline::ImagePipeline(ModelConfig config, vision::ImageTokenizer tokenizer)
    : config_(std::move(config)), tokenizer_(std::move(tokenizer)) {
  tokenizer_->eval();
}

StatusOr<std::unique_ptr<ImagePipeline>> ImagePipeline::Load(const ModelConfig& config,
                                                             const SafetensorsFile& weights,
                                                             torch::ScalarType dtype) {
  vision::ImageTokenizer tokenizer(config.image_tokenizer);
  DUET_RETURN_IF_ERROR(LoadModule(weights, kImageTokenizerPrefix, tokenizer.ptr().get()));
  ConvertForInference(*tokenizer, dtype);
  return std::make_unique<ImagePipeline>(config, std::move(tokenizer));
}

StatusOr<std::vector<vision::Image>> ImagePipeline::DecodeBytes(
    const std::vector<std::string>& images, const vision::ImageLimits& limits) const {
  const int side = config_.image_tokenizer.resolution;
  std::vector<vision::Image> out;
  for (size_t i = 0; i < images.size(); ++i) {
    StatusOr<vision::Image> image = vision::DecodeImage(images[i], limits);
    if (!image.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("image ", i, ": ", image.status().message()));
    }
    out.push_back(vision::ResizeImage(vision::CenterCropSquare(*image), side, side));
  }
  return out;
}

StatusOr<torch::Tensor> ImagePipeline::EncodeImages(const std::vector<vision::Image>& images) const {
  if (images.empty()) return absl::InvalidArgumentError("images must not be empty");
  const int side = config_.image_tokenizer.resolution;
  std::vector<vision::Image> sized;
  for (const vision::Image& image : images) {
    sized.push_back(image.width == side && image.height == side
                        ? image
                        : vision::ResizeImage(vision::CenterCropSquare(image), side, side));
  }
  DUET_ASSIGN_OR_RETURN(torch::Tensor pixels, vision::ImagesToTensor(sized));
  torch::Tensor codes;
  vision::ImageTokenizer tokenizer = tokenizer_;
  DUET_RETURN_IF_ERROR(CatchTorch("encode images", [&] {
    torch::NoGradGuard no_grad;
    codes = tokenizer->Encode(pixels);
  }));
  return codes;
}

StatusOr<std::vector<vision::Image>> ImagePipeline::DecodeCodes(const torch::Tensor& codes) const {
  const int64_t G = config_.image_tokenizer.grid(), K = config_.image_tokenizer.codebook_size();
  if (codes.dim() != 3 || codes.size(1) != G || codes.size(2) != G) {
    return absl::InvalidArgumentError(
        absl::StrCat("codes must be [B, ", G, ", ", G, "], got ", c10::str(codes.sizes())));
  }
  if (codes.numel() > 0 && (codes.min().item<int64_t>() < 0 || codes.max().item<int64_t>() >= K)) {
    return absl::InvalidArgumentError(absl::StrCat("codes must be in [0, ", K, ")"));
  }
  std::vector<vision::Image> images;
  vision::ImageTokenizer tokenizer = tokenizer_;
  DUET_RETURN_IF_ERROR(CatchTorch("decode codes", [&] {
    torch::NoGradGuard no_grad;
    for (int64_t first = 0; first < codes.size(0); first += kDecodeBatch) {
      const int64_t n = std::min(kDecodeBatch, codes.size(0) - first);
      const torch::Tensor pixels = tokenizer->Decode(codes.narrow(0, first, n).to(torch::kInt64));
      for (vision::Image& image : vision::TensorToImages(pixels)) images.push_back(std::move(image));
    }
  }));
  return images;
}

}  // namespace duet::model
