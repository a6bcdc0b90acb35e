// Implementation of services/common/server_main.h.
#include "services/common/server_main.h"

#include <cstdio>
#include <iostream>

#include "services/common/tls.h"

namespace duet::services {

std::vector<FlagSpec> CommonServerFlags(const std::string& default_listen,
                                        std::vector<FlagSpec> extra) {
  const std::vector<FlagSpec> common = {
      {"listen", "", "host:port to serve on; port 0 picks a free port", default_listen},
      {"model", "", "model directory (config.json, tokenizer.model, model.safetensors)"},
      {"max-message-mb", "", "largest message received or sent, MiB (1..1024)", "64"},
      {"drain-ms", "", "on SIGTERM, longest wait for in-flight calls, ms", "30000"},
      {"metrics-listen", "", "host:port serving Prometheus metrics at /metrics; empty: off"},
      {"tls-cert", "", "PEM certificate chain: serve TLS (with --tls-key)"},
      {"tls-key", "", "PEM private key of --tls-cert"},
      {"tls-client-ca", "", "PEM CA: require client certificates signed by it (mutual TLS)"},
  };
  extra.insert(extra.end(), common.begin(), common.end());
  return extra;
}

int ParseServerFlags(const std::string& program, int argc, char** argv,
                     const std::vector<FlagSpec>& specs, Flags* flags, ServerOptions* options) {
  const std::string usage = FlagsHelp(program, "--model DIR [flags]",
                                      "A Duet gRPC server (docs/services.md lists the four).", specs);
  StatusOr<Flags> parsed = Flags::Parse(specs, argc, argv, 1);
  if (parsed.ok() && parsed->help()) {
    std::cout << usage;
    return 0;
  }
  Status status = parsed.ok() ? parsed->NoPositional() : parsed.status();
  if (status.ok() && parsed->Get("model").empty()) {
    status = absl::InvalidArgumentError("--model is required");
  }
  StatusOr<int64_t> message_mb = 0, drain_ms = 0;
  if (status.ok()) message_mb = parsed->GetInt("max-message-mb", 1, 1024);
  if (status.ok()) status = message_mb.status();
  if (status.ok()) drain_ms = parsed->GetInt("drain-ms", 0, 3'600'000);
  if (status.ok()) status = drain_ms.status();
  StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = nullptr;
  if (status.ok()) {
    credentials = MakeServerCredentials(
        {parsed->Get("tls-cert"), parsed->Get("tls-key"), parsed->Get("tls-client-ca")});
    status = credentials.status();
  }
  if (!status.ok()) {
    std::cerr << program << ": " << status.message() << "\n" << usage;
    return 2;
  }
  options->credentials = *std::move(credentials);
  *flags = *std::move(parsed);
  options->listen = flags->Get("listen");
  options->max_message_bytes = static_cast<int>(*message_mb << 20);
  options->drain = std::chrono::milliseconds(*drain_ms);
  options->metrics_listen = flags->Get("metrics-listen");
  return -1;
}

int ServeMain(const std::string& program, ServerRunner& runner, const ServerOptions& options,
              const std::function<void()>& after_drain) {
  std::printf("%s listening on %s\n", program.c_str(), runner.address().c_str());
  if (!runner.metrics_address().empty()) {  // after the line above: launchers read that first
    std::printf("%s metrics on %s\n", program.c_str(), runner.metrics_address().c_str());
  }
  std::fflush(stdout);
  const int code = ServeUntilSignal(runner, options.drain);
  if (after_drain) after_drain();
  return code;
}

int FailMain(const std::string& program, const Status& status) {
  std::cerr << program << ": " << status << "\n";
  return 1;
}

}  // namespace duet::services
