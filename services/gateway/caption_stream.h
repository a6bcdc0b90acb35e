// The reactor behind Duet.CaptionStream: reads images as they come, captions up to `window` of
// them at once on the worker pool, and writes the results back strictly in arrival order.
#pragma once

#include <deque>
#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "duet/v1/gateway.grpc.pb.h"
#include "services/common/work_queue.h"
#include "services/gateway/orchestrator.h"

namespace duet::services {

// One CaptionStream item's checks before it is queued: InvalidArgument for an id over
// kMaxCaptionIdBytes or not valid UTF-8, or an empty image. Pure function.
Status ValidateCaptionStreamItem(const std::string& id, const std::string& image);

// Created per call by GatewayService; deletes itself in OnDone. A bad image (or a full queue)
// becomes an item with error_code set; the stream goes on. Thread-safe.
class CaptionStreamReactor final
    : public grpc::ServerBidiReactor<v1::CaptionStreamRequest, v1::CaptionStreamResponse> {
 public:
  CaptionStreamReactor(grpc::CallbackServerContext* context, const Orchestrator* orchestrator,
                       WorkQueue* queue, int window);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

 private:
  struct Item {
    v1::CaptionStreamResponse response;
    bool done = false;
  };
  void Process(const std::shared_ptr<Item>& item, const std::string& image);
  // Marks `completed` done (if given), then starts the next write, read or the Finish that the
  // state allows. Touches no member after deciding to Finish.
  void Pump(const std::shared_ptr<Item>& completed = nullptr,
            v1::CaptionStreamResponse* response = nullptr);

  grpc::CallbackServerContext* context_;
  const Orchestrator* orchestrator_;
  WorkQueue* queue_;
  const size_t window_;
  std::mutex mu_;
  std::deque<std::shared_ptr<Item>> items_;  // arrival order; the front is written first
  v1::CaptionStreamRequest read_;
  v1::CaptionStreamResponse write_;
  bool reading_ = true, reads_done_ = false, writing_ = false, failed_ = false, finished_ = false;
};

}  // namespace duet::services
