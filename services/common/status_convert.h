// Conversions between Duet's absl::Status values and grpc::Status at the service boundary.
// ToGrpcStatus is the one place internal errors become gRPC status codes (CONVENTIONS: Errors).
#pragma once

#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace duet::services {

// Maps every absl code to the gRPC code of the same number and keeps the message. Thread-safe.
grpc::Status ToGrpcStatus(const Status& status);

// A backend's grpc::Status as a Status whose message names the backend ("text-encoder at
// 127.0.0.1:5001 is unavailable: ..."); codes are kept. OK maps to OK. Thread-safe.
Status FromBackendStatus(const grpc::Status& status, const std::string& backend,
                         const std::string& address);

// The message used for a full queue: RESOURCE_EXHAUSTED with a retry hint in milliseconds.
Status QueueFullError(const std::string& queue, size_t capacity, int retry_after_ms);

}  // namespace duet::services
