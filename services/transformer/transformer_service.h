// duet.v1.MultimodalTransformer over the Scheduler: handlers parse and validate the request,
// submit it to the scheduler and stream its progress and result back.
#pragma once

#include <grpcpp/grpcpp.h>

#include "duet/v1/transformer.grpc.pb.h"
#include "services/transformer/scheduler.h"

namespace duet::services {

inline constexpr int kMaxCaptionBatch = 64;   // images per GenerateText call
inline constexpr int kMaxScoreBatch = 256;    // pairs per ScoreText call
inline constexpr int kMaxImageCount = 256;    // drafts per GenerateImageCodes call

// The request checks each RPC runs before anything reaches the scheduler; they need only the
// config, no weights. InvalidArgument naming the field and its limit. Thread-safe.
// GenerateImageCodes: prefix [L, text_dim] float32, finite, L in [1, text_prefix_len]; count in
// [1, kMaxImageCount]; sampling (unset fields from `defaults`) valid for image_codebook.
StatusOr<ImageRequest> ParseImageRequest(const v1::GenerateImageCodesRequest& proto,
                                         const fusion::TransformerConfig& config,
                                         const fusion::SamplingParams& defaults);
// GenerateText: codes [B, G, G] int64 in [0, image_codebook), B in [1, kMaxCaptionBatch];
// sampling (greedy when unset) valid for text_vocab; max_tokens in [0, max_caption_len].
StatusOr<TextRequest> ParseTextRequest(const v1::GenerateTextRequest& proto,
                                       const fusion::TransformerConfig& config);
// ScoreText: codes as above with B in [1, kMaxScoreBatch]; B texts, each of at most
// max_caption_len - 1 ids in [0, text_vocab).
StatusOr<ScoreRequest> ParseScoreRequest(const v1::ScoreTextRequest& proto,
                                         const fusion::TransformerConfig& config);

// Thread-safe; `scheduler` is not owned and must outlive the service and its server.
// `image_defaults` fills the sampling fields a GenerateImageCodes request leaves unset (the
// model's config.json); captions default to greedy decoding.
class TransformerService final : public v1::MultimodalTransformer::CallbackService {
 public:
  explicit TransformerService(Scheduler* scheduler, const fusion::SamplingParams& image_defaults = {})
      : scheduler_(scheduler), image_defaults_(image_defaults) {}

  grpc::ServerWriteReactor<v1::GenerateImageCodesResponse>* GenerateImageCodes(
      grpc::CallbackServerContext* context, const v1::GenerateImageCodesRequest* request) override;
  grpc::ServerWriteReactor<v1::GenerateTextResponse>* GenerateText(
      grpc::CallbackServerContext* context, const v1::GenerateTextRequest* request) override;
  grpc::ServerUnaryReactor* ScoreText(grpc::CallbackServerContext* context,
                                      const v1::ScoreTextRequest* request,
                                      v1::ScoreTextResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const v1::GetStatsRequest* request,
                                     v1::TransformerStats* response) override;

 private:
  Scheduler* scheduler_;
  const fusion::SamplingParams image_defaults_;
};

}  // namespace duet::services
