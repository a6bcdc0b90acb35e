// `duet generate`: drafts for one prompt, written as PNGs with their metadata.
// In process with --model; through the gateway with --server (see tools/client/).
#include <cstdio>
#include <filesystem>

#include "common/file.h"
#include "model/duet_model.h"
#include "tools/commands.h"
#include "tools/flags.h"
#include "tools/progress.h"

namespace duet::tools {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"model", "m", "model directory", ""},
      {"count", "n", "number of drafts, 1..256", "4"},
      {"seed", "s", "seed of draft 0; draft i uses seed + i", "0"},
      {"out", "o", "output directory", "out"},
      {"temperature", "", "sampling temperature, 0 = greedy", "1"},
      {"top-k", "", "keep the k most likely codes, 0 = all", "0"},
      {"top-p", "", "nucleus probability in (0, 1]", "1"},
      {"guidance", "", "classifier-free guidance scale, 1 = off", "3"},
      {"rerank", "", "order drafts by log p(prompt | image)", "", true},
  };
  return specs;
}

StatusOr<model::GenerateOptions> ReadOptions(const Flags& flags) {
  model::GenerateOptions options;
  DUET_ASSIGN_OR_RETURN(const int64_t count, flags.GetInt("count", 1, model::kMaxDrafts));
  options.count = static_cast<int>(count);
  DUET_ASSIGN_OR_RETURN(options.sampling.seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(const double temperature, flags.GetDouble("temperature", 0, 10));
  DUET_ASSIGN_OR_RETURN(const int64_t top_k, flags.GetInt("top-k", 0, 1 << 20));
  DUET_ASSIGN_OR_RETURN(const double top_p, flags.GetDouble("top-p", 1e-6, 1));
  DUET_ASSIGN_OR_RETURN(const double guidance, flags.GetDouble("guidance", 0, 50));
  options.sampling.temperature = static_cast<float>(temperature);
  options.sampling.top_k = static_cast<int>(top_k);
  options.sampling.top_p = static_cast<float>(top_p);
  options.sampling.guidance_scale = static_cast<float>(guidance);
  options.rerank = flags.Has("rerank");
  return options;
}

Status Generate(const Flags& flags) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError("expected exactly one prompt, got " +
                                      std::to_string(flags.positional().size()));
  }
  if (flags.Get("model").empty()) return absl::InvalidArgumentError("--model is required");
  DUET_ASSIGN_OR_RETURN(const model::GenerateOptions options, ReadOptions(flags));
  DUET_ASSIGN_OR_RETURN(auto engine, model::DuetModel::Load(flags.Get("model")));
  const std::string prompt = flags.positional()[0];
  std::vector<model::Draft> drafts;
  {
    ProgressBar bar("generating");
    DUET_ASSIGN_OR_RETURN(drafts, engine->GenerateImages(prompt, options, [&](int64_t d, int64_t t) {
      bar.Update(d, t);
      return true;
    }));
  }
  const std::string out = flags.Get("out");
  std::error_code error;
  std::filesystem::create_directories(out, error);
  if (error) return absl::InternalError("cannot create --out " + out + ": " + error.message());
  for (size_t rank = 0; rank < drafts.size(); ++rank) {
    const model::Draft& draft = drafts[rank];
    char name[64];
    std::snprintf(name, sizeof(name), "draft_%03zu_seed_%llu.png", rank,
                  static_cast<unsigned long long>(draft.seed));
    DUET_RETURN_IF_ERROR(WriteFileAtomic(out + "/" + name, draft.png));
    std::printf("%s/%s seed=%llu%s\n", out.c_str(), name,
                static_cast<unsigned long long>(draft.seed),
                options.rerank ? (" score=" + std::to_string(draft.score)).c_str() : "");
  }
  return absl::OkStatus();
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  StatusOr<Flags> flags = Flags::Parse(Specs(), argc, argv, 2);
  if (flags.ok() && flags->help()) {
    std::fputs(FlagsHelp("generate", "--model DIR [flags] \"prompt\"",
                         "Generates image drafts for a prompt and writes them as PNG files.",
                         Specs()).c_str(), stdout);
    return 0;
  }
  const Status status = flags.ok() ? Generate(*flags) : flags.status();
  if (!status.ok()) {
    std::fprintf(stderr, "duet generate: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace duet::tools
