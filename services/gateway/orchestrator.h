// The gateway's work: text -> images and image -> caption as sequences of calls to the three
// backends (TextEncoder, MultimodalTransformer, ImageCodec). Blocking; run on a worker pool.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include "common/status.h"
#include "duet/v1/gateway.pb.h"
#include "duet/v1/image_codec.grpc.pb.h"
#include "duet/v1/text_encoder.grpc.pb.h"
#include "duet/v1/transformer.grpc.pb.h"
#include "model/model_config.h"

namespace duet::services {

struct BackendAddresses {
  std::string text_encoder;  // host:port, "a:1,b:2" for replicas, or any gRPC target (dns:///...)
  std::string image_codec;
  std::string transformer;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plaintext
};

inline constexpr int kMaxPromptBytes = 2048;  // UTF-8 bytes per prompt
inline constexpr int kDecodeChunk = 16;       // drafts per ImageCodec.Decode call

// Thread-safe: every method may run concurrently (stubs and config are read-only).
class Orchestrator {
 public:
  // `max_image_bytes`: the largest Caption image, checked here before it is forwarded (the
  // image codec's own --max_image_mb should be the same).
  Orchestrator(model::ModelConfig config, const BackendAddresses& backends,
               int max_message_bytes, size_t max_image_bytes = size_t{32} << 20);

  // InvalidArgument naming the field and its limit: prompt (empty, > kMaxPromptBytes bytes,
  // invalid UTF-8), count outside [1, 256], and the sampling fields.
  Status ValidateGenerate(const v1::GenerateImagesRequest& request) const;
  // InvalidArgument for an empty Caption image or one over max_image_bytes. Caption runs it first.
  Status ValidateCaption(const std::string& image) const;

  // Runs a validated request. `progress` gets (codes done, codes total) in increasing order,
  // `draft` each finished draft (index order, or best score first with rerank). Backend calls
  // inherit `context`'s deadline and cancellation. Errors name the backend that failed.
  Status GenerateImages(grpc::CallbackServerContext* context,
                        const v1::GenerateImagesRequest& request,
                        const std::function<void(int64_t, int64_t)>& progress,
                        const std::function<void(v1::Draft)>& draft) const;

  // One image (PNG/JPEG bytes) -> caption and log p(caption | image).
  StatusOr<v1::CaptionResponse> Caption(grpc::CallbackServerContext* context,
                                        const std::string& image) const;

  // From the config; compute_dtype from the transformer's GetStats (left empty if it fails).
  void FillModelInfo(grpc::CallbackServerContext* context, v1::ModelInfo* info) const;
  const model::ModelConfig& config() const { return config_; }

 private:
  struct Prompt;
  StatusOr<Prompt> EncodePrompt(grpc::CallbackServerContext* context,
                                const std::string& text) const;
  StatusOr<torch::Tensor> GenerateCodes(grpc::CallbackServerContext* context,
                                        const v1::GenerateImageCodesRequest& request,
                                        const std::function<void(int64_t, int64_t)>& progress)
      const;
  StatusOr<std::vector<double>> Score(grpc::CallbackServerContext* context,
                                      const torch::Tensor& codes,
                                      const std::vector<std::vector<int64_t>>& texts) const;
  Status DecodeDrafts(grpc::CallbackServerContext* context, const torch::Tensor& codes,
                      const std::vector<int>& order, const std::vector<double>& scores,
                      const v1::GenerateImagesRequest& request,
                      const std::function<void(v1::Draft)>& draft) const;
  StatusOr<std::vector<int64_t>> CaptionIds(grpc::CallbackServerContext* context,
                                            const v1::Tensor& codes) const;

  model::ModelConfig config_;
  size_t max_image_bytes_;
  BackendAddresses addresses_;
  std::unique_ptr<v1::TextEncoder::Stub> text_encoder_;
  std::unique_ptr<v1::ImageCodec::Stub> image_codec_;
  std::unique_ptr<v1::MultimodalTransformer::Stub> transformer_;
};

}  // namespace duet::services
