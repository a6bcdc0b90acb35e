// Implementation of services/common/server_main.h.
#include "services/common/server_main.h"

#include <cstdio>
#include <iostream>

#include "services/common/tls.h"

namespace duet::services {

std::map<std::string, ServerFlag> CommonServerFlags(const std::string& default_listen,
                                                    std::map<std::string, ServerFlag> extra) {
  extra["listen"] = {default_listen, "host:port to serve on; port 0 picks a free port"};
  extra["model"] = {"", "model directory (config.json, tokenizer.model, model.safetensors)"};
  extra["max_message_mb"] = {"64", "largest message received or sent, MiB (1..1024)"};
  extra["drain_ms"] = {"30000", "on SIGTERM, longest wait for in-flight calls, ms"};
  extra["metrics_listen"] = {"", "host:port serving Prometheus metrics at /metrics; empty: off"};
  extra["tls_cert"] = {"", "PEM certificate chain: serve TLS (with --tls-key)"};
  extra["tls_key"] = {"", "PEM private key of --tls-cert"};
  extra["tls_client_ca"] = {"", "PEM CA: require client certificates signed by it (mutual TLS)"};
  return extra;
}

int ParseServerFlags(const std::string& program, int argc, char** argv,
                     const std::map<std::string, ServerFlag>& specs, ServerFlags* flags,
                     ServerOptions* options) {
  StatusOr<ServerFlags> parsed = ServerFlags::Parse(argc, argv, specs);
  if (parsed.ok() && parsed->help()) {
    std::cout << ServerFlags::Usage(program, specs);
    return 0;
  }
  Status status = parsed.status();
  if (status.ok() && parsed->Get("model").empty()) {
    status = absl::InvalidArgumentError("--model is required");
  }
  StatusOr<int64_t> message_mb = 0, drain_ms = 0;
  if (status.ok()) message_mb = parsed->GetInt("max_message_mb", 1, 1024);
  if (status.ok()) status = message_mb.status();
  if (status.ok()) drain_ms = parsed->GetInt("drain_ms", 0, 3'600'000);
  if (status.ok()) status = drain_ms.status();
  StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = nullptr;
  if (status.ok()) {
    credentials = MakeServerCredentials(
        {parsed->Get("tls_cert"), parsed->Get("tls_key"), parsed->Get("tls_client_ca")});
    status = credentials.status();
  }
  if (!status.ok()) {
    std::cerr << program << ": " << status.message() << "\n" << ServerFlags::Usage(program, specs);
    return 2;
  }
  options->credentials = *std::move(credentials);
  *flags = *std::move(parsed);
  options->listen = flags->Get("listen");
  options->max_message_bytes = static_cast<int>(*message_mb << 20);
  options->drain = std::chrono::milliseconds(*drain_ms);
  options->metrics_listen = flags->Get("metrics_listen");
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
