// Implementation of services/gateway/gateway_service.h (CaptionStream is in caption_stream.cc).
#include "services/gateway/gateway_service.h"

#include "services/common/stream_writer.h"
#include "services/common/unary.h"
#include "services/gateway/caption_stream.h"

namespace duet::services {
namespace {

// A CaptionStream refused before it starts (no token, a wrong one).
class RefusedStream final
    : public grpc::ServerBidiReactor<v1::CaptionStreamRequest, v1::CaptionStreamResponse> {
 public:
  explicit RefusedStream(const Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::GenerateImagesResponse>* GatewayService::GenerateImages(
    grpc::CallbackServerContext* context, const v1::GenerateImagesRequest* request) {
  using Response = v1::GenerateImagesResponse;
  auto* writer = new StreamWriter<Response>();
  if (Status allowed = Authorize(*context); !allowed.ok()) {
    writer->Close(ToGrpcStatus(allowed));
    return writer;
  }
  if (Status valid = orchestrator_->ValidateGenerate(*request); !valid.ok()) {
    writer->Close(ToGrpcStatus(valid));
    return writer;
  }
  const Status submitted = queue_->Submit([this, context, request, writer] {
    const auto progress = [writer](int64_t done, int64_t total) {
      Response message;
      message.mutable_progress()->set_done(done);
      message.mutable_progress()->set_total(total);
      writer->Write(std::move(message), /*replaceable=*/true);
    };
    const auto draft = [writer](v1::Draft draft) {
      Response message;
      *message.mutable_draft() = std::move(draft);
      writer->Write(std::move(message), /*replaceable=*/false);
    };
    writer->Close(ToGrpcStatus(orchestrator_->GenerateImages(context, *request, progress, draft)));
  });
  if (!submitted.ok()) writer->Close(ToGrpcStatus(submitted));
  return writer;
}

grpc::ServerUnaryReactor* GatewayService::Caption(grpc::CallbackServerContext* context,
                                                  const v1::CaptionRequest* request,
                                                  v1::CaptionResponse* response) {
  if (Status allowed = Authorize(*context); !allowed.ok()) return FinishNow(context, allowed);
  if (Status valid = orchestrator_->ValidateCaption(request->image()); !valid.ok()) {
    return FinishNow(context, valid);  // empty or over --max-image-mb, before it is queued
  }
  return RunUnary(context, *queue_, [this, context, request, response]() -> Status {
    DUET_ASSIGN_OR_RETURN(*response, orchestrator_->Caption(context, request->image()));
    return absl::OkStatus();
  });
}

grpc::ServerBidiReactor<v1::CaptionStreamRequest, v1::CaptionStreamResponse>*
GatewayService::CaptionStream(grpc::CallbackServerContext* context) {
  if (Status allowed = Authorize(*context); !allowed.ok()) return new RefusedStream(allowed);
  return new CaptionStreamReactor(context, orchestrator_, queue_, kCaptionStreamWindow);
}

grpc::ServerUnaryReactor* GatewayService::GetModelInfo(grpc::CallbackServerContext* context,
                                                       const v1::GetModelInfoRequest*,
                                                       v1::ModelInfo* response) {
  if (Status allowed = Authorize(*context); !allowed.ok()) return FinishNow(context, allowed);
  // Asks the transformer for its dtype, so it runs on the queue, never on gRPC's thread.
  return RunUnary(context, *queue_, [this, context, response]() -> Status {
    orchestrator_->FillModelInfo(context, response);
    return absl::OkStatus();
  });
}

}  // namespace duet::services
