// `duet up`: the four servers on loopback as separate processes, one command, one Ctrl-C; a
// server that exits is restarted on its address (tools/client/supervisor.h). Backends bind free
// ports (they print them); the gateway takes --listen (default :50050).
#include <cstdio>
#include <iostream>
#include <memory>

#include "common/compute_dtype.h"
#include "common/dtype_flag.h"
#include "services/common/termination.h"
#include "tools/client/client.h"
#include "tools/client/health.h"
#include "tools/client/supervisor.h"
#include "tools/command.h"

namespace duet::client {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"model", "m", "model directory", ""},
      {"listen", "", "gateway address (host:port)", "127.0.0.1:50050"},
      {"bin-dir", "", "directory of the duet-* server binaries (default: next to duet)", ""},
      {"drain-ms", "", "on stop, how long each server may finish in-flight calls", "30000"},
      {"start-timeout", "", "seconds to wait for all servers to report SERVING", "120"},
      DtypeFlagSpec(),  // passed to the three backends
  };
  return specs;
}

constexpr const char* kBackends[] = {"text-encoder", "image-codec", "transformer"};

// Starts the three backends on free ports, then the gateway pointed at them, and waits up to
// `start_timeout` for each to report SERVING. Each server drains for `drain_ms` on SIGTERM.
Status Up(const Flags& flags, int64_t drain_ms, std::chrono::milliseconds start_timeout,
          Supervisor& supervisor, std::vector<Supervisor::Addresses>& addresses) {
  const std::string model = flags.Get("model");
  const std::string bin = flags.Get("bin-dir").empty() ? ExecutableDir() : flags.Get("bin-dir");
  DUET_RETURN_IF_ERROR(ParseDtypeChoice(flags.Get("dtype"), "--dtype").status());
  const std::vector<std::string> common = {"--model", model, "--drain-ms",
                                           std::to_string(drain_ms), "--metrics-listen",
                                           "127.0.0.1:0"};
  for (const char* name : kBackends) {
    std::vector<std::string> argv = {bin + "/duet-" + name, "--listen", "127.0.0.1:0", "--dtype",
                                     flags.Get("dtype")};
    argv.insert(argv.end(), common.begin(), common.end());
    DUET_ASSIGN_OR_RETURN(Supervisor::Addresses address, supervisor.Start(name, argv));
    addresses.push_back(std::move(address));
  }
  std::vector<std::string> argv = {bin + "/duet-gateway", "--listen", flags.Get("listen"),
                                   "--text-encoder", addresses[0].grpc, "--image-codec",
                                   addresses[1].grpc, "--transformer", addresses[2].grpc};
  argv.insert(argv.end(), common.begin(), common.end());
  DUET_ASSIGN_OR_RETURN(Supervisor::Addresses gateway, supervisor.Start("gateway", argv));
  addresses.push_back(std::move(gateway));
  for (const Supervisor::Addresses& address : addresses) {
    DUET_RETURN_IF_ERROR(WaitServing(address.grpc, start_timeout));
  }
  return absl::OkStatus();
}

}  // namespace

int RunUp(int argc, char** argv) {
  services::CatchTerminationSignals();  // before anything can take SIGTERM and exit 143
  return tools::RunCommand(
      {"up", "--model DIR", "Starts the four Duet servers on loopback; Ctrl-C stops them.",
       Specs(), {"model"}},
      argc, argv, [](const Flags& flags) -> StatusOr<int> {
        DUET_ASSIGN_OR_RETURN(const int64_t timeout_s, flags.GetInt("start-timeout", 1, 3600));
        DUET_ASSIGN_OR_RETURN(const int64_t drain_ms, flags.GetInt("drain-ms", 0, 3'600'000));
        SupervisorOptions options;
        options.start_timeout = std::chrono::seconds(timeout_s);
        Supervisor supervisor(options);
        std::vector<Supervisor::Addresses> addresses;
        const Status started =
            Up(flags, drain_ms, options.start_timeout, supervisor, addresses);
        if (!started.ok()) {
          supervisor.StopAll(std::chrono::milliseconds(2000));
          if (!absl::IsCancelled(started)) return started;
          std::cerr << "duet up: " << started.message() << "\n";
          return 0;  // a signal during start-up is a clean stop
        }
        for (size_t i = 0; i < addresses.size(); ++i) {  // the gateway's line last: tests read it
          const char* name = i < 3 ? kBackends[i] : "gateway";
          std::printf("%s metrics on http://%s/metrics\n", name, addresses[i].metrics.c_str());
        }
        for (size_t i = 0; i < addresses.size(); ++i) {
          std::printf("%s listening on %s\n", i < 3 ? kBackends[i] : "gateway",
                      addresses[i].grpc.c_str());
        }
        std::printf("duet up: all four servers SERVING; Ctrl-C stops them\n");
        std::fflush(stdout);
        supervisor.SuperviseUntilSignal();
        return supervisor.StopAll(std::chrono::milliseconds(drain_ms));
      });
}

}  // namespace duet::client
