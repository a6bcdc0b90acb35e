// Client side of grpc.health.v1: asks a server whether it is SERVING.
#pragma once

#include <chrono>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace duet::client {

// OK when `address` answers SERVING; Unavailable (with the reason) otherwise. Thread-safe.
Status CheckServing(const std::shared_ptr<grpc::Channel>& channel,
                    std::chrono::milliseconds timeout);

// Polls CheckServing until it is OK or `timeout` passes (then the last error, which names
// `address`). The first form opens a plaintext channel.
Status WaitServing(const std::string& address, std::chrono::milliseconds timeout);
Status WaitServing(const std::string& address, const std::shared_ptr<grpc::Channel>& channel,
                   std::chrono::milliseconds timeout);

}  // namespace duet::client
