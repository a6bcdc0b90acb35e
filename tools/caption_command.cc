// `duet caption`: one caption per image, in process with --model.
// Output: "path<TAB>caption<TAB>score" per image; unreadable images are reported and skipped.
#include <cstdio>

#include "common/file.h"
#include "model/duet_model.h"
#include "tools/commands.h"
#include "tools/dtype_flag.h"
#include "tools/flags.h"

namespace duet::tools {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"model", "m", "model directory", ""},
      {"temperature", "", "sampling temperature, 0 = greedy", "0"},
      {"seed", "s", "seed of image 0 (image i uses seed + i)", "0"},
      DtypeFlagSpec(),
  };
  return specs;
}

// Captions one file; errors are per file so the run continues.
Status CaptionFile(model::DuetModel& engine, const std::string& path,
                   const fusion::SamplingParams& sampling) {
  DUET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, size_t{64} << 20));
  DUET_ASSIGN_OR_RETURN(auto results, engine.Caption({bytes}, sampling));
  std::printf("%s\t%s\t%.4f\n", path.c_str(), results[0].text.c_str(), results[0].score);
  std::fflush(stdout);
  return absl::OkStatus();
}

Status Caption(const Flags& flags, int* failures) {
  if (flags.positional().empty()) return absl::InvalidArgumentError("expected image files");
  if (flags.Get("model").empty()) return absl::InvalidArgumentError("--model is required");
  fusion::SamplingParams sampling;
  DUET_ASSIGN_OR_RETURN(const double temperature, flags.GetDouble("temperature", 0, 10));
  sampling.temperature = static_cast<float>(temperature);
  DUET_ASSIGN_OR_RETURN(sampling.seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(const torch::ScalarType dtype, ReadDtype(flags, "duet caption"));
  DUET_ASSIGN_OR_RETURN(auto engine, model::DuetModel::Load(flags.Get("model"), dtype));
  for (const std::string& path : flags.positional()) {
    const Status status = CaptionFile(*engine, path, sampling);
    if (!status.ok()) {
      ++*failures;
      std::fprintf(stderr, "duet caption: %s: %s\n", path.c_str(),
                   std::string(status.message()).c_str());
    }
    sampling.seed += 1;
  }
  return absl::OkStatus();
}

}  // namespace

int RunCaption(int argc, char** argv) {
  StatusOr<Flags> flags = Flags::Parse(Specs(), argc, argv, 2);
  if (flags.ok() && flags->help()) {
    std::fputs(FlagsHelp("caption", "--model DIR IMAGE...",
                         "Prints path, caption and log p(caption | image) for each PNG/JPEG image.",
                         Specs()).c_str(), stdout);
    return 0;
  }
  int failures = 0;
  const Status status = flags.ok() ? Caption(*flags, &failures) : flags.status();
  if (!status.ok()) {
    std::fprintf(stderr, "duet caption: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace duet::tools
