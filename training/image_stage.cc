// The image-tokenizer stage: reconstruction training of vision::ImageTokenizer on the dataset's
// training images, with a validation PSNR and code usage at every checkpoint.
#include <cmath>

#include "common/tensor_io.h"
#include "model/model_config.h"
#include "training/checkpoint.h"
#include "training/rng.h"
#include "training/stages.h"
#include "training/train_log.h"

namespace duet::training {
namespace {

constexpr int64_t kEncodeChunk = 64;  // images per no-grad encoder call

// L1 + MSE, the loss REFERENCES.md measured on this data.
torch::Tensor ReconstructionLoss(const torch::Tensor& recon, const torch::Tensor& target) {
  return torch::l1_loss(recon, target) + torch::mse_loss(recon, target);
}

torch::Tensor SampleIndices(const std::vector<int64_t>& pool, uint64_t seed, int64_t step,
                            int batch_size) {
  StepRng rng(seed, RngStream::kImageBatch, static_cast<uint64_t>(step));
  torch::Tensor out = torch::empty({batch_size}, torch::kInt64);
  for (int b = 0; b < batch_size; ++b) out[b] = pool[rng.Below(static_cast<int64_t>(pool.size()))];
  return out;
}

// PSNR (dB, images in [0, 1]) and the fraction of codes used, on up to `count` validation images.
nlohmann::json Validation(vision::ImageTokenizer& net, const Dataset& data, int64_t count,
                          torch::Device device) {
  std::vector<int64_t> pool = data.Indices(Split::kVal);
  if (pool.empty()) pool = data.Indices(Split::kTrain);
  pool.resize(std::min<int64_t>(count, static_cast<int64_t>(pool.size())));
  if (pool.empty()) return nlohmann::json::object();
  torch::NoGradGuard no_grad;
  const torch::Tensor x =
      ImagesToFloat(data.images.index_select(0, torch::tensor(pool))).to(device);
  const torch::Tensor codes = net->Encode(x);
  const torch::Tensor recon = net->Decode(codes);
  const double mse = ((recon - x) / 2).pow(2).mean().item<double>();
  const double used = static_cast<double>(std::get<0>(at::_unique(codes.flatten())).numel());
  return {{"val_psnr", 10 * std::log10(1.0 / std::max(mse, 1e-10))},
          {"val_code_usage", used / static_cast<double>(net->fsq()->codebook_size())}};
}

// The stage's final checkpoint from a trained model's image tokenizer (TrainOptions::
// image_tokenizer_from): its weights, no optimiser state, and one validation row in the log.
Status AdoptImageTokenizer(const StageContext& ctx, vision::ImageTokenizer& net,
                           const std::vector<NamedModule>& modules, const std::string& dir) {
  const std::string& from = ctx.options->image_tokenizer_from;
  DUET_ASSIGN_OR_RETURN(const model::ModelConfig source, model::ReadModelConfig(from));
  if (source.image_tokenizer.ToJson() != ctx.config.image_tokenizer.ToJson()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image-tokenizer-from: ", from, " has image_tokenizer ",
                     source.image_tokenizer.ToJson().dump(), ", the model config asks for ",
                     ctx.config.image_tokenizer.ToJson().dump()));
  }
  DUET_ASSIGN_OR_RETURN(const SafetensorsFile weights,
                        ReadSafetensors(from + "/" + model::kWeightsFile));
  DUET_RETURN_IF_ERROR(LoadModule(weights, model::kImageTokenizerPrefix, net.ptr().get()));
  const int64_t steps = ctx.train().image.steps;
  DUET_RETURN_IF_ERROR(SaveCheckpoint(dir, steps, modules, nullptr,
                                      {{"stage", "image"}, {"adopted_from", from}},
                                      ctx.train().keep_checkpoints));
  nlohmann::json row = Validation(net, *ctx.data, ctx.train().val_images, ctx.device);
  row["stage"] = "image";
  row["step"] = steps;
  row["adopted_from"] = from;
  TrainLog log(ctx.Path(kMetricsFile), "image", steps, steps);
  return log.Append(row);
}

}  // namespace

torch::Tensor EncodeImages(vision::ImageTokenizer& net, const torch::Tensor& images,
                           torch::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < images.size(0); first += kEncodeChunk) {
    const int64_t n = std::min(kEncodeChunk, images.size(0) - first);
    parts.push_back(net->Encode(ImagesToFloat(images.narrow(0, first, n)).to(device)).cpu());
  }
  return torch::cat(parts);
}

StatusOr<bool> ImageStage(const StageContext& ctx) {
  const StageConfig& sc = ctx.train().image;
  const std::string dir = ctx.Path(kImageStageDir);
  torch::manual_seed(ctx.train().seed);
  vision::ImageTokenizer net(ctx.config.image_tokenizer);
  net->to(ctx.device);
  const std::vector<NamedModule> modules = {{model::kImageTokenizerPrefix, net.ptr().get()}};
  AdamW adam(NamedParameters(modules), {0.9, 0.99, 1e-8, sc.weight_decay});
  int64_t step = LatestCheckpointStep(dir);
  if (step == 0 && !ctx.options->image_tokenizer_from.empty()) {
    DUET_RETURN_IF_ERROR(AdoptImageTokenizer(ctx, net, modules, dir));
    return true;
  }
  if (step > 0) {
    DUET_ASSIGN_OR_RETURN(step, LoadCheckpoint(CheckpointPath(dir, step), modules, &adam));
  }
  if (step >= sc.steps) return true;
  const std::vector<int64_t> pool = ctx.data->Indices(Split::kTrain);
  if (pool.empty()) return absl::InvalidArgumentError("dataset has no training images");
  const int64_t stop =
      ctx.options->until_step > 0 ? std::min(ctx.options->until_step, sc.steps) : sc.steps;
  TrainLog log(ctx.Path(kMetricsFile), "image", sc.steps, step);
  int64_t samples = 0;
  while (step < stop) {
    const torch::Tensor index = SampleIndices(pool, ctx.train().seed, step, sc.batch_size);
    const torch::Tensor x = ImagesToFloat(ctx.data->images.index_select(0, index)).to(ctx.device);
    const torch::Tensor loss = ReconstructionLoss(net->forward(x), x);  // [B, 3, R, R] both
    loss.backward();
    const double norm = sc.grad_clip > 0 ? adam.ClipGradNorm(sc.grad_clip) : 0.0;
    const double lr = LearningRate(sc, step);
    adam.Step(lr);
    ++step;
    samples += sc.batch_size;
    if (step % ctx.train().log_every == 0 || step == stop) {
      DUET_RETURN_IF_ERROR(log.Record(
          step, samples, {{"loss", loss.item<double>()}, {"lr", lr}, {"grad_norm", norm}}));
      samples = 0;
    }
    if (step % ctx.train().checkpoint_every == 0 || step == stop) {
      DUET_RETURN_IF_ERROR(SaveCheckpoint(dir, step, modules, &adam, {{"stage", "image"}},
                                          ctx.train().keep_checkpoints));
      nlohmann::json row = Validation(net, *ctx.data, ctx.train().val_images, ctx.device);
      row["stage"] = "image";
      row["step"] = step;
      DUET_RETURN_IF_ERROR(log.Append(row));
    }
  }
  return step >= sc.steps;
}

}  // namespace duet::training
