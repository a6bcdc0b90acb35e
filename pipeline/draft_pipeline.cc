// Implementation of pipeline/draft_pipeline.h.
#include "pipeline/draft_pipeline.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "language/caption_format.h"
#include "language/utf8.h"

namespace duet::pipeline {

CodeGrids CodeGrids::Select(const std::vector<int>& rows) const {
  CodeGrids out{static_cast<int64_t>(rows.size()), grid, {}};
  out.codes.reserve(rows.size() * cells());
  for (int row : rows) {
    const auto first = codes.begin() + row * cells();
    out.codes.insert(out.codes.end(), first, first + cells());
  }
  return out;
}

Status CodeGrids::Check(const char* source) const {
  if (count >= 0 && grid >= 0 && static_cast<int64_t>(codes.size()) == count * cells()) {
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat(source, " returned ", codes.size(), " codes for ",
                                          count, " grids of ", grid, "x", grid));
}

Status ValidateDrafts(const model::ModelConfig& config, const std::string& prompt,
                      const DraftOptions& options) {
  if (prompt.empty()) return absl::InvalidArgumentError("prompt must not be empty");
  if (prompt.size() > kMaxPromptBytes) {
    return absl::InvalidArgumentError(absl::StrCat("prompt is ", prompt.size(),
                                                   " bytes, the limit is ", kMaxPromptBytes));
  }
  if (Status utf8 = language::ValidateUtf8(prompt); !utf8.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", utf8.message()));
  }
  DUET_RETURN_IF_ERROR(CheckPromptForMetadata(prompt));
  DUET_RETURN_IF_ERROR(CheckRange("count", options.count, 1, kMaxDrafts));
  return fusion::ValidateSampling(options.sampling, config.transformer.image_codebook);
}

std::string CompleteCaption(const std::string& prompt, bool korean, const std::string& caption) {
  const std::string separator = language::kCaptionSeparator;
  const size_t at = caption.find(separator);
  if (korean) return caption.substr(0, at) + separator + prompt;
  return prompt + separator + (at == std::string::npos ? "" : caption.substr(at + separator.size()));
}

namespace {

// PNGs for the drafts at `order`, a decode chunk at a time, handed to `draft` as they are made.
Status DecodeInOrder(Parts& parts, const model::ModelConfig& config, const std::string& prompt,
                     const DraftOptions& options, const CodeGrids& codes,
                     const std::vector<int>& order, const std::vector<double>& scores,
                     const std::function<Status(Draft)>& draft) {
  const size_t step = static_cast<size_t>(std::max(1, parts.DecodeChunk()));
  for (size_t first = 0; first < order.size(); first += step) {
    const std::vector<int> chunk(order.begin() + first,
                                 order.begin() + std::min(order.size(), first + step));
    std::vector<PngText> metadata;
    for (int index : chunk) {
      metadata.push_back(DraftMetadata(prompt, options.sampling.seed + index, options.sampling,
                                       config.name, options.rerank, scores[index]));
    }
    DUET_ASSIGN_OR_RETURN(std::vector<std::string> pngs,
                          parts.DecodePngs(codes.Select(chunk), metadata));
    if (pngs.size() != chunk.size()) {
      return absl::InternalError(absl::StrCat("the image codec returned ", pngs.size(),
                                              " images for ", chunk.size(), " grids"));
    }
    for (size_t i = 0; i < chunk.size(); ++i) {
      const int index = chunk[i];
      DUET_RETURN_IF_ERROR(
          draft({index, options.sampling.seed + index, scores[index], std::move(pngs[i])}));
    }
  }
  return absl::OkStatus();
}

// The rerank: log p(caption | draft) of the prompt completed to a whole caption with the other
// half of the draft's own greedy caption (CompleteCaption), one score per grid. Drafts of one
// prompt often share a caption, so each distinct completed caption is tokenized once.
StatusOr<std::vector<double>> RerankScores(Parts& parts, const model::ModelConfig& config,
                                           const std::string& prompt,
                                           const std::vector<int64_t>& prompt_ids,
                                           const CodeGrids& codes) {
  const int max_ids = static_cast<int>(config.transformer.max_caption_len) - 1;
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  DUET_ASSIGN_OR_RETURN(const auto own, parts.GenerateCaptions(codes, greedy, max_ids));
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> captions, parts.Detokenize(own));
  if (static_cast<int64_t>(captions.size()) != codes.count) {
    return absl::InternalError(absl::StrCat("the transformer returned ", captions.size(),
                                            " captions for ", codes.count, " drafts"));
  }
  const bool korean = language::HasHangul(prompt);
  std::map<std::string, std::vector<int64_t>> ids_of;
  std::vector<std::vector<int64_t>> texts;
  for (const std::string& caption : captions) {
    const std::string text = CompleteCaption(prompt, korean, caption);
    auto it = ids_of.find(text);
    if (it == ids_of.end()) {
      StatusOr<EncodedPrompt> encoded = parts.EncodePrompt(text);
      // A prompt near the text encoder's limit leaves no room for the other half; it is cut to
      // the caption length anyway, so it is scored alone.
      if (!encoded.ok() && absl::IsInvalidArgument(encoded.status())) {
        encoded = EncodedPrompt{prompt_ids, {}, 0};
      }
      if (!encoded.ok()) return encoded.status();
      std::vector<int64_t> ids = std::move(encoded->ids);
      if (ids.size() > static_cast<size_t>(max_ids)) ids.resize(max_ids);
      it = ids_of.emplace(text, std::move(ids)).first;
    }
    texts.push_back(it->second);
  }
  DUET_ASSIGN_OR_RETURN(std::vector<double> scores, parts.ScoreText(codes, texts));
  if (static_cast<int64_t>(scores.size()) != codes.count) {
    return absl::InternalError(absl::StrCat("the transformer returned ", scores.size(),
                                            " scores for ", codes.count, " drafts"));
  }
  return scores;
}

}  // namespace

