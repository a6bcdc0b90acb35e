// Implementation of tools/client/supervisor.h: one poll loop over the children's states.
#include "tools/client/supervisor.h"

#include <signal.h>

#include <algorithm>
#include <iostream>

#include "services/common/termination.h"

namespace duet::client {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPollInterval(100);

constexpr char kMetricsFlag[] = "--metrics-listen";

// Sets `flag`'s value in argv (appending the flag when it is missing).
void SetFlag(std::vector<std::string>& argv, const std::string& flag, const std::string& value) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  if (it != argv.end() && std::next(it) != argv.end()) {
    *std::next(it) = value;
  } else {
    argv.insert(argv.end(), {flag, value});
  }
}

}  // namespace

StatusOr<Supervisor::Addresses> Supervisor::Start(const std::string& name,
                                                 std::vector<std::string> argv) {
  DUET_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> process, ChildProcess::Spawn(argv));
  const Clock::time_point deadline = Clock::now() + options_.start_timeout;
  const bool metrics = std::find(argv.begin(), argv.end(), kMetricsFlag) != argv.end();
  Addresses addresses;
  while (true) {
    if (services::WaitForTerminationSignal(milliseconds(0)) != 0) {
      return absl::CancelledError(absl::StrCat("stopped by a signal while ", name, " started"));
    }
    std::string& next = addresses.grpc.empty() ? addresses.grpc : addresses.metrics;
    StatusOr<std::string> address = process->WaitForAddress(
        kPollInterval, &next == &addresses.grpc ? " listening on " : " metrics on ");
    if (address.ok()) next = *address;
    if (!addresses.grpc.empty() && (!metrics || !addresses.metrics.empty())) {
      SetFlag(argv, "--listen", addresses.grpc);
      if (metrics) SetFlag(argv, kMetricsFlag, addresses.metrics);
      servers_.push_back({name, std::move(argv), std::move(process), addresses.grpc,
                          State::kRunning, Clock::now(), options_.backoff_min, 0});
      return addresses;
    }
    if (address.ok()) continue;
    if (!absl::IsDeadlineExceeded(address.status()) || Clock::now() > deadline) {
      const std::string why = absl::IsDeadlineExceeded(address.status())
                                  ? "did not start in time"
                                  : std::string(address.status().message());
      return Status(address.status().code(), absl::StrCat(name, ": ", why));
    }
  }
}

int Supervisor::SuperviseUntilSignal() {
  while (true) {
    if (const int signal = services::WaitForTerminationSignal(kPollInterval); signal != 0) {
      return signal;
    }
    for (Server& server : servers_) Check(server);
  }
}

void Supervisor::Check(Server& server) {
  const Clock::time_point now = Clock::now();
  switch (server.state) {
    case State::kRunning: {
      if (now - server.since > options_.stable_after) server.backoff = options_.backoff_min;
      StatusOr<int> code = server.process->Wait(milliseconds(0));
      if (!code.ok()) return;
      std::cerr << "duet up: " << server.name << " exited with code " << *code
                << "; restarting in " << server.backoff.count() << " ms\n";
      server.process.reset();
      server.state = State::kWaiting;
      server.since = now;
      return;
    }
    case State::kWaiting:
      if (now - server.since >= server.backoff) Respawn(server);
      return;
    case State::kStarting: {
      StatusOr<std::string> address = server.process->WaitForAddress(milliseconds(1));
      if (address.ok()) {
        ++server.restarts;
        std::cerr << "duet up: " << server.name << " restarted (" << server.restarts
                  << " so far), listening on " << *address << "\n";
        server.state = State::kRunning;
        server.since = now;
        return;
      }
      const bool timed_out = now - server.since > options_.start_timeout;
      if (absl::IsDeadlineExceeded(address.status()) && !timed_out) return;
      std::cerr << "duet up: " << server.name << " failed to restart: "
                << (timed_out ? "did not start in time" : address.status().message()) << "\n";
      server.process.reset();  // kills it if it still runs
      server.backoff = std::min(2 * server.backoff, options_.backoff_max);
      server.state = State::kWaiting;
      server.since = now;
      return;
    }
  }
}

void Supervisor::Respawn(Server& server) {
  StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Spawn(server.argv);
  server.since = Clock::now();
  if (!process.ok()) {
    std::cerr << "duet up: cannot restart " << server.name << ": " << process.status() << "\n";
    server.backoff = std::min(2 * server.backoff, options_.backoff_max);
    return;  // still waiting
  }
  server.process = *std::move(process);
  server.state = State::kStarting;
  server.backoff = std::min(2 * server.backoff, options_.backoff_max);
}

int Supervisor::StopAll(milliseconds drain) {
  int result = 0;
  for (auto it = servers_.rbegin(); it != servers_.rend(); ++it) {
    if (it->process == nullptr) continue;  // waiting for a restart: nothing runs
    it->process->Signal(SIGTERM);
    StatusOr<int> code = it->process->Wait(drain + std::chrono::seconds(5));
    if (!code.ok() || *code != 0) result = 1;
    std::cerr << "duet up: " << it->name << " stopped"
              << (code.ok() ? absl::StrCat(" (exit ", *code, ")") : " (killed)") << "\n";
    it->process.reset();
  }
  return result;
}

int Supervisor::restarts() const {
  int total = 0;
  for (const Server& server : servers_) total += server.restarts;
  return total;
}

}  // namespace duet::client
