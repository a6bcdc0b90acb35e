// duet.v1.Duet, the public API: handlers validate, hand the work to the Orchestrator on a worker
// pool and stream progress, drafts and captions back.
#pragma once

#include <grpcpp/grpcpp.h>

#include "duet/v1/gateway.grpc.pb.h"
#include "services/common/work_queue.h"
#include "services/gateway/orchestrator.h"

namespace duet::services {

inline constexpr int kCaptionStreamWindow = 8;  // CaptionStream items in flight per stream
inline constexpr int kMaxCaptionIdBytes = 4096;  // CaptionStreamRequest.id

// Thread-safe. `orchestrator` and `queue` are not owned and must outlive the server.
class GatewayService final : public v1::Duet::CallbackService {
 public:
  GatewayService(const Orchestrator* orchestrator, WorkQueue* queue)
      : orchestrator_(orchestrator), queue_(queue) {}

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
  const Orchestrator* orchestrator_;
  WorkQueue* queue_;
};

}  // namespace duet::services
