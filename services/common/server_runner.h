// Runs one gRPC server the way every Duet server runs: callback services, grpc.health.v1 and
// reflection, explicit message size limits, and SIGTERM/SIGINT draining (ARCHITECTURE section 3).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "services/common/channel.h"

namespace duet::services {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";               // host:port; port 0 picks a free one
  int max_message_bytes = kDefaultMaxMessageBytes;  // larger messages: RESOURCE_EXHAUSTED
  std::chrono::milliseconds drain{30000};           // SIGTERM: longest wait for in-flight calls
  std::string metrics_listen;                       // host:port for GET /metrics; empty: off
  std::shared_ptr<grpc::ServerCredentials> credentials;  // null: plaintext (services/common/tls.h)
};

class MetricsServer;

// Thread-safe: Shutdown and Wait may be called from any thread. Every call is counted in
// ProcessMetrics() (duet_grpc_requests_total by method and code, its duration, calls in flight).
class ServerRunner {
 public:
  // Builds and starts a server with `services` (not owned; they must outlive the runner), health
  // set to SERVING and reflection on, and the metrics endpoint when options.metrics_listen is
  // set. Unavailable when an address cannot be bound.
  static StatusOr<std::unique_ptr<ServerRunner>> Start(const ServerOptions& options,
                                                       const std::vector<grpc::Service*>& services);
  ~ServerRunner();  // Shutdown(0) if still running

  int port() const { return port_; }
  // "127.0.0.1:<port>" when listening on a wildcard or loopback host, else the listen host.
  const std::string& address() const { return address_; }
  grpc::Server* server() { return server_.get(); }
  // host:port of GET /metrics, or empty when it is off.
  std::string metrics_address() const;

  // Health goes NOT_SERVING, new calls are refused, in-flight calls get up to `drain` to finish
  // and are cancelled after it; idle connections are closed as soon as no call is left. Returns
  // when every call has finished. Idempotent.
  void Shutdown(std::chrono::milliseconds drain);
  void Wait();

 private:
  ServerRunner() = default;
  std::atomic<int64_t> calls_{0};  // calls started and not yet finished; outlives server_
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::once_flag shutdown_once_;
};

// Waits for SIGTERM or SIGINT (main() must have called CatchTerminationSignals first), logs it,
// runs `before_drain` (may be null), drains the server with options.drain and returns 0, the
// process exit code.
int ServeUntilSignal(ServerRunner& runner, std::chrono::milliseconds drain,
                     const std::function<void()>& before_drain = nullptr);

}  // namespace duet::services
