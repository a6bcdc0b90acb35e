// duet-image-codec: serves duet.v1.ImageCodec (validate and tokenize images, codes -> PNG).
// Flags, load, build the service, serve until SIGTERM.
#include <memory>

#include "common/dtype_flag.h"
#include "common/safetensors.h"
#include "model/image_pipeline.h"
#include "model/model_config.h"
#include "model/torch_threads.h"
#include "services/common/server_main.h"
#include "services/common/termination.h"
#include "services/image_codec/image_codec_service.h"

namespace {
constexpr char kProgram[] = "duet-image-codec";
}

int main(int argc, char** argv) {
  using namespace duet;
  using namespace duet::services;
  CatchTerminationSignals();
  const auto specs = CommonServerFlags(
      "127.0.0.1:50052", {{"workers", "", "codec threads (1..64)", "2"},
                          {"max-queue", "", "requests waiting for a worker (1..100000)", "256"},
                          {"max-image-side", "", "largest accepted image side, px", "4096"},
                          {"max-image-mb", "", "largest accepted encoded image, MiB", "32"},
                          DtypeFlagSpec()});
  Flags flags;
  ServerOptions options;
  if (int code = ParseServerFlags(kProgram, argc, argv, specs, &flags, &options); code >= 0) {
    return code;
  }
  StatusOr<int64_t> workers = flags.GetInt("workers", 1, 64);
  StatusOr<int64_t> max_queue = flags.GetInt("max-queue", 1, 100000);
  StatusOr<int64_t> max_side = flags.GetInt("max-image-side", 8, 16384);
  StatusOr<int64_t> max_mb = flags.GetInt("max-image-mb", 1, 1024);
  for (const Status& s : {workers.status(), max_queue.status(), max_side.status(),
                          max_mb.status()}) {
    if (!s.ok()) return FailMain(kProgram, s);
  }
  StatusOr<torch::ScalarType> dtype = ReadDtype(flags, kProgram);
  if (!dtype.ok()) return FailMain(kProgram, dtype.status());
  ImageCodecLimits limits;
  limits.image.max_side = static_cast<int>(*max_side);
  limits.image.max_pixels = *max_side * *max_side;
  limits.image.max_bytes = static_cast<size_t>(*max_mb) << 20;

  const std::string dir = flags.Get("model");
  StatusOr<model::ModelConfig> config = model::ReadModelConfig(dir);
  if (!config.ok()) return FailMain(kProgram, config.status());
  StatusOr<SafetensorsFile> weights = ReadSafetensors(dir + "/" + model::kWeightsFile);
  if (!weights.ok()) return FailMain(kProgram, weights.status());
  auto pipeline = model::ImagePipeline::Load(*config, *weights, *dtype);
  if (!pipeline.ok()) return FailMain(kProgram, pipeline.status());
  weights->tensors.clear();

  // The workers decode side by side: each gets its share of the cores.
  const int threads = model::CoresPerWorker(static_cast<int>(*workers));
  WorkQueue queue("image-codec", static_cast<int>(*workers), static_cast<size_t>(*max_queue),
                  [threads] { model::UseTorchThreads(threads); });
  ImageCodecService service(pipeline->get(), &queue, limits);
  auto runner = ServerRunner::Start(options, {&service});
  if (!runner.ok()) return FailMain(kProgram, runner.status());
  return ServeMain(kProgram, **runner, options, [&] { queue.Shutdown(); });
}
