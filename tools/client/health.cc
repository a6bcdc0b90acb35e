// Implementation of tools/client/health.h.
#include "tools/client/health.h"

#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "services/common/channel.h"

namespace duet::client {

Status CheckServing(const std::shared_ptr<grpc::Channel>& channel,
                    std::chrono::milliseconds timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, {}, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()));
  }
  return absl::OkStatus();
}

Status WaitServing(const std::string& address, std::chrono::milliseconds timeout) {
  return WaitServing(address, services::MakeChannel(address), timeout);
}

Status WaitServing(const std::string& address, const std::shared_ptr<grpc::Channel>& channel,
                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status status;
  while (true) {
    status = CheckServing(channel, std::chrono::milliseconds(1000));
    if (status.ok() || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (status.ok()) return status;
  return absl::UnavailableError(absl::StrCat(address, " is not serving: ", status.message()));
}

}  // namespace duet::client
