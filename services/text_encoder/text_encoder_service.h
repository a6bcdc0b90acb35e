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
  Status ValidateEncode(const v1::EncodeTextRequest& request) const;

  const model::TextPipeline* pipeline_;
  WorkQueue* queue_;
  TextEncoderLimits limits_;
};

}  // namespace duet::services
