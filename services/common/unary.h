// Runs a unary callback RPC's work on a WorkQueue and finishes it with the work's Status, so a
// handler only parses, validates, enqueues and replies.
#pragma once

#include <utility>

#include <grpcpp/grpcpp.h>

#include "services/common/status_convert.h"
#include "services/common/work_queue.h"

namespace duet::services {

// `work` (Status()) runs on `queue` and fills the response; the call finishes with its status,
// or CANCELLED without running it when the client left first. A full queue finishes the call at
// once with RESOURCE_EXHAUSTED. Returns the reactor for the handler to return.
template <typename Work>
grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, WorkQueue& queue,
                                   Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const Status submitted = queue.Submit([context, reactor, work = std::move(work)]() mutable {
    if (context->IsCancelled()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before it ran"));
      return;
    }
    reactor->Finish(ToGrpcStatus(work()));
  });
  if (!submitted.ok()) reactor->Finish(ToGrpcStatus(submitted));
  return reactor;
}

// Finishes a unary call at once with `status` (validation errors).
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace duet::services
