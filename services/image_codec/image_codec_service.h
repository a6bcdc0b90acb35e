// duet.v1.ImageCodec over model::ImagePipeline: validates and tokenizes images, decodes code
// grids to PNG files with their metadata, on a worker pool.
#pragma once

#include <grpcpp/grpcpp.h>

#include "duet/v1/image_codec.grpc.pb.h"
#include "model/image_pipeline.h"
#include "services/common/work_queue.h"
#include "vision/image.h"

namespace duet::services {

struct ImageCodecLimits {
  int max_batch = 64;            // images per Encode / grids per Decode
  vision::ImageLimits image;     // encoded bytes and pixel limits, checked before decoding
};

// Thread-safe. `pipeline` and `queue` are not owned and must outlive the server.
class ImageCodecService final : public v1::ImageCodec::CallbackService {
 public:
  ImageCodecService(const model::ImagePipeline* pipeline, WorkQueue* queue,
                    ImageCodecLimits limits = {})
      : pipeline_(pipeline), queue_(queue), limits_(limits) {}

  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context,
                                   const v1::EncodeImagesRequest* request,
                                   v1::EncodeImagesResponse* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context,
                                   const v1::DecodeCodesRequest* request,
                                   v1::DecodeCodesResponse* response) override;

 private:
  const model::ImagePipeline* pipeline_;
  WorkQueue* queue_;
  ImageCodecLimits limits_;
};

}  // namespace duet::services
