// The training stages behind RunTraining (training/trainer.h); internal to training/.
// Each stage reads its inputs from the output directory, so any stage can run alone.
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/status.h"
#include "language/tokenizer.h"
#include "model/model_config.h"
#include "training/dataset.h"
#include "training/trainer.h"
#include "vision/image_tokenizer.h"

namespace duet::training {

struct StageContext {
  const TrainOptions* options = nullptr;
  const Dataset* data = nullptr;
  model::ModelConfig config;  // effective: vocabulary from the trained tokenizer
  torch::Device device = torch::kCPU;

  const TrainConfig& train() const { return options->train; }
  std::string Path(const std::string& name) const { return options->out_dir + "/" + name; }
};

// Subdirectories of the output directory.
inline constexpr char kImageStageDir[] = "image";
inline constexpr char kJointStageDir[] = "joint";
inline constexpr char kModelDir[] = "model";
inline constexpr char kMetricsFile[] = "metrics.jsonl";

// Trains (or loads, when tokenizer.model exists) the SentencePiece model on every caption and
// caption target; sets ctx->config's vocabulary to the trained size and writes model_config.json.
StatusOr<language::Tokenizer> TokenizerStage(StageContext* ctx);

// Image tokenizer: L1 + MSE reconstruction through FSQ's straight-through estimator (FSQ has no
// codebook to collapse, so no quantizer loss or code restarts are needed). Returns whether the
// stage is complete.
StatusOr<bool> ImageStage(const StageContext& ctx);

// Text encoder + transformer on the frozen image tokenizer's codes; both directions every batch.
StatusOr<bool> JointStage(const StageContext& ctx, const language::Tokenizer& tokenizer);

// Codes [N, G, G] int64 (CPU) of uint8 images [N, R, R, 3], encoded on `device` in chunks.
torch::Tensor EncodeImages(vision::ImageTokenizer& net, const torch::Tensor& images,
                           torch::Device device);

// Writes <out>/model from the final checkpoints and checks that model::DuetModel loads it.
Status ExportModel(const StageContext& ctx, const language::Tokenizer& tokenizer);

}  // namespace duet::training
