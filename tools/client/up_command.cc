// `duet up`: the four servers on loopback as separate processes, one command, one Ctrl-C.
// Backends bind free ports (they print them); the gateway takes --listen (default :50050).
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "services/common/server_runner.h"
#include "tools/client/child_process.h"
#include "tools/client/client.h"
#include "tools/client/health.h"
#include "common/compute_dtype.h"
#include "tools/dtype_flag.h"
#include "tools/flags.h"

namespace duet::client {
namespace {

const std::vector<tools::FlagSpec>& Specs() {
  static const std::vector<tools::FlagSpec> specs = {
      {"model", "m", "model directory", ""},
      {"listen", "", "gateway address (host:port)", "127.0.0.1:50050"},
      {"bin-dir", "", "directory of the duet-* server binaries (default: next to duet)", ""},
      {"drain-ms", "", "on stop, how long each server may finish in-flight calls", "30000"},
      {"start-timeout", "", "seconds to wait for all servers to report SERVING", "120"},
      tools::DtypeFlagSpec(),  // passed to the three backends
  };
  return specs;
}

struct Server {
  std::string name;
  std::unique_ptr<ChildProcess> process;
  std::string address;
};

StatusOr<Server> StartServer(const std::string& name, std::vector<std::string> argv,
                             std::chrono::milliseconds timeout) {
  Server server{name, nullptr, ""};
  DUET_ASSIGN_OR_RETURN(server.process, ChildProcess::Spawn(argv));
  StatusOr<std::string> address = server.process->WaitForAddress(timeout);
  if (!address.ok()) {
    return Status(address.status().code(), absl::StrCat(name, ": ", address.status().message()));
  }
  server.address = *address;
  return server;
}

// Waits for SIGINT/SIGTERM; returns early (false) when a server exits on its own.
bool WaitForStopSignal(std::vector<Server>& servers) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const timespec poll_interval{0, 200'000'000};
  while (sigtimedwait(&set, nullptr, &poll_interval) < 0) {
    for (Server& s : servers) {
      StatusOr<int> code = s.process->Wait(std::chrono::milliseconds(0));
      if (code.ok()) {
        std::cerr << "duet up: " << s.name << " exited with code " << *code << "\n";
        return false;
      }
    }
  }
  return true;
}

// SIGTERM to each server, gateway first so it stops taking work while backends still answer.
int StopAll(std::vector<Server>& servers, std::chrono::milliseconds drain) {
  int result = 0;
  for (auto it = servers.rbegin(); it != servers.rend(); ++it) {
    it->process->Signal(SIGTERM);
    StatusOr<int> code = it->process->Wait(drain + std::chrono::seconds(5));
    if (!code.ok() || *code != 0) result = 1;
    std::cerr << "duet up: " << it->name << " stopped"
              << (code.ok() ? absl::StrCat(" (exit ", *code, ")") : " (killed)") << "\n";
  }
  return result;
}

Status Up(const tools::Flags& flags, std::vector<Server>& servers) {
  const std::string model = flags.Get("model");
  if (model.empty()) return absl::InvalidArgumentError("--model is required");
  const std::string bin = flags.Get("bin-dir").empty() ? ExecutableDir() : flags.Get("bin-dir");
  DUET_ASSIGN_OR_RETURN(const int64_t drain_ms, flags.GetInt("drain-ms", 0, 3'600'000));
  DUET_ASSIGN_OR_RETURN(const int64_t timeout_s, flags.GetInt("start-timeout", 1, 3600));
  const std::chrono::milliseconds timeout(timeout_s * 1000);
  DUET_RETURN_IF_ERROR(ParseDtypeChoice(flags.Get("dtype"), "--dtype").status());
  const std::vector<std::string> common = {"--model", model, "--drain_ms",
                                           std::to_string(drain_ms)};
  for (const char* name : {"text-encoder", "image-codec", "transformer"}) {
    std::vector<std::string> argv = {bin + "/duet-" + name, "--listen", "127.0.0.1:0", "--dtype",
                                     flags.Get("dtype")};
    argv.insert(argv.end(), common.begin(), common.end());
    DUET_ASSIGN_OR_RETURN(Server server, StartServer(name, argv, timeout));
    servers.push_back(std::move(server));
  }
  std::vector<std::string> argv = {bin + "/duet-gateway", "--listen", flags.Get("listen"),
                                   "--text_encoder", servers[0].address, "--image_codec",
                                   servers[1].address, "--transformer", servers[2].address};
  argv.insert(argv.end(), common.begin(), common.end());
  DUET_ASSIGN_OR_RETURN(Server gateway, StartServer("gateway", argv, timeout));
  servers.push_back(std::move(gateway));
  for (const Server& s : servers) DUET_RETURN_IF_ERROR(WaitServing(s.address, timeout));
  return absl::OkStatus();
}

}  // namespace

int RunUp(int argc, char** argv) {
  services::BlockTerminationSignals();
  StatusOr<tools::Flags> flags = tools::Flags::Parse(Specs(), argc, argv, 2);
  if (flags.ok() && flags->help()) {
    std::fputs(tools::FlagsHelp("up", "--model DIR",
                                "Starts the four Duet servers on loopback; Ctrl-C stops them.",
                                Specs()).c_str(), stdout);
    return 0;
  }
  if (!flags.ok()) {
    std::cerr << "duet up: " << flags.status().message() << "\n";
    return 2;
  }
  std::vector<Server> servers;
  const Status started = Up(*flags, servers);
  const auto drain = std::chrono::milliseconds(*flags->GetInt("drain-ms", 0, 3'600'000));
  if (!started.ok()) {
    std::cerr << "duet up: " << started.message() << "\n";
    StopAll(servers, std::chrono::milliseconds(2000));
    return 1;
  }
  for (const Server& s : servers) {
    std::printf("%s listening on %s\n", s.name.c_str(), s.address.c_str());
  }
  std::printf("duet up: all four servers SERVING; Ctrl-C stops them\n");
  std::fflush(stdout);
  const bool signalled = WaitForStopSignal(servers);
  const int stopped = StopAll(servers, drain);
  return signalled ? stopped : 1;
}

}  // namespace duet::client
