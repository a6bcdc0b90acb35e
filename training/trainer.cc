// Implementation of training/trainer.h: the stage driver, the tokenizer stage and the export.
#include "training/trainer.h"

#include <filesystem>

#include "common/compute_dtype.h"
#include "common/file.h"
#include "common/mixed_precision.h"
#include "common/tensor_io.h"
#include "fusion/transformer.h"
#include "model/duet_model.h"
#include "model/torch_threads.h"
#include "training/batches.h"
#include "training/checkpoint.h"
#include "training/stages.h"

namespace duet::training {
namespace {

StatusOr<torch::Device> ParseDevice(const std::string& name) {
  if (name.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError("device " + name +
                                         " asked for, but this LibTorch has no usable CUDA");
  }
  torch::Device device = torch::kCPU;
  DUET_RETURN_IF_ERROR(CatchTorch("device", [&] { device = torch::Device(name); }));
  return device;
}

bool Wants(const TrainOptions& options, const char* stage) {
  return options.stage == "all" || options.stage == stage;
}

Status CheckOptions(const TrainOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data directory is required");
  if (options.out_dir.empty()) return absl::InvalidArgumentError("output directory is required");
  bool known = options.stage == "all";
  for (const char* stage : kStages) known = known || options.stage == stage;
  if (!known) return absl::InvalidArgumentError("unknown stage " + options.stage);
  if (options.until_step < 0) return absl::InvalidArgumentError("until_step must be >= 0");
  DUET_RETURN_IF_ERROR(options.train.Validate());
  return options.model.Validate();
}

}  // namespace

StatusOr<language::Tokenizer> TokenizerStage(StageContext* ctx) {
  const std::string path = ctx->Path(model::kTokenizerFile);
  StatusOr<language::Tokenizer> tokenizer = language::Tokenizer::Load(path);
  if (!tokenizer.ok() && absl::IsNotFound(tokenizer.status())) {
    std::vector<std::string> corpus = AllCaptions(*ctx->data);
    for (const Concept& c : ctx->data->concepts) corpus.push_back(CaptionTarget(c));
    tokenizer = language::Tokenizer::Train(corpus, ctx->options->model.text_encoder.vocab_size);
    if (tokenizer.ok()) DUET_RETURN_IF_ERROR(tokenizer->Save(path));
    std::fprintf(stderr, "[tokenizer] %zu captions -> %d pieces\n", corpus.size(),
                 tokenizer.ok() ? tokenizer->vocab_size() : 0);
  }
  if (!tokenizer.ok()) return tokenizer.status();
  ctx->config.text_encoder.vocab_size = tokenizer->vocab_size();
  ctx->config.Derive();
  DUET_RETURN_IF_ERROR(ctx->config.Validate());
  DUET_RETURN_IF_ERROR(WriteJsonFile(ctx->Path("model_config.json"), ctx->config.ToJson()));
  return tokenizer;
}

Status ExportModel(const StageContext& ctx, const language::Tokenizer& tokenizer) {
  const std::string image_ckpt = CheckpointPath(ctx.Path(kImageStageDir), ctx.train().image.steps);
  const std::string joint_ckpt = CheckpointPath(ctx.Path(kJointStageDir), ctx.train().joint.steps);
  for (const std::string& path : {image_ckpt, joint_ckpt}) {
    if (!std::filesystem::exists(path)) {
      return absl::FailedPreconditionError("export needs the final checkpoint " + path);
    }
  }
  vision::ImageTokenizer image(ctx.config.image_tokenizer);
  DUET_ASSIGN_OR_RETURN(language::TextEncoder encoder,
                        language::MakeTextEncoder(ctx.config.text_encoder));
  fusion::MultimodalTransformer transformer(ctx.config.transformer);
  const std::vector<NamedModule> modules = {{model::kImageTokenizerPrefix, image.ptr().get()},
                                            {model::kTextEncoderPrefix, encoder.ptr().get()},
                                            {model::kTransformerPrefix, transformer.ptr().get()}};
  DUET_RETURN_IF_ERROR(LoadCheckpoint(image_ckpt, {modules[0]}, nullptr).status());
  DUET_RETURN_IF_ERROR(LoadCheckpoint(joint_ckpt, {modules[1], modules[2]}, nullptr).status());
  const std::string dir = ctx.Path(kModelDir);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  SafetensorsFile weights;
  weights.metadata = {{"format", "pt"}, {"name", ctx.config.name}};
  for (const NamedModule& m : modules)
    DUET_RETURN_IF_ERROR(SaveModule(*m.module, m.prefix, &weights));
  DUET_RETURN_IF_ERROR(WriteSafetensors(dir + "/" + model::kWeightsFile, weights));
  model::ModelConfig config = ctx.config;
  if (ctx.options->inherit_sampling && !ctx.options->joint_init_from.empty()) {
    DUET_ASSIGN_OR_RETURN(const model::ModelConfig parent,
                          model::ReadModelConfig(ctx.options->joint_init_from));
    config.sampling = parent.sampling;
  }
  DUET_RETURN_IF_ERROR(WriteJsonFile(dir + "/" + model::kConfigFile, config.ToJson()));
  DUET_RETURN_IF_ERROR(tokenizer.Save(dir + "/" + model::kTokenizerFile));
  DUET_RETURN_IF_ERROR(model::DuetModel::Load(dir).status());
  std::fprintf(stderr, "[export] wrote %s\n", dir.c_str());
  return absl::OkStatus();
}

Status RunTraining(const TrainOptions& options) {
  DUET_RETURN_IF_ERROR(CheckOptions(options));
  DUET_ASSIGN_OR_RETURN(const Dataset data, ReadDataset(options.data_dir));
  if (data.resolution != options.model.image_tokenizer.resolution) {
    return absl::InvalidArgumentError(absl::StrCat("dataset resolution ", data.resolution,
                                                   " differs from image_tokenizer.resolution ",
                                                   options.model.image_tokenizer.resolution));
  }
  StageContext ctx;
  ctx.options = &options;
  ctx.data = &data;
  ctx.config = options.model;
  DUET_ASSIGN_OR_RETURN(ctx.device, ParseDevice(options.train.device));
  model::UseTorchThreads(options.train.threads);
  // Mixed precision on this (the training) thread: products in `dtype`, float32 master weights,
  // optimiser state and losses (common/mixed_precision.h).
  DUET_ASSIGN_OR_RETURN(const torch::ScalarType dtype,
                        ChooseDtype(options.train.dtype, "dtype", "duet train"));
  ComputeDtypeScope compute_dtype(dtype);
  std::error_code error;
  std::filesystem::create_directories(options.out_dir, error);
  if (error)
    return absl::InternalError("cannot create " + options.out_dir + ": " + error.message());
  DUET_RETURN_IF_ERROR(WriteJsonFile(ctx.Path("train_config.json"), options.train.ToJson()));
  // Every later stage needs the tokenizer's vocabulary, so it always runs (or loads).
  DUET_ASSIGN_OR_RETURN(const language::Tokenizer tokenizer, TokenizerStage(&ctx));
  if (Wants(options, "image")) {
    DUET_ASSIGN_OR_RETURN(const bool done, ImageStage(ctx));
    if (!done) return absl::OkStatus();
  }
  if (Wants(options, "joint")) {
    DUET_ASSIGN_OR_RETURN(const bool done, JointStage(ctx, tokenizer));
    if (!done) return absl::OkStatus();
  }
  if (Wants(options, "export")) DUET_RETURN_IF_ERROR(ExportModel(ctx, tokenizer));
  return absl::OkStatus();
}

}  // namespace duet::training
