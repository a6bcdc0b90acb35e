// Implementation of model/local_parts.h.
#include "model/local_parts.h"

#include <algorithm>

#include "vision/png_codec.h"

namespace duet::model {
namespace {

// Rows decoded together; bounds KV-cache memory for large draft counts. Rows never interact,
// so chunking does not change any draft.
constexpr int kGenerationChunk = 64;

}  // namespace

torch::Tensor GridsToTensor(const pipeline::CodeGrids& codes) {
  return torch::tensor(codes.codes, torch::kInt64).view({codes.count, codes.cells()});
}

pipeline::CodeGrids GridsFromTensor(const torch::Tensor& codes, int64_t grid) {
  const torch::Tensor flat = codes.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* data = flat.data_ptr<int64_t>();
  return {flat.size(0), grid, std::vector<int64_t>(data, data + flat.numel())};
}

StatusOr<pipeline::EncodedPrompt> LocalParts::EncodePrompt(const std::string& prompt) {
  StatusOr<EncodedTexts> encoded = model_.text().Encode({prompt});
  if (!encoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt: ", encoded.status().message()));
  }
  const int64_t length = encoded->lengths[0].item<int64_t>();
  const torch::Tensor ids = encoded->ids[0].narrow(0, 0, length).contiguous();
  const torch::Tensor embeddings =
      encoded->embeddings[0].narrow(0, 0, length).to(torch::kFloat32).contiguous();
  pipeline::EncodedPrompt out;
  out.ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length);
  out.embeddings.assign(embeddings.data_ptr<float>(),
                        embeddings.data_ptr<float>() + embeddings.numel());
  out.width = embeddings.size(1);
  return out;
}

StatusOr<std::vector<std::string>> LocalParts::Detokenize(
    const std::vector<std::vector<int64_t>>& ids) {
  std::vector<std::string> texts;
  for (const auto& row : ids) {
    DUET_ASSIGN_OR_RETURN(std::string text, model_.text().Detokenize(row));
    texts.push_back(std::move(text));
  }
  return texts;
}

StatusOr<pipeline::CodeGrids> LocalParts::GenerateCodes(const pipeline::EncodedPrompt& prompt,
                                                        int count,
                                                        const fusion::SamplingParams& sampling,
                                                        const pipeline::ProgressFn& progress) {
  const int64_t length = static_cast<int64_t>(prompt.ids.size());
  const torch::Tensor text =
      torch::tensor(prompt.embeddings, torch::kFloat32).view({1, length, prompt.width});
  const torch::Tensor lengths = torch::full({1}, length, torch::kInt64);
  fusion::MultimodalTransformer transformer = model_.transformer();
  const int64_t steps = model_.config().transformer.image_tokens();
  const int64_t chunks = (count + kGenerationChunk - 1) / kGenerationChunk;
  std::vector<torch::Tensor> grids;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t first = chunk * kGenerationChunk;
    const int64_t rows = std::min<int64_t>(kGenerationChunk, count - first);
    std::vector<uint64_t> seeds;
    for (int64_t i = 0; i < rows; ++i) seeds.push_back(sampling.seed + first + i);
    const fusion::ProgressFn chunk_progress = [&](int64_t done, int64_t) {
      return !progress || progress(chunk * steps + done, chunks * steps);
    };
    DUET_ASSIGN_OR_RETURN(torch::Tensor codes,
                          fusion::GenerateImageCodes(transformer, text.expand({rows, -1, -1}),
                                                     lengths.expand({rows}), seeds, sampling,
                                                     chunk_progress));
    grids.push_back(codes.view({rows, -1}));
  }
  return GridsFromTensor(torch::cat(grids), model_.config().transformer.image_grid);
}

StatusOr<std::vector<std::vector<int64_t>>> LocalParts::GenerateCaptions(
    const pipeline::CodeGrids& codes, const fusion::SamplingParams& sampling, int max_tokens) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < codes.count; ++i) seeds.push_back(sampling.seed + i);
  fusion::MultimodalTransformer transformer = model_.transformer();
  return fusion::GenerateText(transformer, GridsToTensor(codes), seeds, sampling, max_tokens);
}

StatusOr<std::vector<double>> LocalParts::ScoreText(
    const pipeline::CodeGrids& codes, const std::vector<std::vector<int64_t>>& texts) {
  fusion::MultimodalTransformer transformer = model_.transformer();
  return fusion::ScoreText(transformer, GridsToTensor(codes), texts);
}

StatusOr<std::vector<std::string>> LocalParts::DecodePngs(
    const pipeline::CodeGrids& codes, const std::vector<pipeline::PngText>& metadata) {
  const torch::Tensor grids = GridsToTensor(codes).view({codes.count, codes.grid, codes.grid});
  DUET_ASSIGN_OR_RETURN(std::vector<vision::Image> images, model_.image().DecodeCodes(grids));
  std::vector<std::string> pngs;
  for (size_t i = 0; i < images.size(); ++i) {
    DUET_ASSIGN_OR_RETURN(std::string png, vision::EncodePng(images[i], metadata.at(i)));
    pngs.push_back(std::move(png));
  }
  return pngs;
}

int LocalParts::DecodeChunk() const { return static_cast<int>(ImagePipeline::kDecodeBatch); }

StatusOr<pipeline::CodeGrids> LocalParts::EncodeImages(const std::vector<std::string>& images) {
  DUET_ASSIGN_OR_RETURN(std::vector<vision::Image> decoded, model_.image().DecodeBytes(images));
  DUET_ASSIGN_OR_RETURN(torch::Tensor codes, model_.image().EncodeImages(decoded));
  return GridsFromTensor(codes.view({codes.size(0), -1}), model_.config().transformer.image_grid);
}

}  // namespace duet::model
