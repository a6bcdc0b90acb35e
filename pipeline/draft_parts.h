// What the draft and caption pipeline runs on: a model's three parts (text encoder, transformer,
// image codec), either in this process (model/local_parts.h) or as the backend services
// (services/gateway/remote_parts.h). Plain values only, so the pipeline needs no LibTorch.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "fusion/sampling.h"
#include "pipeline/png_metadata.h"

namespace duet::pipeline {

// `count` grids of grid x grid image codes, row-major.
struct CodeGrids {
  int64_t count = 0;
  int64_t grid = 0;
  std::vector<int64_t> codes;  // count * grid * grid

  int64_t cells() const { return grid * grid; }
  // The grids at `rows`, in that order.
  CodeGrids Select(const std::vector<int>& rows) const;
  // InternalError naming `source` unless codes.size() == count * grid * grid.
  Status Check(const char* source) const;
};

// A prompt as the transformer reads it.
struct EncodedPrompt {
  std::vector<int64_t> ids;       // its L token ids
  std::vector<float> embeddings;  // [L, width] row-major
  int64_t width = 0;
};

// (done, total) in whatever unit the part counts; returning false stops the work.
using ProgressFn = std::function<bool(int64_t done, int64_t total)>;

// Each call is one step of the pipeline. INVALID_ARGUMENT means the client's own data (the prompt,
// an image) was refused; every other error names the part that failed.
class Parts {
 public:
  virtual ~Parts() = default;

  // Text encoder: prompt -> ids and prefix embeddings.
  virtual StatusOr<EncodedPrompt> EncodePrompt(const std::string& prompt) = 0;
  // Text encoder: ids -> text, one string per sequence.
  virtual StatusOr<std::vector<std::string>> Detokenize(
      const std::vector<std::vector<int64_t>>& ids) = 0;

  // Transformer: `count` grids for one prompt; grid i samples with sampling.seed + i.
  virtual StatusOr<CodeGrids> GenerateCodes(const EncodedPrompt& prompt, int count,
                                            const fusion::SamplingParams& sampling,
                                            const ProgressFn& progress) = 0;
  // Transformer: one caption per grid, at most max_tokens ids, grid i with sampling.seed + i.
  virtual StatusOr<std::vector<std::vector<int64_t>>> GenerateCaptions(
      const CodeGrids& codes, const fusion::SamplingParams& sampling, int max_tokens) = 0;
  // Transformer: log p(texts[i] | grid i).
  virtual StatusOr<std::vector<double>> ScoreText(
      const CodeGrids& codes, const std::vector<std::vector<int64_t>>& texts) = 0;

  // Image codec: the PNG of each grid, carrying metadata[i].
  virtual StatusOr<std::vector<std::string>> DecodePngs(const CodeGrids& codes,
                                                        const std::vector<PngText>& metadata) = 0;
  // Grids per DecodePngs call: what the codec decodes well at once (drafts reach the caller a
  // chunk at a time). The bytes never depend on it: the decoder treats each image apart.
  virtual int DecodeChunk() const = 0;
  // Image codec: PNG or JPEG bytes -> one grid each.
  virtual StatusOr<CodeGrids> EncodeImages(const std::vector<std::string>& images) = 0;
};

}  // namespace duet::pipeline
