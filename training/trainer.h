// `duet train`: the three training stages (text tokenizer, image tokenizer, joint model) and the
// export of a model directory, each stage resumable from its newest checkpoint.
//
// Output directory layout (docs/training.md):
//   train_config.json, model_config.json   the effective configs (vocabulary after training)
//   tokenizer.model                         SentencePiece, trained on every caption
//   image/step-NNNNNNNN.safetensors         image tokenizer weights + AdamW state
//   joint/step-NNNNNNNN.safetensors         text encoder + transformer weights + AdamW state
//   model/                                  config.json, tokenizer.model, model.safetensors
//   metrics.jsonl                           one row per logged step and per validation
#pragma once

#include <string>

#include "common/status.h"
#include "model/model_config.h"
#include "training/train_config.h"

namespace duet::training {

// Stages by name, in order; "all" runs every one.
inline constexpr const char* kStages[] = {"tokenizer", "image", "joint", "export"};

struct TrainOptions {
  std::string data_dir;      // a dataset written by WriteDataset
  std::string out_dir;       // created if needed; holds everything a later run resumes from
  model::ModelConfig model;  // requested sizes; the vocabulary may shrink to what trains
  TrainConfig train;
  std::string stage = "all";  // one of kStages, or "all"
  int64_t until_step = 0;     // > 0: an optimised stage stops (with a checkpoint) after this step
  // Non-empty: a model directory whose image tokenizer (same config) the image stage adopts as
  // its final checkpoint instead of training one, so the joint stage can be retrained alone.
  std::string image_tokenizer_from;
  // Non-empty: a model directory whose text encoder and transformer weights the joint stage
  // starts from instead of a random initialisation (fine-tuning). The run's tokenizer must be
  // that model's, byte for byte, and the weights' shapes must match; the optimiser starts fresh.
  std::string joint_init_from;
  // With joint_init_from: the exported config.json keeps that model's "sampling" (the defaults
  // its sweep chose) instead of model.sampling. `duet train` sets it when --model-config names
  // no "sampling" of its own.
  bool inherit_sampling = false;
};

// Runs the requested stage(s). A stage already complete in out_dir is skipped; an interrupted
// one continues from its newest checkpoint and reproduces the uninterrupted run exactly (same
// batches, same weights) on the same device and thread count. When until_step stops a stage
// early, later stages do not run. InvalidArgument for bad options or a dataset that does not fit
// the model (resolution); FailedPrecondition when a stage's input stage has not finished or
// CUDA is asked for but unavailable. Not thread-safe (uses torch's global seed).
Status RunTraining(const TrainOptions& options);

}  // namespace duet::training
