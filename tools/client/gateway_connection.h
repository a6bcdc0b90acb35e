// How the remote commands reach a gateway: --server, and for a secured one --tls-ca (verify its
// TLS certificate) and --token-file (send "authorization: Bearer <token>").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/status.h"
#include "duet/v1/gateway.grpc.pb.h"

namespace duet::client {

// The flags above, for a command's spec list.
std::vector<FlagSpec> GatewayFlagSpecs();

struct GatewayConnection {
  std::unique_ptr<v1::Duet::Stub> stub;
  std::string token;  // empty: none
  // Adds the token (if any) to a call's metadata.
  void Authorize(grpc::ClientContext& context) const;
};

// A channel to --server, TLS when --tls-ca is given (any Duet server: `duet health` uses it too).
// InvalidArgument naming --tls-ca when the CA cannot be read.
StatusOr<std::shared_ptr<grpc::Channel>> ServerChannel(const Flags& flags);

// InvalidArgument naming the flag: an unreadable CA or token file.
StatusOr<GatewayConnection> ConnectGateway(const Flags& flags);

}  // namespace duet::client
