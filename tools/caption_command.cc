// `duet caption`: one caption per image, in process with --model; inputs, output and exit code
// as through a gateway (tools/caption_output.h).
#include <cstdio>

#include "common/dtype_flag.h"
#include "common/file.h"
#include "model/duet_model.h"
#include "tools/caption_output.h"
#include "tools/command.h"
#include "tools/commands.h"

namespace duet::tools {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = Concat(
      {
          {"model", "m", "model directory", ""},
          {"temperature", "", "sampling temperature, 0 = greedy", "0"},
          {"seed", "s", "seed of image 0 (image i uses seed + i)", "0"},
          DtypeFlagSpec(),
      },
      CaptionOutputFlagSpecs());
  return specs;
}

// Captions one file; errors are per file so the run continues.
StatusOr<model::CaptionResult> CaptionFile(model::DuetModel& engine, const std::string& path,
                                           const fusion::SamplingParams& sampling) {
  DUET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, size_t{64} << 20));
  DUET_ASSIGN_OR_RETURN(auto results, engine.Caption({bytes}, sampling));
  return results[0];
}

// The exit code: 1 when any input failed (tools/caption_output.h).
StatusOr<int> Caption(const Flags& flags) {
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> paths, CaptionInputs(flags));
  DUET_ASSIGN_OR_RETURN(CaptionPrinter printer, CaptionPrinter::Make(flags));
  fusion::SamplingParams sampling;
  DUET_ASSIGN_OR_RETURN(const double temperature, flags.GetDouble("temperature", 0, 10));
  sampling.temperature = static_cast<float>(temperature);
  DUET_ASSIGN_OR_RETURN(sampling.seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(const torch::ScalarType dtype, ReadDtype(flags, "duet caption"));
  DUET_ASSIGN_OR_RETURN(auto engine, model::DuetModel::Load(flags.Get("model"), dtype));
  for (const std::string& path : paths) {
    const StatusOr<model::CaptionResult> result = CaptionFile(*engine, path, sampling);
    if (result.ok()) {
      printer.Captioned(path, result->text, result->score);
    } else {
      printer.Failed(path, std::string(result.status().message()));
    }
    sampling.seed += 1;
  }
  return printer.Finish();
}

}  // namespace

int RunCaption(int argc, char** argv) {
  return RunCommand({"caption", "--model DIR (IMAGE... | --dir DIR) [--format jsonl|tsv]",
                     "Captions PNG/JPEG images: caption and log p(caption | image) each.",
                     Specs(), {"model"}},
                    argc, argv, Caption);
}

}  // namespace duet::tools