Status GenerateDrafts(Parts& parts, const model::ModelConfig& config, const std::string& prompt,
                      const DraftOptions& options, const ProgressFn& progress,
                      const std::function<Status(Draft)>& draft) {
  DUET_RETURN_IF_ERROR(ValidateDrafts(config, prompt, options));
  DUET_ASSIGN_OR_RETURN(const EncodedPrompt encoded, parts.EncodePrompt(prompt));
  DUET_ASSIGN_OR_RETURN(const CodeGrids codes,
                        parts.GenerateCodes(encoded, options.count, options.sampling, progress));
  DUET_RETURN_IF_ERROR(codes.Check("the transformer"));
  if (codes.count != options.count || codes.grid != config.transformer.image_grid) {
    return absl::InternalError(absl::StrCat("the transformer returned ", codes.count, " grids of ",
                                            codes.grid, "x", codes.grid));
  }
  std::vector<int> order(options.count);
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> scores(options.count, 0.0);
  if (options.rerank) {
    DUET_ASSIGN_OR_RETURN(scores, RerankScores(parts, config, prompt, encoded.ids, codes));
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return scores[a] > scores[b]; });
  }
  return DecodeInOrder(parts, config, prompt, options, codes, order, scores, draft);
}

StatusOr<std::vector<Caption>> CaptionImages(Parts& parts, const model::ModelConfig& config,
                                             const std::vector<std::string>& images,
                                             const fusion::SamplingParams& sampling) {
  if (images.empty()) return absl::InvalidArgumentError("images must not be empty");
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("image ", i, " must not be empty"));
    }
  }
  DUET_RETURN_IF_ERROR(fusion::ValidateSampling(sampling, config.transformer.text_vocab));
  DUET_ASSIGN_OR_RETURN(const CodeGrids codes, parts.EncodeImages(images));
  DUET_RETURN_IF_ERROR(codes.Check("the image codec"));
  if (codes.count != static_cast<int64_t>(images.size())) {
    return absl::InternalError(absl::StrCat("the image codec returned ", codes.count,
                                            " grids for ", images.size(), " images"));
  }
  // max_caption_len - 1 leaves room for the EOS that scoring appends.
  DUET_ASSIGN_OR_RETURN(const auto ids, parts.GenerateCaptions(
                                            codes, sampling, config.transformer.max_caption_len - 1));
  if (ids.size() != images.size()) {
    return absl::InternalError(absl::StrCat("the transformer returned ", ids.size(),
                                            " captions for ", images.size(), " images"));
  }
  DUET_ASSIGN_OR_RETURN(const std::vector<double> scores, parts.ScoreText(codes, ids));
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> texts, parts.Detokenize(ids));
  if (scores.size() != ids.size() || texts.size() != ids.size()) {
    return absl::InternalError(absl::StrCat("got ", scores.size(), " scores and ", texts.size(),
                                            " texts for ", ids.size(), " captions"));
  }
  std::vector<Caption> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out[i] = {texts[i], scores[i]};
  return out;
}

}  // namespace duet::pipeline
