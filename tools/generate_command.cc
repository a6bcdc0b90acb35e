// `duet generate`: drafts for one prompt, written as PNGs with their metadata.
// In process with --model; through the gateway with --server (see tools/client/).
#include <cstdio>

#include "common/dtype_flag.h"
#include "model/duet_model.h"
#include "tools/command.h"
#include "tools/commands.h"
#include "tools/draft_output.h"
#include "tools/generate_flags.h"
#include "tools/progress.h"

namespace duet::tools {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs =
      Concat({{"model", "m", "model directory", ""}, DtypeFlagSpec()}, GenerateFlagSpecs());
  return specs;
}

Status Generate(const Flags& flags) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError("expected exactly one prompt, got " +
                                      std::to_string(flags.positional().size()));
  }
  DUET_ASSIGN_OR_RETURN(const GenerateFlags request, ReadGenerateFlags(flags));  // before loading
  DUET_ASSIGN_OR_RETURN(DraftWriter writer, DraftWriter::Open(flags.Get("out")));
  DUET_ASSIGN_OR_RETURN(const torch::ScalarType dtype, ReadDtype(flags, "duet generate"));
  DUET_ASSIGN_OR_RETURN(auto engine, model::DuetModel::Load(flags.Get("model"), dtype));
  const model::GenerateOptions options = request.Options(engine->config().sampling);
  const std::string prompt = flags.positional()[0];
  std::vector<model::Draft> drafts;
  {
    ProgressBar bar("generating");
    DUET_ASSIGN_OR_RETURN(drafts, engine->GenerateImages(prompt, options, [&](int64_t d, int64_t t) {
      bar.Update(d, t);
      return true;
    }));
  }
  for (const model::Draft& draft : drafts) {
    DUET_RETURN_IF_ERROR(writer.Add(draft.seed, draft.score, draft.png));
  }
  return writer.Finish();
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  return RunCommand({"generate", "--model DIR [flags] \"prompt\"",
                     "Generates image drafts for a prompt and writes them as PNG files.", Specs(),
                     {"model"}},
                    argc, argv, ExitZeroWhenOk(Generate));
}

}  // namespace duet::tools
