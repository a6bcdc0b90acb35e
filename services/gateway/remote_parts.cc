// Implementation of services/gateway/remote_parts.h.
#include "services/gateway/remote_parts.h"

#include <optional>

#include "services/common/channel.h"
#include "services/common/status_convert.h"
#include "services/common/wire_values.h"

namespace duet::services {
namespace {

constexpr char kTextEncoderName[] = "text-encoder";
constexpr char kImageCodecName[] = "image-codec";
constexpr char kTransformerName[] = "transformer";

// A backend's verdict on the client's own data (the prompt, the image): INVALID_ARGUMENT names
// the client's field; other failures name the backend.
Status ClientDataStatus(const grpc::Status& status, const char* field, const std::string& backend,
                        const std::string& address) {
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.error_message()));
  }
  return FromBackendStatus(status, backend, address);
}

void GridsToProto(const pipeline::CodeGrids& codes, v1::Tensor* proto) {
  ValuesToProto(codes.codes, {codes.count, codes.grid, codes.grid}, proto);
}

void IdsToProto(const std::vector<int64_t>& ids, v1::TokenIds* proto) {
  proto->mutable_ids()->Add(ids.begin(), ids.end());
}

}  // namespace

Backends::Backends(const BackendAddresses& backends, int max_message_bytes)
    : addresses(backends),
      text_encoder(v1::TextEncoder::NewStub(
          MakeChannel(backends.text_encoder, max_message_bytes, backends.credentials))),
      image_codec(v1::ImageCodec::NewStub(
          MakeChannel(backends.image_codec, max_message_bytes, backends.credentials))),
      transformer(v1::MultimodalTransformer::NewStub(
          MakeChannel(backends.transformer, max_message_bytes, backends.credentials))) {}

std::unique_ptr<grpc::ClientContext> ChildContext(grpc::CallbackServerContext* context) {
  if (context == nullptr) return std::make_unique<grpc::ClientContext>();
  return grpc::ClientContext::FromCallbackServerContext(*context);
}

StatusOr<pipeline::CodeGrids> RemoteParts::GridsFromProto(const v1::Tensor& codes,
                                                          int64_t count) const {
  const int64_t G = config_.transformer.image_grid;
  pipeline::CodeGrids grids{count, G, {}};
  DUET_ASSIGN_OR_RETURN(grids.codes, Int64sFromProto(codes, {"codes", v1::DTYPE_INT64,
                                                             {count, G, G}}));
  return grids;
}

StatusOr<pipeline::EncodedPrompt> RemoteParts::EncodePrompt(const std::string& prompt) {
  v1::EncodeTextRequest request;
  request.add_texts(prompt);
  v1::EncodeTextResponse response;
  auto child = Child();
  DUET_RETURN_IF_ERROR(ClientDataStatus(
      backends_.text_encoder->Encode(child.get(), request, &response), "prompt",
      kTextEncoderName, backends_.addresses.text_encoder));
  const int64_t D = config_.transformer.text_dim, P = config_.transformer.text_prefix_len;
  std::vector<int64_t> shape;
  DUET_ASSIGN_OR_RETURN(const std::vector<float> embeddings,
                        FloatsFromProto(response.embeddings(),
                                        {"embeddings", v1::DTYPE_FLOAT32, {1, -1, D}, 1, P}, &shape));
  const int64_t padded = shape[1];
  DUET_ASSIGN_OR_RETURN(const std::vector<int64_t> ids,
                        Int64sFromProto(response.ids(), {"ids", v1::DTYPE_INT64, {1, padded}}));
  DUET_ASSIGN_OR_RETURN(const std::vector<int64_t> lengths,
                        Int64sFromProto(response.lengths(), {"lengths", v1::DTYPE_INT64, {1}}));
  const int64_t length = lengths[0];
  if (length < 1 || length > padded) {
    return absl::InternalError(absl::StrCat(kTextEncoderName, " returned length ", length));
  }
  pipeline::EncodedPrompt out;
  out.ids.assign(ids.begin(), ids.begin() + length);
  out.embeddings.assign(embeddings.begin(), embeddings.begin() + length * D);
  out.width = D;
  return out;
}

StatusOr<std::vector<std::string>> RemoteParts::Detokenize(
    const std::vector<std::vector<int64_t>>& ids) {
  v1::DecodeTextRequest request;
  for (const auto& row : ids) IdsToProto(row, request.add_sequences());
  v1::DecodeTextResponse response;
  auto child = Child();
  DUET_RETURN_IF_ERROR(
      FromBackendStatus(backends_.text_encoder->Decode(child.get(), request, &response),
                        kTextEncoderName, backends_.addresses.text_encoder));
  return std::vector<std::string>(response.texts().begin(), response.texts().end());
}

