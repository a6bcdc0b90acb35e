// libFuzzer target: the request checks of every RPC, fed from protobuf bytes. The first byte picks
// the RPC, the rest is parsed as its request; a check may only answer OK or InvalidArgument.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "pipeline/png_metadata.h"
#include "services/common/server_runner.h"
#include "services/gateway/caption_stream.h"
#include "services/gateway/orchestrator.h"
#include "services/image_codec/image_codec_service.h"
#include "services/text_encoder/text_encoder_service.h"
#include "services/transformer/transformer_service.h"
#include "vision/png_codec.h"

namespace duet::services {
namespace {

constexpr int kRpcCount = 10;                   // The RPCs with request checks, numbered below.
constexpr size_t kMaxCaptionImageBytes = 4096;  // Small, so the fuzzer reaches the limit.
constexpr char kNoBackend[] = "127.0.0.1:1";    // Channels connect lazily; nothing calls them.

// A tiny model shape (grid 2, 16 codes, prefix up to 4 x 8), so valid tensors are a few bytes.
model::ModelConfig TinyConfig() {
  model::ModelConfig config;
  config.text_encoder.max_len = 4;
  config.text_encoder.d_model = 8;
  config.image_tokenizer.resolution = 16;
  config.image_tokenizer.fsq_levels = {4, 4};
  config.transformer.max_caption_len = 8;
  config.Derive();
  return config;
}

const model::ModelConfig* config = nullptr;
const Orchestrator* orchestrator = nullptr;
const vision::Image* pixel = nullptr;  // 1x1, to push metadata through EncodePng

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

// Parses data[0, size) as Message and runs `check` on it, which may only refuse the client.
template <typename Message, typename Check>
void Fuzz(const uint8_t* data, size_t size, Check check) {
  Message request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  const Status status = check(request);
  Require(status.ok() || absl::IsInvalidArgument(status));
}

// What the image codec does with metadata after decoding: a client's text may be refused
// (InvalidArgument), but must never make libpng fail (Internal).
Status CheckMetadata(const std::vector<vision::PngTextEntry>& text) {
  const StatusOr<std::string> png = vision::EncodePng(*pixel, text);
  Require(png.ok() || absl::IsInvalidArgument(png.status()));
  return png.status();
}

Status GenerateImages(const v1::GenerateImagesRequest& request) {
  DUET_RETURN_IF_ERROR(orchestrator->ValidateGenerate(request));
  // A prompt that passed must also fit every draft's PNG metadata, written after generation.
  const fusion::SamplingParams sampling = config->sampling.Params(request.seed());
  Require(CheckMetadata(pipeline::DraftMetadata(request.prompt(), request.seed(), sampling,
                                             config->name, request.rerank(), 0.0))
              .ok());
  return absl::OkStatus();
}

Status DecodeCodes(const v1::DecodeCodesRequest& request) {
  const ImageCodecLimits limits;
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes,
                        ParseDecodeCodesRequest(request, config->image_tokenizer, limits));
  Require(codes.dim() == 3 && codes.size(0) >= 1 && codes.size(0) <= limits.max_batch);
  for (const v1::ImageMetadata& metadata : request.metadata()) {
    std::vector<vision::PngTextEntry> text;
    for (const v1::PngText& entry : metadata.text()) text.emplace_back(entry.key(), entry.value());
    (void)CheckMetadata(text);  // The worker's check; its verdict is not part of validation.
  }
  return absl::OkStatus();
}

void FuzzRequest(int rpc, const uint8_t* data, size_t size) {
  const fusion::TransformerConfig& transformer = config->transformer;
  switch (rpc) {
    case 0:  // Duet.GenerateImages
      return Fuzz<v1::GenerateImagesRequest>(data, size, GenerateImages);
    case 1:  // Duet.Caption
      return Fuzz<v1::CaptionRequest>(data, size, [](const v1::CaptionRequest& r) {
        return orchestrator->ValidateCaption(r.image());
      });
    case 2:  // Duet.CaptionStream, one item
      return Fuzz<v1::CaptionStreamRequest>(data, size, [](const v1::CaptionStreamRequest& r) {
        return ValidateCaptionStreamItem(r.id(), r.image());
      });
    case 3:  // TextEncoder.Encode
      return Fuzz<v1::EncodeTextRequest>(data, size, [](const v1::EncodeTextRequest& r) {
        return ValidateEncodeTextRequest(r, TextEncoderLimits{});
      });
    case 4:  // TextEncoder.Decode
      return Fuzz<v1::DecodeTextRequest>(data, size, [](const v1::DecodeTextRequest& r) {
        return ValidateDecodeTextRequest(r, TextEncoderLimits{});
      });
    case 5:  // ImageCodec.Encode
      return Fuzz<v1::EncodeImagesRequest>(data, size, [](const v1::EncodeImagesRequest& r) {
        return ValidateEncodeImagesRequest(r, ImageCodecLimits{});
      });
    case 6:  // ImageCodec.Decode
      return Fuzz<v1::DecodeCodesRequest>(data, size, DecodeCodes);
    case 7:  // MultimodalTransformer.GenerateImageCodes
      return Fuzz<v1::GenerateImageCodesRequest>(data, size, [&](const auto& r) {
        return ParseImageRequest(r, transformer, config->sampling.Params()).status();
      });
    case 8:  // MultimodalTransformer.GenerateText
      return Fuzz<v1::GenerateTextRequest>(data, size, [&](const auto& r) {
        return ParseTextRequest(r, transformer).status();
      });
    default:  // MultimodalTransformer.ScoreText
      return Fuzz<v1::ScoreTextRequest>(data, size, [&](const auto& r) {
        return ParseScoreRequest(r, transformer).status();
      });
  }
}

void Initialize() {
  google::protobuf::SetLogHandler(nullptr);  // Mutes "invalid UTF-8 in a string field", per input.
  config = new model::ModelConfig(TinyConfig());
  if (const Status valid = config->Validate(); !valid.ok()) {
    std::fprintf(stderr, "requests_fuzzer: %s\n", std::string(valid.message()).c_str());
    std::exit(1);
  }
  const BackendAddresses backends{kNoBackend, kNoBackend, kNoBackend};
  orchestrator =
      new Orchestrator(*config, backends, kDefaultMaxMessageBytes, kMaxCaptionImageBytes);
  pixel = new vision::Image{1, 1, {0, 0, 0}};
}

}  // namespace
}  // namespace duet::services

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  duet::services::Initialize();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  duet::services::FuzzRequest(data[0] % duet::services::kRpcCount, data + 1, size - 1);
  return 0;
}
