// The draft pipeline's parts (pipeline/draft_parts.h) as calls to the three backend services.
// Each call inherits the gateway request's deadline and cancellation; errors name the backend
// and its address, except INVALID_ARGUMENT about the client's own prompt or image.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "duet/v1/image_codec.grpc.pb.h"
#include "duet/v1/text_encoder.grpc.pb.h"
#include "duet/v1/transformer.grpc.pb.h"
#include "model/model_config.h"
#include "pipeline/draft_parts.h"

namespace duet::services {

inline constexpr int kRemoteDecodeChunk = 16;  // grids per ImageCodec.Decode call

struct BackendAddresses {
  std::string text_encoder;  // host:port, "a:1,b:2" for replicas, or any gRPC target (dns:///...)
  std::string image_codec;
  std::string transformer;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plaintext
};

// One stub per backend; thread-safe, shared by every request.
struct Backends {
  Backends(const BackendAddresses& addresses, int max_message_bytes);

  BackendAddresses addresses;
  std::unique_ptr<v1::TextEncoder::Stub> text_encoder;
  std::unique_ptr<v1::ImageCodec::Stub> image_codec;
  std::unique_ptr<v1::MultimodalTransformer::Stub> transformer;
};

// A backend call's context inheriting `context`'s deadline and cancellation (none when null).
std::unique_ptr<grpc::ClientContext> ChildContext(grpc::CallbackServerContext* context);

// The parts for one gateway request. `context` may be null (no deadline, no cancellation).
class RemoteParts : public pipeline::Parts {
 public:
  RemoteParts(const Backends& backends, const model::ModelConfig& config,
              grpc::CallbackServerContext* context)
      : backends_(backends), config_(config), context_(context) {}

  StatusOr<pipeline::EncodedPrompt> EncodePrompt(const std::string& prompt) override;
  StatusOr<std::vector<std::string>> Detokenize(
      const std::vector<std::vector<int64_t>>& ids) override;
  StatusOr<pipeline::CodeGrids> GenerateCodes(const pipeline::EncodedPrompt& prompt, int count,
                                              const fusion::SamplingParams& sampling,
                                              const pipeline::ProgressFn& progress) override;
  StatusOr<std::vector<std::vector<int64_t>>> GenerateCaptions(
      const pipeline::CodeGrids& codes, const fusion::SamplingParams& sampling,
      int max_tokens) override;
  StatusOr<std::vector<double>> ScoreText(
      const pipeline::CodeGrids& codes, const std::vector<std::vector<int64_t>>& texts) override;
  StatusOr<std::vector<std::string>> DecodePngs(
      const pipeline::CodeGrids& codes, const std::vector<pipeline::PngText>& metadata) override;
  StatusOr<pipeline::CodeGrids> EncodeImages(const std::vector<std::string>& images) override;
  // kRemoteDecodeChunk: drafts stream to the client 16 at a time, in bounded messages.
  int DecodeChunk() const override { return kRemoteDecodeChunk; }

 private:
  std::unique_ptr<grpc::ClientContext> Child() const { return ChildContext(context_); }
  StatusOr<pipeline::CodeGrids> GridsFromProto(const v1::Tensor& codes, int64_t count) const;

  const Backends& backends_;
  const model::ModelConfig& config_;
  grpc::CallbackServerContext* context_;
};

}  // namespace duet::services
