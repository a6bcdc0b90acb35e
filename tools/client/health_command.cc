// `duet health --server ADDR`: asks any Duet server (gateway or backend) for grpc.health.v1 and
// exits 0 when it is SERVING. The same check as a Kubernetes grpc probe, for runtimes and scripts
// that can only run a command (podman, shell loops).
#include <cstdio>

#include "tools/client/client.h"
#include "tools/client/gateway_connection.h"
#include "tools/client/health.h"
#include "tools/command.h"

namespace duet::client {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"server", "", "server address host:port", ""},
      {"tls-ca", "", "PEM CA of the server's certificate: connect with TLS", ""},
      {"wait", "", "seconds to keep asking before giving up (0: ask once)", "0"},
  };
  return specs;
}

// Waits for SERVING, then prints "<address> SERVING".
Status Check(const Flags& flags) {
  const std::string address = flags.Get("server");
  DUET_ASSIGN_OR_RETURN(const int64_t wait, flags.GetInt("wait", 0, 3600));
  DUET_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, ServerChannel(flags));
  DUET_RETURN_IF_ERROR(WaitServing(address, channel, std::chrono::seconds(wait)));
  std::printf("%s SERVING\n", address.c_str());
  return absl::OkStatus();
}

}  // namespace

int RunHealth(int argc, char** argv) {
  return tools::RunCommand({"health", "--server ADDR [--wait SECONDS]",
                            "Exits 0 when the server answers grpc.health.v1 SERVING.", Specs(),
                            {"server"}},
                           argc, argv, tools::ExitZeroWhenOk(Check));
}

}  // namespace duet::client
