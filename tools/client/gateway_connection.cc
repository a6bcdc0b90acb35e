// Implementation of tools/client/gateway_connection.h.
#include "tools/client/gateway_connection.h"

#include "absl/strings/ascii.h"
#include "common/file.h"
#include "services/common/channel.h"
#include "services/common/tls.h"

namespace duet::client {

std::vector<FlagSpec> GatewayFlagSpecs() {
  return {{"server", "", "gateway address host:port", ""},
          {"tls-ca", "", "PEM CA of the gateway's certificate: connect with TLS", ""},
          {"token-file", "", "file holding the bearer token the gateway asks for", ""}};
}

void GatewayConnection::Authorize(grpc::ClientContext& context) const {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

StatusOr<std::shared_ptr<grpc::Channel>> ServerChannel(const Flags& flags) {
  services::TlsFiles tls;
  tls.ca = flags.Get("tls-ca");
  StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      services::MakeChannelCredentials(tls);
  if (!credentials.ok()) {  // the message names --backend-ca, the gateway's own flag
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-ca '", tls.ca, "' cannot be read or is empty"));
  }
  return services::MakeChannel(flags.Get("server"), services::kDefaultMaxMessageBytes,
                               *credentials);
}

StatusOr<GatewayConnection> ConnectGateway(const Flags& flags) {
  DUET_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, ServerChannel(flags));
  GatewayConnection connection;
  if (!flags.Get("token-file").empty()) {
    StatusOr<std::string> token = ReadFile(flags.Get("token-file"), 1 << 16);
    if (!token.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file '", flags.Get("token-file"), "' cannot be read"));
    }
    connection.token = std::string(absl::StripAsciiWhitespace(*token));
  }
  connection.stub = v1::Duet::NewStub(channel);
  return connection;
}

}  // namespace duet::client
