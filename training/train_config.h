// Training hyperparameters (a JSON file, every key optional; `duet train` flags override it).
// The model's own sizes live in model/model_config.h; this file says how long and how fast.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace duet::training {

// One optimised stage (image tokenizer or joint model).
struct StageConfig {
  int64_t steps = 1000;       // optimizer steps in all (a resumed run continues up to this)
  int batch_size = 32;        // images per step; the joint stage uses it per direction
  double lr = 1e-3;           // peak learning rate (AdamW)
  int64_t warmup = 50;        // linear warm-up steps, then cosine decay to lr * min_lr_ratio
  double min_lr_ratio = 0.1;  // final learning rate as a fraction of lr
  double weight_decay = 0.0;  // decoupled, only on weights with >= 2 dims
  double grad_clip = 1.0;     // global gradient-norm clip; 0 turns it off
  // Joint stage only (0 in the image stage):
  int caption_batch_size = 0;  // image->text rows per step; 0: batch_size
  int caption_variants = 0;    // augmented variants per image for image->text rows (augment.h)
  int first_codes = 0;             // the first codes of a text->image row whose loss is weighted
  double first_codes_weight = 1.0;  // ... by this much (training/losses.h); 1: plain mean
};

struct TrainConfig {
  uint64_t seed = 0;               // initialisation, batches, prompt dropout
  std::string device = "cpu";      // "cpu", "cuda" or "cuda:N" (needs a CUDA LibTorch)
  int threads = 0;                 // torch intra-op threads; 0 keeps LibTorch's default
  std::string dtype = "auto";      // matmul dtype: auto, bfloat16, float32 (float32 master weights)
  int64_t checkpoint_every = 100;  // steps between checkpoints (and at the last step)
  int64_t log_every = 10;          // steps between progress lines and metrics rows
  int keep_checkpoints = 2;        // newest checkpoints kept per stage
  int64_t val_images = 64;         // validation images for the per-checkpoint image PSNR
  StageConfig image{2000, 64, 2e-3, 50, 0.1, 0.0, 1.0};          // image tokenizer (L1 + MSE)
  StageConfig joint{4000, 32, 1e-3, 100, 0.1, 0.01, 1.0, 0, 0};  // text encoder + transformer

  nlohmann::json ToJson() const;
  // Missing keys keep their defaults. InvalidArgument naming the key for a non-object, an
  // unknown key, a wrong type or a value Validate() rejects.
  static StatusOr<TrainConfig> FromJson(const nlohmann::json& json);
  // InvalidArgument naming the first field out of range.
  Status Validate() const;
};

// Learning rate at `step` (0-based): linear warm-up to lr, then cosine to lr * min_lr_ratio.
double LearningRate(const StageConfig& stage, int64_t step);

}  // namespace duet::training
