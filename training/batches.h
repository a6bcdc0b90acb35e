// What the joint stage feeds the model: every caption tokenized once, and batches that mix
// text->image rows (a prompt in either language, sometimes dropped) with image->text rows.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "language/tokenizer.h"
#include "language/caption_format.h"
#include "training/dataset.h"

namespace duet::training {

// A caption target names the concept in both languages: "<en name> | <ko label>", so one
// greedy caption serves both languages and eval scores each half (language/caption_format.h).
using language::kCaptionSeparator;
std::string CaptionTarget(const Concept& concept);
// The English and Korean halves of a caption (the Korean half is empty without a separator).
std::pair<std::string, std::string> SplitCaption(const std::string& caption);

enum Language : int { kEnglish = 0, kKorean = 1 };

struct CaptionTable {
  // prompts[id][language][k]: ids of caption k (at most max_prompt_tokens, never empty).
  std::vector<std::array<std::vector<std::vector<int64_t>>, 2>> prompts;
  // targets[id]: ids of CaptionTarget, cut to max_caption_len - 1, then EOS.
  std::vector<std::vector<int64_t>> targets;
};

// Tokenizes every caption of `dataset`. Longer texts are cut (prompts to max_prompt_tokens,
// targets to max_caption_len - 1 tokens), never rejected. InvalidArgument for invalid UTF-8.
StatusOr<CaptionTable> BuildCaptionTable(const language::Tokenizer& tokenizer,
                                         const Dataset& dataset, int max_prompt_tokens,
                                         int max_caption_len);

struct JointBatch {
  torch::Tensor t2i_images;    // [B] int64 dataset indices of the text->image rows
  torch::Tensor text_ids;      // [B, P] int64 prompt ids, padded with 0 to the longest prompt
  torch::Tensor text_lengths;  // [B] int64 in [1, P]
  torch::Tensor drop;          // [B] bool: use the null prefix instead of the prompt
  torch::Tensor i2t_images;    // [B'] int64 dataset indices of the image->text rows
  torch::Tensor i2t_variants;  // [B'] int64: 0 the image itself, v > 0 its augmented variant v
  torch::Tensor targets;       // [B', L] int64 caption ids ending in EOS, padded with 0
};

struct JointBatchShape {
  int t2i_rows = 32;          // B
  int i2t_rows = 32;          // B'
  int variants = 0;           // augmented variants per image; i2t rows draw 0 .. variants
  double prompt_dropout = 0;  // probability of the null prefix per text->image row
  int caption_len = 24;       // L
};

// The batch of `step`, a pure function of its arguments (see rng.h). Images are drawn uniformly
// from `pool`; a prompt's language is a fair coin, the reference name half the time and any
// caption of that language otherwise; each prompt is dropped with probability prompt_dropout.
// Prompts are padded only to the batch's longest (a dropped prompt counts as one token).
JointBatch SampleJointBatch(const CaptionTable& table, const Dataset& dataset,
                            const std::vector<int64_t>& pool, uint64_t seed, int64_t step,
                            const JointBatchShape& shape);

// Pads token lists into [B, width] (pad 0) and their lengths [B].
std::pair<torch::Tensor, torch::Tensor> PadIds(const std::vector<std::vector<int64_t>>& rows,
                                               int64_t width);

}  // namespace duet::training
