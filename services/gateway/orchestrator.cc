// Implementation of services/gateway/orchestrator.h.
#include "services/gateway/orchestrator.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "language/utf8.h"
#include "model/duet_model.h"
#include "model/png_metadata.h"
#include "services/common/metrics.h"
#include "services/common/server_runner.h"
#include "services/common/status_convert.h"
#include "services/common/wire.h"

namespace duet::services {
namespace {

constexpr char kTextEncoderName[] = "text-encoder";
constexpr char kImageCodecName[] = "image-codec";
constexpr char kTransformerName[] = "transformer";

std::unique_ptr<grpc::ClientContext> ChildContext(grpc::CallbackServerContext* context) {
  if (context == nullptr) return std::make_unique<grpc::ClientContext>();
  return grpc::ClientContext::FromCallbackServerContext(*context);
}

// The request's sampling settings, unset ones from the model's config.json.
fusion::SamplingParams SamplingOf(const v1::GenerateImagesRequest& r,
                                  const model::SamplingDefaults& defaults) {
  model::SamplingOverrides o;
  if (r.has_temperature()) o.temperature = r.temperature();
  if (r.has_top_k()) o.top_k = r.top_k();
  if (r.has_top_p()) o.top_p = r.top_p();
  if (r.has_guidance_scale()) o.guidance_scale = r.guidance_scale();
  o.seed = r.seed();
  return o.Resolve(defaults);
}

v1::ImageMetadata ToMetadata(const model::PngText& text) {
  v1::ImageMetadata metadata;
  for (const auto& [key, value] : text) {
    v1::PngText* entry = metadata.add_text();
    entry->set_key(key);
    entry->set_value(value);
  }
  return metadata;
}

// A backend's verdict on the client's own data (the prompt, the image): INVALID_ARGUMENT names
// the client's field; other failures name the backend.
Status ClientDataStatus(const grpc::Status& status, const char* field, const std::string& backend,
                        const std::string& address) {
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.error_message()));
  }
  return FromBackendStatus(status, backend, address);
}

}  // namespace

struct Orchestrator::Prompt {
  v1::Tensor prefix;         // [L, text_dim] float32
  std::vector<int64_t> ids;  // L token ids
};

Orchestrator::Orchestrator(model::ModelConfig config, const BackendAddresses& backends,
                           int max_message_bytes, size_t max_image_bytes)
    : config_(std::move(config)),
      max_image_bytes_(max_image_bytes),
      addresses_(backends),
      text_encoder_(v1::TextEncoder::NewStub(
          MakeChannel(backends.text_encoder, max_message_bytes, backends.credentials))),
      image_codec_(v1::ImageCodec::NewStub(
          MakeChannel(backends.image_codec, max_message_bytes, backends.credentials))),
      transformer_(v1::MultimodalTransformer::NewStub(
          MakeChannel(backends.transformer, max_message_bytes, backends.credentials))) {}

Status Orchestrator::ValidateGenerate(const v1::GenerateImagesRequest& request) const {
  const std::string& prompt = request.prompt();
  if (prompt.empty()) return absl::InvalidArgumentError("prompt must not be empty");
  if (prompt.size() > kMaxPromptBytes) {
    return absl::InvalidArgumentError(absl::StrCat("prompt is ", prompt.size(),
                                                   " bytes, the limit is ", kMaxPromptBytes));
  }
  if (Status utf8 = language::ValidateUtf8(prompt); !utf8.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", utf8.message()));
  }
  DUET_RETURN_IF_ERROR(model::CheckPromptForMetadata(prompt));  // before any work
  DUET_RETURN_IF_ERROR(CheckRange<int>("count", request.count(), 1, model::kMaxDrafts));
  return fusion::ValidateSampling(SamplingOf(request, config_.sampling), config_.transformer.image_codebook);
}

StatusOr<Orchestrator::Prompt> Orchestrator::EncodePrompt(grpc::CallbackServerContext* context,
                                                          const std::string& text) const {
  v1::EncodeTextRequest request;
  request.add_texts(text);
  v1::EncodeTextResponse response;
  auto child = ChildContext(context);
  DUET_RETURN_IF_ERROR(ClientDataStatus(text_encoder_->Encode(child.get(), request, &response),
                                        "prompt", kTextEncoderName, addresses_.text_encoder));
  const int64_t D = config_.transformer.text_dim, P = config_.transformer.text_prefix_len;
  DUET_ASSIGN_OR_RETURN(torch::Tensor embeddings,
                        TensorFromProto(response.embeddings(),
                                        {"embeddings", v1::DTYPE_FLOAT32, {1, -1, D}, 1, P}));
  DUET_ASSIGN_OR_RETURN(torch::Tensor ids,
                        TensorFromProto(response.ids(), {"ids", v1::DTYPE_INT64, {1, -1}, 1, P}));
  DUET_ASSIGN_OR_RETURN(torch::Tensor lengths, TensorFromProto(response.lengths(),
                                                               {"lengths", v1::DTYPE_INT64, {1}}));
  const int64_t length = lengths[0].item<int64_t>();
  if (length < 1 || length > embeddings.size(1) || length > ids.size(1)) {
    return absl::InternalError(absl::StrCat(kTextEncoderName, " returned length ", length));
  }
  Prompt prompt;
  DUET_RETURN_IF_ERROR(TensorToProto(embeddings[0].narrow(0, 0, length), &prompt.prefix));
  const torch::Tensor row = ids[0].narrow(0, 0, length).contiguous();
  prompt.ids.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
  return prompt;
}

