// duet-transformer: serves duet.v1.MultimodalTransformer; one scheduler thread owns the model.
// Flags, load, build the service, serve until SIGTERM.
#include <memory>

#include "common/dtype_flag.h"
#include "common/cpu_allocator.h"
#include "common/log.h"
#include "model/torch_threads.h"
#include "model/transformer_model.h"
#include "services/common/metrics.h"
#include "services/common/server_main.h"
#include "services/common/termination.h"
#include "services/transformer/scheduler.h"
#include "services/transformer/transformer_service.h"

namespace {
constexpr char kProgram[] = "duet-transformer";
}

int main(int argc, char** argv) {
  using namespace duet;
  using namespace duet::services;
  CatchTerminationSignals();
  const auto specs = CommonServerFlags(
      "127.0.0.1:50053",
      {{"max-queue", "", "requests waiting to join decoding (1..100000)", "64"},
       {"max-rows", "", "sequences decoding at once, x2 with guidance (1..65536)", "1024"},
       {"chunk-tokens", "", "prefill and scoring positions per step and unit of work (1..1048576)",
        "2048"},
       {"device", "", "where the transformer runs: auto (cuda when LibTorch sees a GPU), cpu, cuda",
        "auto"},
       DtypeFlagSpec()});
  Flags flags;
  ServerOptions options;
  if (int code = ParseServerFlags(kProgram, argc, argv, specs, &flags, &options); code >= 0) {
    return code;
  }
  model::UseTorchThreads();  // the scheduler decodes on one thread: give it every core
  if (const CachingCpuAllocator* cache = UseCachingCpuAllocator()) {  // decode steps reuse blocks
    ProcessMetrics().Describe("duet_cpu_cache_bytes", MetricType::kGauge,
                              "LibTorch CPU blocks of 256 KiB and more: in_use, or cached (free, "
                              "kept for reuse; DUET_CPU_CACHE_MB caps it)");
    ProcessMetrics().OnRender([cache](MetricsRegistry& m) {
      const CachingCpuAllocator::Stats stats = cache->stats();
      m.Set("duet_cpu_cache_bytes", {{"state", "cached"}}, static_cast<double>(stats.cached_bytes));
      m.Set("duet_cpu_cache_bytes", {{"state", "in_use"}}, static_cast<double>(stats.in_use_bytes));
    });
  }
  StatusOr<int64_t> max_queue = flags.GetInt("max-queue", 1, 100000);
  StatusOr<int64_t> max_rows = flags.GetInt("max-rows", 1, 65536);
  StatusOr<int64_t> chunk_tokens = flags.GetInt("chunk-tokens", 1, 1 << 20);
  if (!max_queue.ok()) return FailMain(kProgram, max_queue.status());
  if (!max_rows.ok()) return FailMain(kProgram, max_rows.status());
  if (!chunk_tokens.ok()) return FailMain(kProgram, chunk_tokens.status());
  StatusOr<torch::Device> device = model::ChooseDevice(flags.Get("device"), "--device");
  if (!device.ok()) return FailMain(kProgram, device.status());
  StatusOr<torch::ScalarType> dtype = torch::kBFloat16;
  if (device->is_cuda() && flags.Get("dtype") == "auto") {
    DUET_LOG(INFO) << kProgram << ": computing in bfloat16 on cuda (auto)";
  } else {
    dtype = ReadDtype(flags, kProgram);
    if (!dtype.ok()) return FailMain(kProgram, dtype.status());
  }

  // Only the transformer loads: no tokenizer, no image tokenizer.
  auto model = model::LoadTransformer(flags.Get("model"), *dtype, *device);
  if (!model.ok()) return FailMain(kProgram, model.status());
  SchedulerOptions scheduler_options;
  scheduler_options.max_queue = static_cast<size_t>(*max_queue);
  scheduler_options.max_rows = *max_rows;
  scheduler_options.chunk.tokens = *chunk_tokens;
  Scheduler scheduler(model->transformer, scheduler_options);
  TransformerService service(&scheduler, model->config.sampling.Params());
  auto runner = ServerRunner::Start(options, {&service});
  if (!runner.ok()) return FailMain(kProgram, runner.status());
  return ServeMain(kProgram, **runner, options, [&] { scheduler.Shutdown(); });
}