StatusOr<pipeline::CodeGrids> RemoteParts::GenerateCodes(const pipeline::EncodedPrompt& prompt,
                                                         int count,
                                                         const fusion::SamplingParams& sampling,
                                                         const pipeline::ProgressFn& progress) {
  v1::GenerateImageCodesRequest request;
  ValuesToProto(prompt.embeddings,
                {static_cast<int64_t>(prompt.ids.size()), prompt.width}, request.mutable_prefix());
  request.set_count(count);
  SamplingToProto(sampling, request.mutable_sampling());
  auto child = Child();
  auto reader = backends_.transformer->GenerateImageCodes(child.get(), request);
  v1::GenerateImageCodesResponse response;
  std::optional<v1::Tensor> codes;
  while (reader->Read(&response)) {
    if (response.has_progress()) {
      if (progress && !progress(response.progress().done() * count,
                                response.progress().total() * count)) {
        child->TryCancel();
      }
    } else if (response.has_codes()) {
      codes = std::move(*response.mutable_codes());
    }
  }
  DUET_RETURN_IF_ERROR(FromBackendStatus(reader->Finish(), kTransformerName,
                                         backends_.addresses.transformer));
  if (!codes.has_value()) {
    return absl::InternalError(absl::StrCat(kTransformerName, " sent no codes"));
  }
  return GridsFromProto(*codes, count);
}

StatusOr<std::vector<std::vector<int64_t>>> RemoteParts::GenerateCaptions(
    const pipeline::CodeGrids& codes, const fusion::SamplingParams& sampling, int max_tokens) {
  v1::GenerateTextRequest request;
  GridsToProto(codes, request.mutable_codes());
  SamplingToProto(sampling, request.mutable_sampling());
  request.set_max_tokens(max_tokens);
  auto child = Child();
  auto reader = backends_.transformer->GenerateText(child.get(), request);
  v1::GenerateTextResponse response;
  std::optional<std::vector<std::vector<int64_t>>> ids;
  while (reader->Read(&response)) {
    if (!response.has_captions()) continue;
    ids.emplace();
    for (const v1::TokenIds& text : response.captions().texts()) {
      ids->emplace_back(text.ids().begin(), text.ids().end());
    }
  }
  DUET_RETURN_IF_ERROR(FromBackendStatus(reader->Finish(), kTransformerName,
                                         backends_.addresses.transformer));
  if (!ids.has_value()) return absl::InternalError(absl::StrCat(kTransformerName, " sent no caption"));
  return *std::move(ids);
}

StatusOr<std::vector<double>> RemoteParts::ScoreText(
    const pipeline::CodeGrids& codes, const std::vector<std::vector<int64_t>>& texts) {
  v1::ScoreTextRequest request;
  GridsToProto(codes, request.mutable_codes());
  for (const auto& ids : texts) IdsToProto(ids, request.add_texts());
  v1::ScoreTextResponse response;
  auto child = Child();
  DUET_RETURN_IF_ERROR(
      FromBackendStatus(backends_.transformer->ScoreText(child.get(), request, &response),
                        kTransformerName, backends_.addresses.transformer));
  return std::vector<double>(response.log_probs().begin(), response.log_probs().end());
}

StatusOr<std::vector<std::string>> RemoteParts::DecodePngs(
    const pipeline::CodeGrids& codes, const std::vector<pipeline::PngText>& metadata) {
  v1::DecodeCodesRequest request;
  GridsToProto(codes, request.mutable_codes());
  for (const pipeline::PngText& text : metadata) {
    v1::ImageMetadata* image = request.add_metadata();
    for (const auto& [key, value] : text) {
      v1::PngText* entry = image->add_text();
      entry->set_key(key);
      entry->set_value(value);
    }
  }
  v1::DecodeCodesResponse response;
  auto child = Child();
  DUET_RETURN_IF_ERROR(
      FromBackendStatus(backends_.image_codec->Decode(child.get(), request, &response),
                        kImageCodecName, backends_.addresses.image_codec));
  std::vector<std::string> pngs;
  for (std::string& png : *response.mutable_pngs()) pngs.push_back(std::move(png));
  return pngs;
}

StatusOr<pipeline::CodeGrids> RemoteParts::EncodeImages(const std::vector<std::string>& images) {
  v1::EncodeImagesRequest request;
  for (const std::string& image : images) request.add_images(image);
  v1::EncodeImagesResponse response;
  auto child = Child();
  DUET_RETURN_IF_ERROR(ClientDataStatus(
      backends_.image_codec->Encode(child.get(), request, &response), "image", kImageCodecName,
      backends_.addresses.image_codec));
  return GridsFromProto(response.codes(), static_cast<int64_t>(images.size()));
}

}  // namespace duet::services