StatusOr<torch::Tensor> Orchestrator::GenerateCodes(
    grpc::CallbackServerContext* context, const v1::GenerateImageCodesRequest& request,
    const std::function<void(int64_t, int64_t)>& progress) const {
  auto child = ChildContext(context);
  auto reader = transformer_->GenerateImageCodes(child.get(), request);
  v1::GenerateImageCodesResponse response;
  std::optional<v1::Tensor> codes;
  const int64_t count = request.count();
  while (reader->Read(&response)) {
    if (response.has_progress()) {
      progress(response.progress().done() * count, response.progress().total() * count);
    } else if (response.has_codes()) {
      codes = std::move(*response.mutable_codes());
    }
  }
  DUET_RETURN_IF_ERROR(
      FromBackendStatus(reader->Finish(), kTransformerName, addresses_.transformer));
  if (!codes.has_value()) {
    return absl::InternalError(absl::StrCat(kTransformerName, " sent no codes"));
  }
  const int64_t G = config_.transformer.image_grid;
  return TensorFromProto(*codes, {"codes", v1::DTYPE_INT64, {count, G, G}});
}

StatusOr<std::vector<double>> Orchestrator::Score(
    grpc::CallbackServerContext* context, const torch::Tensor& codes,
    const std::vector<std::vector<int64_t>>& texts) const {
  v1::ScoreTextRequest request;
  DUET_RETURN_IF_ERROR(TensorToProto(codes, request.mutable_codes()));
  for (const auto& ids : texts) request.add_texts()->mutable_ids()->Add(ids.begin(), ids.end());
  v1::ScoreTextResponse response;
  auto child = ChildContext(context);
  DUET_RETURN_IF_ERROR(FromBackendStatus(transformer_->ScoreText(child.get(), request, &response),
                                         kTransformerName, addresses_.transformer));
  if (response.log_probs_size() != static_cast<int>(texts.size())) {
    return absl::InternalError(absl::StrCat(kTransformerName, " returned ",
                                            response.log_probs_size(), " scores"));
  }
  return std::vector<double>(response.log_probs().begin(), response.log_probs().end());
}

Status Orchestrator::GenerateImages(grpc::CallbackServerContext* context,
                                    const v1::GenerateImagesRequest& request,
                                    const std::function<void(int64_t, int64_t)>& progress,
                                    const std::function<void(v1::Draft)>& draft) const {
  DUET_ASSIGN_OR_RETURN(Prompt prompt, EncodePrompt(context, request.prompt()));
  v1::GenerateImageCodesRequest generate;
  *generate.mutable_prefix() = std::move(prompt.prefix);
  generate.set_count(request.count());
  SamplingToProto(SamplingOf(request, config_.sampling), generate.mutable_sampling());
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes, GenerateCodes(context, generate, progress));
  std::vector<int> order(request.count());
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> scores(request.count(), 0.0);
  if (request.rerank()) {
    // Scoring reads the prompt as a caption, so it is cut to the caption length.
    std::vector<int64_t> ids = prompt.ids;
    ids.resize(std::min<size_t>(ids.size(), config_.transformer.max_caption_len - 1));
    DUET_ASSIGN_OR_RETURN(scores, Score(context, codes, {order.size(), ids}));
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  }
  return DecodeDrafts(context, codes, order, scores, request, draft);
}

Status Orchestrator::DecodeDrafts(grpc::CallbackServerContext* context, const torch::Tensor& codes,
                                  const std::vector<int>& order, const std::vector<double>& scores,
                                  const v1::GenerateImagesRequest& request,
                                  const std::function<void(v1::Draft)>& draft) const {
  const fusion::SamplingParams sampling = SamplingOf(request, config_.sampling);
  for (size_t first = 0; first < order.size(); first += kDecodeChunk) {
    const size_t end = std::min(order.size(), first + kDecodeChunk);
    const std::vector<int64_t> chunk(order.begin() + first, order.begin() + end);
    v1::DecodeCodesRequest decode;
    DUET_RETURN_IF_ERROR(TensorToProto(codes.index_select(0, torch::tensor(chunk)),
                                       decode.mutable_codes()));
    for (int64_t index : chunk) {
      *decode.add_metadata() = ToMetadata(model::DraftMetadata(
          request.prompt(), sampling.seed + index, sampling, config_.name, request.rerank(),
          scores[index]));
    }
    v1::DecodeCodesResponse response;
    auto child = ChildContext(context);
    DUET_RETURN_IF_ERROR(FromBackendStatus(image_codec_->Decode(child.get(), decode, &response),
                                           kImageCodecName, addresses_.image_codec));
    if (response.pngs_size() != static_cast<int>(chunk.size())) {
      return absl::InternalError(absl::StrCat(kImageCodecName, " returned ",
                                              response.pngs_size(), " images"));
    }
    for (size_t i = 0; i < chunk.size(); ++i) {
      v1::Draft out;
      out.set_index(static_cast<int>(chunk[i]));
      out.set_seed(sampling.seed + chunk[i]);
      out.set_score(scores[chunk[i]]);
      out.set_png(std::move(*response.mutable_pngs(static_cast<int>(i))));
      draft(std::move(out));
      ProcessMetrics().Add("duet_drafts_total", {});
    }
  }
  return absl::OkStatus();
}

