// duet.v1.TextEncoder over model::TextPipeline: validates texts, encodes them on a worker pool.
// Stateless apart from the loaded pipeline; any number of replicas can serve the same model.
#pragma once

#include <grpcpp/grpcpp.h>

#include "duet/v1/text_encoder.grpc.pb.h"
#include "model/text_pipeline.h"
#include "services/common/work_queue.h"

namespace duet::services {

struct TextEncoderLimits {
  int max_batch = 64;            // texts per Encode / sequences per Decode
  int max_text_bytes = 2048;     // UTF-8 bytes per text
  int max_decode_ids = 4096;     // ids per Decode sequence
};

// The checks Encode and Decode run before any work is queued; they need no model. InvalidArgument
// naming the field and the limit: texts count outside [1, max_batch], an empty text, one over
// max_text_bytes or not valid UTF-8; sequences count outside [1, max_batch] or a sequence over
// max_decode_ids. Thread-safe (pure functions).
Status ValidateEncodeTextRequest(const v1::EncodeTextRequest& request,
                                 const TextEncoderLimits& limits);
Status ValidateDecodeTextRequest(const v1::DecodeTextRequest& request,
                                 const TextEncoderLimits& limits);

// Thread-safe. `pipeline` and `queue` are not owned and must outlive the server.
class TextEncoderService final : public v1::TextEncoder::CallbackService {
 public:
  TextEncoderService(const model::TextPipeline* pipeline, WorkQueue* queue,
                     TextEncoderLimits limits = {})
      : pipeline_(pipeline), queue_(queue), limits_(limits) {}

  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context,
                                   const v1::EncodeTextRequest* request,
                                   v1::EncodeTextResponse* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context,
                                   const v1::DecodeTextRequest* request,
                                   v1::DecodeTextResponse* response) override;

 private:
  const model::TextPipeline* pipeline_;
  WorkQueue* queue_;
  TextEncoderLimits limits_;
};

}  // namespace duet::services
