// The one draft and caption pipeline: prompt -> ids and embeddings -> codes -> (rerank) -> order
// -> metadata -> PNGs, and image -> codes -> caption -> score. The CLI runs it over the model in
// process, the gateway over the backend services (pipeline/draft_parts.h): same checks, same
// order, same bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "fusion/sampling.h"
#include "model/model_config.h"
#include "pipeline/draft_parts.h"

namespace duet::pipeline {

inline constexpr int kMaxDrafts = 256;        // drafts per request
inline constexpr int kMaxPromptBytes = 2048;  // UTF-8 bytes per prompt

struct DraftOptions {
  int count = 1;                    // drafts, in [1, kMaxDrafts]
  fusion::SamplingParams sampling;  // draft i uses sampling.seed + i
  bool rerank = false;              // order drafts by score, best first (CompleteCaption)
};

struct Draft {
  int index = 0;     // position in the request (seed = sampling.seed + index)
  uint64_t seed = 0;
  double score = 0;  // when reranking, log p(CompleteCaption(prompt, ...) | image); else 0
  std::string png;   // PNG bytes with the metadata of pipeline/png_metadata.h
};

struct Caption {
  std::string text;
  double score = 0;  // log p(caption | image)
};

// InvalidArgument naming the field and its limit: prompt (empty, over kMaxPromptBytes, invalid
// UTF-8, a NUL byte), count outside [1, kMaxDrafts], and the sampling fields. No part is called.
Status ValidateDrafts(const model::ModelConfig& config, const std::string& prompt,
                      const DraftOptions& options);

// The caption a rerank scores a draft by. Duet's captions name an image in both languages,
// "<English> | <Korean>" (language/caption_format.h), so a prompt in one language is completed
// with the other half of the draft's own greedy caption `caption`: "<prompt> | <its Korean>"
// for an English prompt, "<its English> | <prompt>" for a Korean one (`korean`:
// language::HasHangul). A caption without a separator is all English half. It is text, not
// token ids, because the tokenizer keeps whitespace: "로봇" alone and after " | " are different
// pieces.
std::string CompleteCaption(const std::string& prompt, bool korean, const std::string& caption);

// Validates, then runs the request on `parts`. `draft` gets each finished draft in output order:
// index order, or best score first with rerank (ties keep index order); an error it returns
// stops the run. Drafts reach `draft` parts.DecodeChunk() at a time, as their PNGs are made.
Status GenerateDrafts(Parts& parts, const model::ModelConfig& config, const std::string& prompt,
                      const DraftOptions& options, const ProgressFn& progress,
                      const std::function<Status(Draft)>& draft);

// One caption per image (PNG or JPEG bytes), image i sampled with sampling.seed + i (greedy when
// sampling.temperature is 0), at most max_caption_len - 1 tokens, and its score.
StatusOr<std::vector<Caption>> CaptionImages(Parts& parts, const model::ModelConfig& config,
                                             const std::vector<std::string>& images,
                                             const fusion::SamplingParams& sampling);

}  // namespace duet::pipeline
