// Implementation of services/image_codec/image_codec_service.h.
#include "services/image_codec/image_codec_service.h"

#include "services/common/unary.h"
#include "services/common/wire.h"
#include "vision/png_codec.h"

namespace duet::services {
namespace {

Status DecodeOne(const model::ImagePipeline& pipeline, const torch::Tensor& codes, int index,
                 const v1::ImageMetadata* metadata, std::string* png) {
  DUET_ASSIGN_OR_RETURN(std::vector<vision::Image> images,
                        pipeline.DecodeCodes(codes.narrow(0, index, 1)));
  std::vector<vision::PngTextEntry> text;
  if (metadata != nullptr) {
    for (const v1::PngText& entry : metadata->text()) text.emplace_back(entry.key(), entry.value());
  }
  StatusOr<std::string> encoded = vision::EncodePng(images.at(0), text);
  if (!encoded.ok()) {
    return Status(encoded.status().code(),
                  absl::StrCat("metadata[", index, "]: ", encoded.status().message()));
  }
  *png = *std::move(encoded);
  return absl::OkStatus();
}

}  // namespace

Status ValidateEncodeImagesRequest(const v1::EncodeImagesRequest& request,
                                   const ImageCodecLimits& limits) {
  DUET_RETURN_IF_ERROR(CheckRange<int>("images count", request.images_size(), 1, limits.max_batch));
  for (int i = 0; i < request.images_size(); ++i) {
    if (request.images(i).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("image ", i, " is empty"));
    }
  }
  return absl::OkStatus();
}

StatusOr<torch::Tensor> ParseDecodeCodesRequest(const v1::DecodeCodesRequest& request,
                                                const vision::ImageTokenizerConfig& config,
                                                const ImageCodecLimits& limits) {
  const int64_t G = config.grid();
  const TensorSpec spec{"codes", v1::DTYPE_INT64, {-1, G, G}, 1, limits.max_batch};
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes, TensorFromProto(request.codes(), spec));
  DUET_RETURN_IF_ERROR(CheckIdRange(codes, "codes", 0, config.codebook_size()));
  if (request.metadata_size() != 0 && request.metadata_size() != codes.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat("metadata must be empty or have ",
                                                   codes.size(0), " entries, got ",
                                                   request.metadata_size()));
  }
  return codes;
}

grpc::ServerUnaryReactor* ImageCodecService::Encode(grpc::CallbackServerContext* context,
                                                    const v1::EncodeImagesRequest* request,
                                                    v1::EncodeImagesResponse* response) {
  if (Status valid = ValidateEncodeImagesRequest(*request, limits_); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return RunUnary(context, *queue_, [this, request, response]() -> Status {
    const std::vector<std::string> bytes(request->images().begin(), request->images().end());
    DUET_ASSIGN_OR_RETURN(std::vector<vision::Image> images,
                          pipeline_->DecodeBytes(bytes, limits_.image));
    DUET_ASSIGN_OR_RETURN(torch::Tensor codes, pipeline_->EncodeImages(images));
    return TensorToProto(codes.to(torch::kInt64), response->mutable_codes());
  });
}

grpc::ServerUnaryReactor* ImageCodecService::Decode(grpc::CallbackServerContext* context,
                                                    const v1::DecodeCodesRequest* request,
                                                    v1::DecodeCodesResponse* response) {
  StatusOr<torch::Tensor> codes =
      ParseDecodeCodesRequest(*request, pipeline_->config().image_tokenizer, limits_);
  if (!codes.ok()) return FinishNow(context, codes.status());
  return RunUnary(context, *queue_, [this, request, response, codes = *codes]() -> Status {
    for (int i = 0; i < codes.size(0); ++i) {
      const v1::ImageMetadata* metadata =
          request->metadata_size() > 0 ? &request->metadata(i) : nullptr;
      DUET_RETURN_IF_ERROR(DecodeOne(*pipeline_, codes, i, metadata, response->add_pngs()));
    }
    return absl::OkStatus();
  });
}

}  // namespace duet::services
