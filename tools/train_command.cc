// `duet train`: reads the model and training configs, applies flag overrides and runs the stages.
#include <cstdio>

#include "common/file.h"
#include "tools/command.h"
#include "tools/commands.h"
#include "training/trainer.h"

namespace duet::tools {
namespace {

using namespace ::duet::training;  // the library this command drives

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"data", "d", "dataset directory (duet data)", ""},
      {"out", "o", "output directory: checkpoints, metrics, the final model/", ""},
      {"model-config", "", "model config JSON, e.g. assets/configs/duet-small.json", ""},
      {"config", "c", "training config JSON (training/train_config.h); flags override it", ""},
      {"stage", "", "all, tokenizer, image, joint or export", "all"},
      {"until-step", "", "stop the running stage after this step (resume later)", "0"},
      {"image-tokenizer-from", "", "model directory whose image tokenizer the image stage adopts "
                                   "instead of training one (same image_tokenizer config)", ""},
      {"joint-init-from", "", "model directory whose text encoder and transformer the joint "
                              "stage starts from (fine-tuning; same tokenizer and shapes)", ""},
      {"seed", "s", "override: seed", ""},
      {"device", "", "override: cpu, cuda, cuda:N", ""},
      {"threads", "", "override: torch threads (0 = default)", ""},
      {"dtype", "", "override: matmul dtype auto, bfloat16 or float32 (master weights float32)", ""},
      {"image-steps", "", "override: image.steps", ""},
      {"joint-steps", "", "override: joint.steps", ""},
      {"image-batch", "", "override: image.batch_size", ""},
      {"joint-batch", "", "override: joint.batch_size", ""},
      {"checkpoint-every", "", "override: checkpoint_every", ""},
      {"log-every", "", "override: log_every", ""},
  };
  return specs;
}

// A model config as `duet init-model` reads one: the transformer's shared sizes always follow
// the text encoder and image tokenizer.
// *sets_sampling: whether the file names "sampling" defaults of its own.
StatusOr<model::ModelConfig> ReadModelConfigFile(const std::string& path, bool* sets_sampling) {
  model::ModelConfig config;
  *sets_sampling = false;
  if (path.empty()) return config;
  DUET_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(path));
  *sets_sampling = json.is_object() && json.contains("sampling");
  fusion::TransformerConfig transformer;
  if (json.is_object() && json.contains("transformer")) {
    for (const char* key :
         {"text_vocab", "text_dim", "text_prefix_len", "image_grid", "image_codebook"}) {
      json["transformer"].erase(key);
    }
    DUET_ASSIGN_OR_RETURN(transformer, fusion::TransformerConfig::FromJson(json["transformer"]));
    json.erase("transformer");
  }
  DUET_ASSIGN_OR_RETURN(config, model::ModelConfig::FromJson(json));
  config.transformer = transformer;
  config.Derive();
  DUET_RETURN_IF_ERROR(config.Validate());
  return config;
}

Status ApplyOverrides(const Flags& flags, TrainConfig* c) {
  auto integer = [&](const char* name, auto* field, int64_t lo, int64_t hi) -> Status {
    if (flags.Get(name).empty()) return absl::OkStatus();
    DUET_ASSIGN_OR_RETURN(const int64_t value, flags.GetInt(name, lo, hi));
    *field = static_cast<std::remove_pointer_t<decltype(field)>>(value);
    return absl::OkStatus();
  };
  if (!flags.Get("seed").empty()) {
    DUET_ASSIGN_OR_RETURN(c->seed, flags.GetUint64("seed"));
  }
  if (!flags.Get("device").empty()) c->device = flags.Get("device");
  if (!flags.Get("dtype").empty()) c->dtype = flags.Get("dtype");
  DUET_RETURN_IF_ERROR(integer("threads", &c->threads, 0, 1024));
  DUET_RETURN_IF_ERROR(integer("image-steps", &c->image.steps, 1, 100'000'000));
  DUET_RETURN_IF_ERROR(integer("joint-steps", &c->joint.steps, 1, 100'000'000));
  DUET_RETURN_IF_ERROR(integer("image-batch", &c->image.batch_size, 1, 65536));
  DUET_RETURN_IF_ERROR(integer("joint-batch", &c->joint.batch_size, 1, 65536));
  DUET_RETURN_IF_ERROR(integer("checkpoint-every", &c->checkpoint_every, 1, 100'000'000));
  DUET_RETURN_IF_ERROR(integer("log-every", &c->log_every, 1, 100'000'000));
  c->image.warmup = std::min(c->image.warmup, c->image.steps);
  c->joint.warmup = std::min(c->joint.warmup, c->joint.steps);
  return c->Validate();
}

Status Train(const Flags& flags) {
  if (!flags.positional().empty()) {
    return absl::InvalidArgumentError("unexpected argument " + flags.positional()[0]);
  }
  TrainOptions options;
  options.data_dir = flags.Get("data");
  options.out_dir = flags.Get("out");
  options.stage = flags.Get("stage");
  options.image_tokenizer_from = flags.Get("image-tokenizer-from");
  options.joint_init_from = flags.Get("joint-init-from");
  bool sets_sampling = false;
  DUET_ASSIGN_OR_RETURN(options.model,
                        ReadModelConfigFile(flags.Get("model-config"), &sets_sampling));
  // A fine-tune keeps the sampling defaults its parent's sweep chose unless told otherwise.
  options.inherit_sampling = !sets_sampling;
  if (!flags.Get("config").empty()) {
    DUET_ASSIGN_OR_RETURN(const nlohmann::json json, ReadJsonFile(flags.Get("config")));
    DUET_ASSIGN_OR_RETURN(options.train, TrainConfig::FromJson(json));
  }
  DUET_RETURN_IF_ERROR(ApplyOverrides(flags, &options.train));
  DUET_ASSIGN_OR_RETURN(options.until_step, flags.GetInt("until-step", 0, 100'000'000));
  return RunTraining(options);
}

}  // namespace

int RunTrain(int argc, char** argv) {
  return RunCommand({"train", "--data DIR -o DIR [--model-config FILE] [flags]",
                     "Trains the tokenizer, image tokenizer and joint model; resumes from the "
                     "newest checkpoints in -o.",
                     Specs(), {"data", "out"}},
                    argc, argv, ExitZeroWhenOk(Train));
}

}  // namespace duet::tools
