// `duet eval`: measures a trained model directory on a dataset's validation split and writes
// the results as JSON and as a markdown report (see docs/training.md for what each number means).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "c10/core/ScalarType.h"
#include "model/model_config.h"
#include "nlohmann/json.hpp"

namespace duet::training {

struct EvalOptions {
  std::string model_dir;          // a model directory (model::DuetModel::Load)
  std::string data_dir;           // a dataset (training/dataset.h) of the model's resolution
  std::string json_path;          // results JSON; not written when empty
  std::string report_path;        // markdown report; not written when empty
  int64_t max_concepts = 0;       // > 0: evaluate at most this many held-out concepts
  int64_t train_captions = 64;    // training images also captioned (seen-style reference)
  int drafts = 4;                 // drafts per prompt for diversity, >= 2
  // > 1: text_to_image.reranked judges the best of this many drafts per prompt, by the score
  // `duet generate --rerank` orders drafts by and by the prompt alone read as a caption; 0 or 1:
  // not measured.
  int64_t rerank_candidates = 4;
  int64_t diversity_prompts = 8;  // prompts (English, then Korean) used for diversity
  int judge_epochs = 40;
  uint64_t seed = 0;           // sampling seeds and judge initialisation
  // Text->image sampling; unset fields come from the model's config.json ("sampling").
  model::SamplingOverrides sampling;
  // Each setting is also scored by the same judge (text->image top-1/top-5 and round trip), in
  // "sweep" of the results, with the best by mean top-5 then mean top-1 in "sweep_best".
  std::vector<model::SamplingDefaults> sweep;
  std::string device = "cpu";  // the judge's device; generation runs on the CPU
  torch::ScalarType dtype = torch::kFloat32;  // the model's compute dtype (common/compute_dtype.h)
};

// Parses a sweep grid, "guidance_scale=1,2,3;temperature=0.8,1;top_k=0,64;top_p=1": every
// combination of the listed values, unlisted keys from `base`. InvalidArgument names the key.
StatusOr<std::vector<model::SamplingDefaults>> ParseSweep(const std::string& grid,
                                                          const model::SamplingDefaults& base);

// Runs every evaluation and returns
//   {"model", "data", "counts", "image_tokenizer": {psnr, ssim, code_usage, ...},
//    "captioning": {"val"|"train": {"en"|"ko": {exact_match, token_f1, n}}},
//    "text_to_image": {"en"|"ko": {judge_top1, judge_top5, n}, "judge_real_val",
//                      "judge_real_train_style", "judge_reconstructed_train_style": {top1, top5, n},
//                      "reranked": {"candidates", "by_completed_caption"|"by_caption_score":
//                                   {"en"|"ko": {judge_top1, judge_top5, n}}}},
//    "diversity": {mean_pairwise_rms, prompts, drafts}, "round_trip": {"en"|"ko": {rate, n}}}
// and writes the JSON and the report when their paths are set. InvalidArgument when the
// dataset and model disagree (resolution) or the dataset has no held-out concepts; errors of
// loading pass through. Not thread-safe (uses torch's global seed).
StatusOr<nlohmann::json> Evaluate(const EvalOptions& options);

// The markdown report of Evaluate's results.
std::string EvalReport(const nlohmann::json& results);

}  // namespace duet::training
