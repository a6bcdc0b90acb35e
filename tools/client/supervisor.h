// `duet up`'s process supervisor: starts servers as child processes, restarts one that exits
// with exponential backoff on the same address while the others keep serving, and stops them all.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/client/child_process.h"

namespace duet::client {

struct SupervisorOptions {
  std::chrono::milliseconds start_timeout{120000};  // spawn until "listening on"
  std::chrono::milliseconds backoff_min{250};       // wait before the first restart
  std::chrono::milliseconds backoff_max{30000};     // doubling stops here
  std::chrono::milliseconds stable_after{60000};    // up this long: the backoff resets
};

// Not thread-safe: one thread starts, supervises and stops. Destroying it kills what is left.
class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options) : options_(options) {}

  struct Addresses {
    std::string grpc;     // "<name> listening on ADDR"
    std::string metrics;  // "<name> metrics on ADDR", when argv has --metrics-listen
  };
  // Spawns `argv` (argv[0] a path; it must accept --listen ADDR) and waits for its addresses.
  // Restarts reuse them, so clients (the gateway, Prometheus) find the server again. Cancelled
  // when a SIGTERM or SIGINT arrives meanwhile (CatchTerminationSignals must have run).
  StatusOr<Addresses> Start(const std::string& name, std::vector<std::string> argv);

  // Until SIGTERM or SIGINT: a server that exits is logged and restarted after its backoff.
  // Returns the signal.
  int SuperviseUntilSignal();

  // SIGTERM to each server, the last started first, each given `drain` + 5 s before SIGKILL.
  // 0 when every one exited 0, else 1.
  int StopAll(std::chrono::milliseconds drain);

  // Restarts so far, for every server.
  int restarts() const;

 private:
  enum class State { kRunning, kWaiting, kStarting };
  struct Server {
    std::string name;
    std::vector<std::string> argv;  // --listen holds the bound address after the first start
    std::unique_ptr<ChildProcess> process;
    State state = State::kRunning;
    std::chrono::steady_clock::time_point since;  // when the state was entered
    std::chrono::milliseconds backoff{0};
    int restarts = 0;
  };
  void Check(Server& server);
  void Respawn(Server& server);

  const SupervisorOptions options_;
  std::vector<Server> servers_;
};

}  // namespace duet::client
