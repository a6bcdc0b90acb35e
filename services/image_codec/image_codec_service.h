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

// Encode's checks before any work is queued (the images themselves are decoded on the worker):
// InvalidArgument for an images count outside [1, max_batch] or an empty image. Pure function.
Status ValidateEncodeImagesRequest(const v1::EncodeImagesRequest& request,
                                   const ImageCodecLimits& limits);

// Decode's checks: codes [B, G, G] int64 with B in [1, max_batch], G = config.grid(), every code
// in [0, config.codebook_size()), and metadata empty or with B entries. Returns the codes as a CPU
// tensor; InvalidArgument naming the field otherwise. Needs no model; thread-safe.
StatusOr<torch::Tensor> ParseDecodeCodesRequest(const v1::DecodeCodesRequest& request,
                                                const vision::ImageTokenizerConfig& config,
                                                const ImageCodecLimits& limits);

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
