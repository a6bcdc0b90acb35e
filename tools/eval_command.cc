// `duet eval`: evaluates a model directory on a dataset, writes JSON and a markdown report.
#include <cstdio>

#include "common/dtype_flag.h"
#include "tools/command.h"
#include "tools/commands.h"
#include "tools/generate_flags.h"
#include "training/evaluate.h"

namespace duet::tools {
namespace {

using namespace ::duet::training;  // the library this command drives

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"model", "m", "model directory", ""},
      {"data", "d", "dataset directory (duet data)", ""},
      {"json", "", "results JSON path (default: <model>/eval.json)", ""},
      {"report", "", "markdown report path", "docs/eval.md"},
      {"max-concepts", "", "held-out concepts to prompt, 0 = all", "0"},
      {"train-captions", "", "training images also captioned", "64"},
      {"drafts", "", "drafts per prompt for diversity", "4"},
      {"diversity-prompts", "", "prompts used for diversity", "8"},
      {"rerank-candidates", "", "drafts per prompt for the reranked judge, 0 = off", "4"},
      {"judge-epochs", "", "epochs of the judge classifier", "40"},
      {"seed", "s", "sampling and judge seed", "0"},
      {"temperature", "", "text->image temperature (default: the model's config.json)", ""},
      {"top-k", "", "text->image top-k (default: the model's config.json)", ""},
      {"top-p", "", "text->image top-p (default: the model's config.json)", ""},
      {"guidance", "", "text->image guidance scale (default: the model's config.json)", ""},
      {"sweep", "", "also judge a grid, e.g. \"guidance_scale=1,3;temperature=0.8,1\"", ""},
      {"device", "", "judge device: cpu, cuda", "cpu"},
      DtypeFlagSpec(),
  };
  return specs;
}

Status Eval(const Flags& flags) {
  EvalOptions o;
  o.model_dir = flags.Get("model");
  o.data_dir = flags.Get("data");
  o.json_path = flags.Get("json").empty() ? o.model_dir + "/eval.json" : flags.Get("json");
  o.report_path = flags.Get("report");
  DUET_ASSIGN_OR_RETURN(o.max_concepts, flags.GetInt("max-concepts", 0, 1 << 30));
  DUET_ASSIGN_OR_RETURN(o.train_captions, flags.GetInt("train-captions", 0, 1 << 30));
  DUET_ASSIGN_OR_RETURN(const int64_t drafts, flags.GetInt("drafts", 2, 256));
  o.drafts = static_cast<int>(drafts);
  DUET_ASSIGN_OR_RETURN(o.diversity_prompts, flags.GetInt("diversity-prompts", 0, 1 << 20));
  DUET_ASSIGN_OR_RETURN(o.rerank_candidates, flags.GetInt("rerank-candidates", 0, 64));
  DUET_ASSIGN_OR_RETURN(const int64_t epochs, flags.GetInt("judge-epochs", 0, 10000));
  o.judge_epochs = static_cast<int>(epochs);
  DUET_ASSIGN_OR_RETURN(o.seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(o.sampling, tools::ReadSamplingOverrides(flags));
  o.sampling.seed = 0;  // draft seeds come from --seed per prompt
  if (!flags.Get("sweep").empty()) {
    DUET_ASSIGN_OR_RETURN(o.sweep, ParseSweep(flags.Get("sweep"), {}));
  }
  o.device = flags.Get("device");
  DUET_ASSIGN_OR_RETURN(o.dtype, ReadDtype(flags, "duet eval"));
  DUET_ASSIGN_OR_RETURN(const nlohmann::json results, Evaluate(o));
  std::printf("wrote %s and %s\n", o.json_path.c_str(), o.report_path.c_str());
  return absl::OkStatus();
}

}  // namespace

int RunEval(int argc, char** argv) {
  return RunCommand({"eval", "--model DIR --data DIR [flags]",
                     "Evaluates a model: image tokenizer, captioning, judged text to image, "
                     "diversity, round trip.",
                     Specs(), {"model", "data"}},
                    argc, argv, ExitZeroWhenOk(Eval));
}

}  // namespace duet::tools
