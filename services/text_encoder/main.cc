// duet-text-encoder: serves duet.v1.TextEncoder (tokenize, encode, detokenize) for one model.
// Flags, load, build the service, serve until SIGTERM.
#include <memory>

#include "common/dtype_flag.h"
#include "common/safetensors.h"
#include "model/model_config.h"
#include "model/text_pipeline.h"
#include "model/torch_threads.h"
#include "services/common/server_main.h"
#include "services/common/termination.h"
#include "services/text_encoder/text_encoder_service.h"

namespace {
constexpr char kProgram[] = "duet-text-encoder";
}

int main(int argc, char** argv) {
  using namespace duet;
  using namespace duet::services;
  CatchTerminationSignals();
  const auto specs = CommonServerFlags(
      "127.0.0.1:50051", {{"workers", "", "encoding threads (1..64)", "2"},
                          {"max-queue", "", "requests waiting for a worker (1..100000)", "256"},
                          DtypeFlagSpec()});
  Flags flags;
  ServerOptions options;
  if (int code = ParseServerFlags(kProgram, argc, argv, specs, &flags, &options); code >= 0) {
    return code;
  }
  StatusOr<int64_t> workers = flags.GetInt("workers", 1, 64);
  StatusOr<int64_t> max_queue = flags.GetInt("max-queue", 1, 100000);
  if (!workers.ok()) return FailMain(kProgram, workers.status());
  if (!max_queue.ok()) return FailMain(kProgram, max_queue.status());
  StatusOr<torch::ScalarType> dtype = ReadDtype(flags, kProgram);
  if (!dtype.ok()) return FailMain(kProgram, dtype.status());

  const std::string dir = flags.Get("model");
  StatusOr<model::ModelConfig> config = model::ReadModelConfig(dir);
  if (!config.ok()) return FailMain(kProgram, config.status());
  StatusOr<SafetensorsFile> weights = ReadSafetensors(dir + "/" + model::kWeightsFile);
  if (!weights.ok()) return FailMain(kProgram, weights.status());
  auto pipeline = model::TextPipeline::Load(dir, *config, *weights, *dtype);
  if (!pipeline.ok()) return FailMain(kProgram, pipeline.status());
  weights->tensors.clear();

  // The workers encode side by side: each gets its share of the cores.
  const int threads = model::CoresPerWorker(static_cast<int>(*workers));
  WorkQueue queue("text-encoder", static_cast<int>(*workers), static_cast<size_t>(*max_queue),
                  [threads] { model::UseTorchThreads(threads); });
  TextEncoderService service(pipeline->get(), &queue);
  auto runner = ServerRunner::Start(options, {&service});
  if (!runner.ok()) return FailMain(kProgram, runner.status());
  return ServeMain(kProgram, **runner, options, [&] { queue.Shutdown(); });
}
