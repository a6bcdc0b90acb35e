// Implementation of services/text_encoder/text_encoder_service.h.
#include "services/text_encoder/text_encoder_service.h"

#include "language/utf8.h"
#include "services/common/unary.h"
#include "services/common/wire.h"

namespace duet::services {

Status ValidateEncodeTextRequest(const v1::EncodeTextRequest& request,
                                 const TextEncoderLimits& limits) {
  DUET_RETURN_IF_ERROR(CheckRange<int>("texts count", request.texts_size(), 1, limits.max_batch));
  for (int i = 0; i < request.texts_size(); ++i) {
    const std::string& text = request.texts(i);
    if (text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "] must not be empty"));
    }
    if (static_cast<int>(text.size()) > limits.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "] is ", text.size(),
                                                     " bytes, the limit is ",
                                                     limits.max_text_bytes));
    }
    if (Status utf8 = language::ValidateUtf8(text); !utf8.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "]: ", utf8.message()));
    }
  }
  return absl::OkStatus();
}

Status ValidateDecodeTextRequest(const v1::DecodeTextRequest& request,
                                 const TextEncoderLimits& limits) {
  DUET_RETURN_IF_ERROR(
      CheckRange<int>("sequences count", request.sequences_size(), 1, limits.max_batch));
  for (int i = 0; i < request.sequences_size(); ++i) {
    if (request.sequences(i).ids_size() > limits.max_decode_ids) {
      return absl::InvalidArgumentError(absl::StrCat("sequences[", i, "] has ",
                                                     request.sequences(i).ids_size(),
                                                     " ids, the limit is ", limits.max_decode_ids));
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* TextEncoderService::Encode(grpc::CallbackServerContext* context,
                                                     const v1::EncodeTextRequest* request,
                                                     v1::EncodeTextResponse* response) {
  if (Status valid = ValidateEncodeTextRequest(*request, limits_); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return RunUnary(context, *queue_, [this, request, response]() -> Status {
    const std::vector<std::string> texts(request->texts().begin(), request->texts().end());
    const int64_t max_tokens = pipeline_->config().text_encoder.max_len;
    for (size_t i = 0; i < texts.size(); ++i) {  // one at a time, so errors name texts[i]
      if (Status s = pipeline_->Tokenize({texts[i]}, max_tokens).status(); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("texts[", i, "]: ", s.message()));
      }
    }
    DUET_ASSIGN_OR_RETURN(model::EncodedTexts encoded, pipeline_->Encode(texts));
    DUET_RETURN_IF_ERROR(TensorToProto(encoded.ids, response->mutable_ids()));
    DUET_RETURN_IF_ERROR(TensorToProto(encoded.lengths, response->mutable_lengths()));
    return TensorToProto(encoded.embeddings.to(torch::kFloat32), response->mutable_embeddings());
  });
}

grpc::ServerUnaryReactor* TextEncoderService::Decode(grpc::CallbackServerContext* context,
                                                     const v1::DecodeTextRequest* request,
                                                     v1::DecodeTextResponse* response) {
  if (Status valid = ValidateDecodeTextRequest(*request, limits_); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return RunUnary(context, *queue_, [this, request, response]() -> Status {
    for (int i = 0; i < request->sequences_size(); ++i) {
      const auto& ids = request->sequences(i).ids();
      StatusOr<std::string> text = pipeline_->Detokenize({ids.begin(), ids.end()});
      if (!text.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("sequences[", i, "]: ",
                                                       text.status().message()));
      }
      response->add_texts(*std::move(text));
    }
    return absl::OkStatus();
  });
}

}  // namespace duet::services