StatusOr<std::vector<int64_t>> Orchestrator::CaptionIds(grpc::CallbackServerContext* context,
                                                        const v1::Tensor& codes) const {
  v1::GenerateTextRequest request;
  *request.mutable_codes() = codes;
  request.set_max_tokens(config_.transformer.max_caption_len - 1);  // room for EOS when scored
  auto child = ChildContext(context);
  auto reader = transformer_->GenerateText(child.get(), request);
  v1::GenerateTextResponse response;
  std::vector<int64_t> ids;
  bool got = false;
  while (reader->Read(&response)) {
    if (response.has_captions() && response.captions().texts_size() == 1) {
      const auto& out = response.captions().texts(0).ids();
      ids.assign(out.begin(), out.end());
      got = true;
    }
  }
  DUET_RETURN_IF_ERROR(
      FromBackendStatus(reader->Finish(), kTransformerName, addresses_.transformer));
  if (!got) return absl::InternalError(absl::StrCat(kTransformerName, " sent no caption"));
  return ids;
}

Status Orchestrator::ValidateCaption(const std::string& image) const {
  if (image.empty()) return absl::InvalidArgumentError("image must not be empty");
  if (image.size() > max_image_bytes_) {  // at the edge, before the codec sees it
    return absl::InvalidArgumentError(absl::StrCat("image is ", image.size(),
                                                   " bytes, the limit is ", max_image_bytes_));
  }
  return absl::OkStatus();
}

StatusOr<v1::CaptionResponse> Orchestrator::Caption(grpc::CallbackServerContext* context,
                                                    const std::string& image) const {
  DUET_RETURN_IF_ERROR(ValidateCaption(image));
  v1::EncodeImagesRequest encode;
  encode.add_images(image);
  v1::EncodeImagesResponse encoded;
  {
    auto child = ChildContext(context);
    DUET_RETURN_IF_ERROR(ClientDataStatus(image_codec_->Encode(child.get(), encode, &encoded),
                                          "image", kImageCodecName, addresses_.image_codec));
  }
  DUET_ASSIGN_OR_RETURN(std::vector<int64_t> ids, CaptionIds(context, encoded.codes()));
  v1::DecodeTextRequest decode;
  decode.add_sequences()->mutable_ids()->Add(ids.begin(), ids.end());
  v1::DecodeTextResponse text;
  {
    auto child = ChildContext(context);
    DUET_RETURN_IF_ERROR(FromBackendStatus(text_encoder_->Decode(child.get(), decode, &text),
                                           kTextEncoderName, addresses_.text_encoder));
  }
  const int64_t G = config_.transformer.image_grid;
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes,
                        TensorFromProto(encoded.codes(), {"codes", v1::DTYPE_INT64, {1, G, G}}));
  DUET_ASSIGN_OR_RETURN(std::vector<double> score, Score(context, codes, {ids}));
  v1::CaptionResponse response;
  response.set_caption(text.texts_size() == 1 ? text.texts(0) : "");
  response.set_score(score.at(0));
  ProcessMetrics().Add("duet_captions_total", {});
  return response;
}

void Orchestrator::FillModelInfo(grpc::CallbackServerContext* context, v1::ModelInfo* info) const {
  info->set_name(config_.name);
  info->set_image_resolution(config_.image_tokenizer.resolution);
  info->set_image_grid(config_.transformer.image_grid);
  info->set_codebook_size(config_.transformer.image_codebook);
  info->set_text_vocab_size(config_.transformer.text_vocab);
  info->set_max_prompt_tokens(config_.text_encoder.max_len);
  info->set_max_caption_tokens(config_.transformer.max_caption_len - 1);
  info->set_max_drafts(model::kMaxDrafts);
  info->set_config_json(config_.ToJson().dump(2));
  SamplingToProto(config_.sampling.Params(), info->mutable_default_sampling());
  v1::TransformerStats stats;
  auto child = ChildContext(context);
  if (transformer_->GetStats(child.get(), v1::GetStatsRequest(), &stats).ok()) {
    info->set_compute_dtype(stats.compute_dtype());
  }
}

}  // namespace duet::services
