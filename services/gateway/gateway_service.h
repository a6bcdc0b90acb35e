// duet.v1.Duet, the public API: handlers validate, hand the work to the Orchestrator on a worker
// pool and stream progress, drafts and captions back.
#pragma once

#include <grpcpp/grpcpp.h>

#include "duet/v1/gateway.grpc.pb.h"
#include "services/common/work_queue.h"
#include "services/gateway/orchestrator.h"
#include "services/gateway/token_auth.h"

namespace duet::services {

inline constexpr int kCaptionStreamWindow = 8;  // CaptionStream items in flight per stream
inline constexpr int kMaxCaptionIdBytes = 4096;  // CaptionStreamRequest.id

// Thread-safe. `orchestrator`, `queue` and `auth` are not owned and must outlive the server.
// With `auth`, every RPC first checks the caller's bearer token.
class GatewayService final : public v1::Duet::CallbackService {
 public:
  GatewayService(const Orchestrator* orchestrator, WorkQueue* queue,
                 const TokenAuth* auth = nullptr)
      : orchestrator_(orchestrator), queue_(queue), auth_(auth) {}

  grpc::ServerWriteReactor<v1::GenerateImagesResponse>* GenerateImages(
      grpc::CallbackServerContext* context, const v1::GenerateImagesRequest* request) override;
  grpc::ServerUnaryReactor* Caption(grpc::CallbackServerContext* context,
                                    const v1::CaptionRequest* request,
                                    v1::CaptionResponse* response) override;
  grpc::ServerBidiReactor<v1::CaptionStreamRequest, v1::CaptionStreamResponse>* CaptionStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

 private:
  Status Authorize(const grpc::CallbackServerContext& context) const {
    return auth_ == nullptr ? absl::OkStatus() : auth_->Check(context);
  }

  const Orchestrator* orchestrator_;
  WorkQueue* queue_;
  const TokenAuth* auth_;
};

}  // namespace duet::services
