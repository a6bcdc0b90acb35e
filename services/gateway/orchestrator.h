// The gateway's work: GenerateImages and Caption requests converted to the draft pipeline
// (pipeline/draft_pipeline.h), run over the three backends (remote_parts.h), and back to protos.
// Blocking; run on a worker pool. No LibTorch: the gateway holds no tensors.
#pragma once

#include <functional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "duet/v1/gateway.pb.h"
#include "model/model_config.h"
#include "services/gateway/remote_parts.h"

namespace duet::services {

// Thread-safe: every method may run concurrently (stubs and config are read-only).
class Orchestrator {
 public:
  // `max_image_bytes`: the largest Caption image, checked here before it is forwarded (the
  // image codec's own --max-image-mb should be the same).
  Orchestrator(model::ModelConfig config, const BackendAddresses& backends,
               int max_message_bytes, size_t max_image_bytes = size_t{32} << 20);

  // The pipeline's checks (pipeline::ValidateDrafts): InvalidArgument naming the field and its
  // limit. No backend is called.
  Status ValidateGenerate(const v1::GenerateImagesRequest& request) const;
  // InvalidArgument for an empty Caption image or one over max_image_bytes. Caption runs it first.
  Status ValidateCaption(const std::string& image) const;

  // Runs a request. `progress` gets (codes done, codes total) in increasing order, `draft` each
  // finished draft (index order, or best score first with rerank). Backend calls inherit
  // `context`'s deadline and cancellation. Errors name the backend that failed.
  Status GenerateImages(grpc::CallbackServerContext* context,
                        const v1::GenerateImagesRequest& request,
                        const std::function<void(int64_t, int64_t)>& progress,
                        const std::function<void(v1::Draft)>& draft) const;

  // One image (PNG/JPEG bytes) -> greedy caption and log p(caption | image).
  StatusOr<v1::CaptionResponse> Caption(grpc::CallbackServerContext* context,
                                        const std::string& image) const;

  // From the config; compute_dtype from the transformer's GetStats (left empty if it fails).
  void FillModelInfo(grpc::CallbackServerContext* context, v1::ModelInfo* info) const;
  const model::ModelConfig& config() const { return config_; }

 private:
  model::ModelConfig config_;
  size_t max_image_bytes_;
  Backends backends_;
};

}  // namespace duet::services
