// duet-gateway: serves duet.v1.Duet, the public API, over the three backend services.
// Flags, load the model config, build the service, serve until SIGTERM.
#include <memory>
#include <optional>

#include "model/model_config.h"
#include "services/common/server_main.h"
#include "services/common/termination.h"
#include "services/common/tls.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/orchestrator.h"

namespace {
constexpr char kProgram[] = "duet-gateway";
}

int main(int argc, char** argv) {
  using namespace duet;
  using namespace duet::services;
  CatchTerminationSignals();
  const auto specs = CommonServerFlags(
      "127.0.0.1:50050",
      {{"text-encoder", "", "TextEncoder target; a:1,b:2 or dns:/// for replicas",
        "127.0.0.1:50051"},
       {"image-codec", "", "ImageCodec target", "127.0.0.1:50052"},
       {"transformer", "", "MultimodalTransformer target", "127.0.0.1:50053"},
       {"workers", "", "threads running requests against the backends (1..1024)", "64"},
       {"max-queue", "", "requests waiting for a worker (1..100000)", "1024"},
       {"max-image-mb", "", "largest Caption image, MiB, checked before it is forwarded", "32"},
       {"tokens-file", "", "bearer tokens, one per line: every call must carry one; empty: open"},
       {"backend-ca", "", "PEM CA of the backends' certificates: TLS to the backends"},
       {"backend-cert", "", "PEM client certificate for the backends (mutual TLS)"},
       {"backend-key", "", "PEM private key of --backend-cert"}});
  Flags flags;
  ServerOptions options;
  if (int code = ParseServerFlags(kProgram, argc, argv, specs, &flags, &options); code >= 0) {
    return code;
  }
  StatusOr<int64_t> workers = flags.GetInt("workers", 1, 1024);
  StatusOr<int64_t> max_queue = flags.GetInt("max-queue", 1, 100000);
  StatusOr<int64_t> max_image_mb = flags.GetInt("max-image-mb", 1, 1024);
  if (!workers.ok()) return FailMain(kProgram, workers.status());
  if (!max_queue.ok()) return FailMain(kProgram, max_queue.status());
  if (!max_image_mb.ok()) return FailMain(kProgram, max_image_mb.status());

  // The gateway needs only the model's config: names and limits.
  StatusOr<model::ModelConfig> config = model::ReadModelConfig(flags.Get("model"));
  if (!config.ok()) return FailMain(kProgram, config.status());
  StatusOr<std::shared_ptr<grpc::ChannelCredentials>> backend_credentials =
      MakeChannelCredentials(
          {flags.Get("backend-cert"), flags.Get("backend-key"), flags.Get("backend-ca")});
  if (!backend_credentials.ok()) return FailMain(kProgram, backend_credentials.status());
  std::optional<TokenAuth> auth;
  if (!flags.Get("tokens-file").empty()) {
    StatusOr<TokenAuth> loaded = TokenAuth::FromFile(flags.Get("tokens-file"));
    if (!loaded.ok()) return FailMain(kProgram, loaded.status());
    auth = *std::move(loaded);
  }
  const BackendAddresses backends{flags.Get("text-encoder"), flags.Get("image-codec"),
                                  flags.Get("transformer"), *backend_credentials};
  Orchestrator orchestrator(*config, backends, options.max_message_bytes,
                            static_cast<size_t>(*max_image_mb) << 20);
  WorkQueue queue("gateway", static_cast<int>(*workers), static_cast<size_t>(*max_queue));
  GatewayService service(&orchestrator, &queue, auth ? &*auth : nullptr);
  auto runner = ServerRunner::Start(options, {&service});
  if (!runner.ok()) return FailMain(kProgram, runner.status());
  return ServeMain(kProgram, **runner, options, [&] { queue.Shutdown(); });
}
