// The client side of Duet's gRPC: how a channel to a Duet server is made. Part of duet_rpc, the
// small library the client (tools/client/) links instead of the servers' code.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

namespace duet::services {

inline constexpr int kDefaultMaxMessageBytes = 64 << 20;  // 64 MiB, both directions

// A client channel with explicit message limits, round_robin over every address the target
// resolves to, and a short reconnect backoff so a restarted backend is found again quickly.
// "a:1,b:2" (several replicas without a scheme) becomes "ipv4:a:1,b:2".
// `credentials` null means plaintext.
std::shared_ptr<grpc::Channel> MakeChannel(
    const std::string& target, int max_message_bytes = kDefaultMaxMessageBytes,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

}  // namespace duet::services
