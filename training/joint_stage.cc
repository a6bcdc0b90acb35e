// The joint stage: text encoder + multimodal transformer trained on the frozen image tokenizer's
// codes, text->image and image->text rows in every batch, prompt dropout for guidance.
#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/tensor_io.h"
#include "fusion/transformer.h"
#include "language/text_encoder.h"
#include "model/model_config.h"
#include "training/augment.h"
#include "training/batches.h"
#include "training/checkpoint.h"
#include "training/losses.h"
#include "training/stages.h"
#include "training/train_log.h"

namespace duet::training {
namespace {

// Codes at the start of a grid whose loss is logged on its own: given the earlier codes the rest of
// an image is easy to continue, so how well these are predicted is how much the prompt is used.
constexpr int64_t kFirstCodes = 4;

struct JointLosses {
  torch::Tensor t2i, i2t;  // scalar cross-entropies (t2i: the plain mean over codes, logged)
  torch::Tensor t2i_weighted;  // what the gradient follows: StageConfig::first_codes_weight
  // Logged only (no gradient): the cross-entropy of the first kFirstCodes codes of the rows that
  // kept their prompt; undefined when every row's prompt was dropped.
  torch::Tensor t2i_first;
};

// Mean cross-entropy of the first kFirstCodes codes over the prompted rows, without a gradient.
torch::Tensor FirstCodesLoss(const torch::Tensor& image_logits, const torch::Tensor& image_codes,
                             const torch::Tensor& drop) {
  torch::NoGradGuard no_grad;
  const torch::Tensor kept = drop.logical_not().nonzero().flatten();
  if (kept.numel() == 0) return torch::Tensor();
  const int64_t n = std::min<int64_t>(kFirstCodes, image_codes.size(1));
  const torch::Tensor logits = image_logits.index_select(0, kept).narrow(1, 0, n);  // [R, n, K]
  const torch::Tensor codes = image_codes.index_select(0, kept).narrow(1, 0, n);    // [R, n]
  return torch::nn::functional::cross_entropy(logits.flatten(0, 1), codes.flatten());
}

// Both directions' teacher-forced losses for one batch. codes: [(1 + variants) * N, G*G] int64
// on device, the N dataset images and then each augmented variant of all N.
JointLosses Forward(language::TextEncoder& encoder, fusion::MultimodalTransformer& transformer,
                    const JointBatch& batch, const torch::Tensor& codes, int64_t images,
                    const StageConfig& sc, torch::Device device) {
  const torch::Tensor lengths = batch.text_lengths.to(device);
  const torch::Tensor text = encoder->forward(batch.text_ids.to(device), lengths);  // [B, P, D]
  const torch::Tensor image_codes = codes.index_select(0, batch.t2i_images.to(device));  // [B, N]
  const torch::Tensor drop = batch.drop.to(device);
  const torch::Tensor image_logits =
      transformer->TextToImageLogits(text, lengths, image_codes, drop);  // [B, N, K] float32
  const torch::Tensor rows = batch.i2t_images + batch.i2t_variants * images;
  const torch::Tensor prefix = codes.index_select(0, rows.to(device));                    // [B, N]
  const torch::Tensor targets = batch.targets.to(device);                                 // [B, L]
  const torch::Tensor text_logits = transformer->ImageToTextLogits(prefix, targets);      // [B,L,V]
  JointLosses out;
  if (sc.first_codes > 0 && sc.first_codes_weight != 1.0) {
    const torch::Tensor per_code = CodeCrossEntropy(image_logits, image_codes);  // [B, N]
    out.t2i = per_code.mean();
    out.t2i_weighted = WeightedCodeMean(per_code, sc.first_codes, sc.first_codes_weight);
  } else {
    out.t2i = torch::nn::functional::cross_entropy(image_logits.flatten(0, 1), image_codes.flatten());
    out.t2i_weighted = out.t2i;
  }
  out.t2i_first = FirstCodesLoss(image_logits, image_codes, drop);
  out.i2t = torch::nn::functional::cross_entropy(
      text_logits.flatten(0, 1), targets.flatten(),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(fusion::kTextPadId));
  return out;
}

// Codes under the final image-tokenizer checkpoint of every dataset image, then of `variants`
// augmented variants of every image (training/augment.h): [(1 + variants) * N, G*G] on device.
StatusOr<torch::Tensor> DatasetCodes(const StageContext& ctx, int variants) {
  const std::string path = CheckpointPath(ctx.Path(kImageStageDir), ctx.train().image.steps);
  if (!std::filesystem::exists(path)) {
    return absl::FailedPreconditionError("the joint stage needs the finished image stage (" + path +
                                         ")");
  }
  vision::ImageTokenizer net(ctx.config.image_tokenizer);
  DUET_RETURN_IF_ERROR(
      LoadCheckpoint(path, {{model::kImageTokenizerPrefix, net.ptr().get()}}, nullptr).status());
  net->to(ctx.device);
  net->eval();
  std::vector<torch::Tensor> codes = {EncodeImages(net, ctx.data->images, ctx.device).flatten(1)};
  for (int v = 1; v <= variants; ++v) {
    const torch::Tensor images = AugmentImages(ctx.data->images, ctx.train().seed, v);
    codes.push_back(EncodeImages(net, images, ctx.device).flatten(1));
  }
  return torch::cat(codes, 0).to(ctx.device);
}

// Starts the joint stage from a trained model's text encoder and transformer
// (TrainOptions::joint_init_from). Token ids mean nothing across tokenizers, so the run's
// tokenizer must be the model's.
Status InitFromModel(const StageContext& ctx, const std::vector<NamedModule>& modules) {
  const std::string& from = ctx.options->joint_init_from;
  DUET_ASSIGN_OR_RETURN(const std::string theirs, ReadFile(from + "/" + model::kTokenizerFile));
  DUET_ASSIGN_OR_RETURN(const std::string ours, ReadFile(ctx.Path(model::kTokenizerFile)));
  if (theirs != ours) {
    return absl::InvalidArgumentError(absl::StrCat(
        "joint-init-from: ", from, "/", model::kTokenizerFile, " differs from this run's ",
        ctx.Path(model::kTokenizerFile), "; the token ids would not mean the same"));
  }
  DUET_ASSIGN_OR_RETURN(const SafetensorsFile weights,
                        ReadSafetensors(from + "/" + model::kWeightsFile));
  for (const NamedModule& m : modules) {
    const Status loaded = LoadModule(weights, m.prefix, m.module);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("joint-init-from: ", from, ": ", loaded.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<bool> JointStage(const StageContext& ctx, const language::Tokenizer& tokenizer) {
  const StageConfig& sc = ctx.train().joint;
  const fusion::TransformerConfig& tc = ctx.config.transformer;
  const std::string dir = ctx.Path(kJointStageDir);
  torch::manual_seed(ctx.train().seed + 1);
  DUET_ASSIGN_OR_RETURN(language::TextEncoder encoder,
                        language::MakeTextEncoder(ctx.config.text_encoder));
  fusion::MultimodalTransformer transformer(tc);
  encoder->to(ctx.device);
  transformer->to(ctx.device);
  const std::vector<NamedModule> modules = {{model::kTextEncoderPrefix, encoder.ptr().get()},
                                            {model::kTransformerPrefix, transformer.ptr().get()}};
  AdamW adam(NamedParameters(modules), {0.9, 0.99, 1e-8, sc.weight_decay});
  int64_t step = LatestCheckpointStep(dir);
  if (step > 0) {
    DUET_ASSIGN_OR_RETURN(step, LoadCheckpoint(CheckpointPath(dir, step), modules, &adam));
  } else if (!ctx.options->joint_init_from.empty()) {
    DUET_RETURN_IF_ERROR(InitFromModel(ctx, modules));
  }
  if (step >= sc.steps) return true;
  DUET_ASSIGN_OR_RETURN(const torch::Tensor codes, DatasetCodes(ctx, sc.caption_variants));
  DUET_ASSIGN_OR_RETURN(
      const CaptionTable table,
      BuildCaptionTable(tokenizer, *ctx.data, tc.text_prefix_len, tc.max_caption_len));
  const std::vector<int64_t> pool = ctx.data->Indices(Split::kTrain);
  if (pool.empty()) return absl::InvalidArgumentError("dataset has no training images");
  const int64_t stop =
      ctx.options->until_step > 0 ? std::min(ctx.options->until_step, sc.steps) : sc.steps;
  TrainLog log(ctx.Path(kMetricsFile), "joint", sc.steps, step);
  JointBatchShape shape;
  shape.t2i_rows = sc.batch_size;
  shape.i2t_rows = sc.caption_batch_size > 0 ? sc.caption_batch_size : sc.batch_size;
  shape.variants = sc.caption_variants;
  shape.prompt_dropout = tc.prompt_dropout;
  shape.caption_len = tc.max_caption_len;
  const int64_t images = ctx.data->images.size(0);
  int64_t samples = 0;
  while (step < stop) {
    const JointBatch batch = SampleJointBatch(table, *ctx.data, pool, ctx.train().seed, step, shape);
    const JointLosses losses = Forward(encoder, transformer, batch, codes, images, sc, ctx.device);
    const torch::Tensor loss = losses.t2i_weighted + losses.i2t;
    loss.backward();
    const double norm = sc.grad_clip > 0 ? adam.ClipGradNorm(sc.grad_clip) : 0.0;
    const double lr = LearningRate(sc, step);
    adam.Step(lr);
    ++step;
    samples += shape.t2i_rows + shape.i2t_rows;
    if (step % ctx.train().log_every == 0 || step == stop) {
      nlohmann::json values = {{"loss", loss.item<double>()},
                               {"loss_t2i", losses.t2i.item<double>()},
                               {"loss_i2t", losses.i2t.item<double>()},
                               {"lr", lr},
                               {"grad_norm", norm}};
      if (losses.t2i_first.defined()) values["loss_t2i_first"] = losses.t2i_first.item<double>();
      DUET_RETURN_IF_ERROR(log.Record(step, samples, values));
      samples = 0;
    }
    if (step % ctx.train().checkpoint_every == 0 || step == stop) {
      DUET_RETURN_IF_ERROR(SaveCheckpoint(dir, step, modules, &adam, {{"stage", "joint"}},
                                          ctx.train().keep_checkpoints));
    }
  }
  return step >= sc.steps;
}

}  // namespace duet::training
