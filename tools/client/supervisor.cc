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
  // The address after `marker` on the child's stdout, polling for a stop signal meanwhile.
  auto read_address = [&](const char* marker) -> StatusOr<std::string> {
    while (true) {
      if (services::WaitForTerminationSignal(milliseconds(0)) != 0) {
        return absl::CancelledError(absl::StrCat("stopped by a signal while ", name, " started"));
      }
      StatusOr<std::string> address = process->WaitForAddress(kPollInterval, marker);
      if (address.ok()) return address;
      if (!absl::IsDeadlineExceeded(address.status())) {
        return Status(address.status().code(),
                      absl::StrCat(name, ": ", address.status().message()));
      }
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat(name, ": did not start in time"));
      }
    }
  };
  Addresses addresses;
  DUET_ASSIGN_OR_RETURN(addresses.grpc, read_address(" listening on "));
  SetFlag(argv, "--listen", addresses.grpc);
  if (std::find(argv.begin(), argv.end(), kMetricsFlag) != argv.end()) {
    DUET_ASSIGN_OR_RETURN(addresses.metrics, read_address(" metrics on "));
    SetFlag(argv, kMetricsFlag, addresses.metrics);
  }
  servers_.push_back({name, std::move(argv), std::move(process), State::kRunning, Clock::now(),
                      options_.backoff_min, 0});
  return addresses;
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
      server.state = State::kWaiting;
      server.since = now;
      return;
    }
  }
}

// One restart attempt; the wait before the next one doubles whether this one works or not.
void Supervisor::Respawn(Server& server) {
  StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Spawn(server.argv);
  server.since = Clock::now();
  server.backoff = std::min(2 * server.backoff, options_.backoff_max);
  if (!process.ok()) {
    std::cerr << "duet up: cannot restart " << server.name << ": " << process.status() << "\n";
    return;  // still waiting
  }
  server.process = *std::move(process);
  server.state = State::kStarting;
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
