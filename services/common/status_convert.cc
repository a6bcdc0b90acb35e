// Implementation of services/common/status_convert.h.
#include "services/common/status_convert.h"

namespace duet::services {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the numbering of google.rpc.Code.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

Status FromBackendStatus(const grpc::Status& status, const std::string& backend,
                         const std::string& address) {
  if (status.ok()) return absl::OkStatus();
  std::string what = status.error_code() == grpc::StatusCode::UNAVAILABLE
                         ? " is unavailable: "
                         : " failed: ";
  return Status(static_cast<absl::StatusCode>(status.error_code()),
                absl::StrCat(backend, " at ", address, what, status.error_message()));
}

Status QueueFullError(const std::string& queue, size_t capacity, int retry_after_ms) {
  return absl::ResourceExhaustedError(absl::StrCat(queue, " queue is full (", capacity,
                                                   " requests); retry after ", retry_after_ms,
                                                   " ms"));
}

}  // namespace duet::services
