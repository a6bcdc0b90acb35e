// Implementation of training/batches.h.
#include "training/batches.h"

#include "fusion/transformer_config.h"
#include "training/rng.h"

namespace duet::training {
namespace {

StatusOr<std::vector<int64_t>> Ids(const language::Tokenizer& tokenizer, const std::string& text,
                                   size_t limit) {
  DUET_ASSIGN_OR_RETURN(const std::vector<int> ids, tokenizer.Encode(text));
  std::vector<int64_t> out(ids.begin(), ids.begin() + std::min(limit, ids.size()));
  return out;
}

}  // namespace

std::string CaptionTarget(const Concept& concept) {
  return concept.en.front() + kCaptionSeparator + concept.ko.front();
}

std::pair<std::string, std::string> SplitCaption(const std::string& caption) {
  const size_t cut = caption.find(kCaptionSeparator);
  if (cut == std::string::npos) return {caption, ""};
  return {caption.substr(0, cut), caption.substr(cut + std::string(kCaptionSeparator).size())};
}

StatusOr<CaptionTable> BuildCaptionTable(const language::Tokenizer& tokenizer,
                                         const Dataset& dataset, int max_prompt_tokens,
                                         int max_caption_len) {
  CaptionTable table;
  for (const Concept& c : dataset.concepts) {
    std::array<std::vector<std::vector<int64_t>>, 2> prompts;
    for (int language : {kEnglish, kKorean}) {
      for (const std::string& text : language == kEnglish ? c.en : c.ko) {
        DUET_ASSIGN_OR_RETURN(std::vector<int64_t> ids, Ids(tokenizer, text, max_prompt_tokens));
        if (ids.empty())
          return absl::InvalidArgumentError("caption \"" + text + "\" has no tokens");
        prompts[language].push_back(std::move(ids));
      }
    }
    table.prompts.push_back(std::move(prompts));
    DUET_ASSIGN_OR_RETURN(std::vector<int64_t> target,
                          Ids(tokenizer, CaptionTarget(c), max_caption_len - 1));
    target.push_back(fusion::kTextEosId);
    table.targets.push_back(std::move(target));
  }
  return table;
}

std::pair<torch::Tensor, torch::Tensor> PadIds(const std::vector<std::vector<int64_t>>& rows,
                                               int64_t width) {
  const int64_t B = static_cast<int64_t>(rows.size());
  torch::Tensor ids = torch::zeros({B, width}, torch::kInt64);
  torch::Tensor lengths = torch::zeros({B}, torch::kInt64);
  auto a = ids.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = std::min<int64_t>(width, static_cast<int64_t>(rows[b].size()));
    for (int64_t t = 0; t < n; ++t) a[b][t] = rows[b][t];
    lengths[b] = n;
  }
  return {ids, lengths};
}

JointBatch SampleJointBatch(const CaptionTable& table, const Dataset& dataset,
                            const std::vector<int64_t>& pool, uint64_t seed, int64_t step,
                            const JointBatchShape& shape) {
  StepRng rng(seed, RngStream::kJointBatch, static_cast<uint64_t>(step));
  const auto ids = dataset.ids.accessor<int64_t, 1>();
  JointBatch batch;
  batch.t2i_images = torch::empty({shape.t2i_rows}, torch::kInt64);
  batch.i2t_images = torch::empty({shape.i2t_rows}, torch::kInt64);
  batch.i2t_variants = torch::zeros({shape.i2t_rows}, torch::kInt64);
  batch.drop = torch::zeros({shape.t2i_rows}, torch::kBool);
  std::vector<std::vector<int64_t>> prompts, targets;
  const int64_t n = static_cast<int64_t>(pool.size());
  int64_t longest = 1;
  for (int b = 0; b < shape.t2i_rows; ++b) {
    const int64_t image = pool[rng.Below(n)];
    const auto& choices = table.prompts[ids[image]][rng.Below(2)];
    const bool reference = rng.Uniform() < 0.5;
    prompts.push_back(choices[reference ? 0 : rng.Below(static_cast<int64_t>(choices.size()))]);
    const bool drop = rng.Uniform() < shape.prompt_dropout;
    batch.drop[b] = drop;
    if (!drop) longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts.back().size()));
    batch.t2i_images[b] = image;
  }
  for (int b = 0; b < shape.i2t_rows; ++b) {
    const int64_t image = pool[rng.Below(n)];
    targets.push_back(table.targets[ids[image]]);
    batch.i2t_images[b] = image;
    if (shape.variants > 0) batch.i2t_variants[b] = rng.Below(shape.variants + 1);
  }
  std::tie(batch.text_ids, batch.text_lengths) = PadIds(prompts, longest);
  batch.targets = PadIds(targets, shape.caption_len).first;
  return batch;
}

}  // namespace duet::training
