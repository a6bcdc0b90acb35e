// Implementation of services/common/channel.h.
#include "services/common/channel.h"

namespace duet::services {
namespace {

constexpr int kReconnectBackoffMinMs = 100;
constexpr int kReconnectBackoffMaxMs = 1000;

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int max_message_bytes,
                                           std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetLoadBalancingPolicyName("round_robin");
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectBackoffMinMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kReconnectBackoffMinMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectBackoffMaxMs);
  std::string resolved = target;
  if (target.find(',') != std::string::npos && target.find(':') != std::string::npos &&
      target.find("://") == std::string::npos && target.rfind("ipv", 0) != 0) {
    resolved = "ipv4:" + target;
  }
  return grpc::CreateCustomChannel(
      resolved, credentials ? credentials : grpc::InsecureChannelCredentials(), args);
}

}  // namespace duet::services
