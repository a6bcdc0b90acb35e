// The /metrics endpoint: a cpp-httplib server on its own thread that renders a MetricsRegistry
// for Prometheus to scrape. Off unless a server is started with --metrics-listen.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "services/common/metrics.h"

namespace httplib {
class Server;
}

namespace duet::services {

class MetricsServer {
 public:
  // Serves GET /metrics on `listen` (host:port; port 0 picks one). Unavailable when the address
  // cannot be bound. `registry` is not owned and must outlive the server.
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                        MetricsRegistry* registry);
  ~MetricsServer();  // stops serving and joins the thread

  const std::string& address() const { return address_; }  // host:port actually bound

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string address_;
};

}  // namespace duet::services
