// Implementation of training/evaluate.h: image tokenizer, captioning, text->image (judged),
// diversity and round trip, all on the dataset's held-out split.
#include "training/evaluate.h"

#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include "common/file.h"
#include "common/tensor_io.h"
#include "fusion/generation.h"
#include "model/duet_model.h"
#include "language/utf8.h"
#include "pipeline/draft_pipeline.h"
#include "training/batches.h"
#include "training/dataset.h"
#include "training/eval_metrics.h"
#include "training/judge.h"

namespace duet::training {
namespace {

constexpr int64_t kChunk = 64;  // rows per generation or codec call
constexpr size_t kLongPrompt = 5;  // prompts of this many tokens or more share one length bucket

struct Prompt {
  std::string text;
  int language = kEnglish;
  int64_t concept_id = 0;
  size_t tokens = 0;  // the prompt's length in tokens, for the by-length split
};

struct Context {
  model::DuetModel* model = nullptr;
  const Dataset* data = nullptr;
  const EvalOptions* options = nullptr;
  fusion::SamplingParams sampling;  // text->image, resolved against the model's defaults
  Judge* style_judge = nullptr;      // names a draft's style; null with fewer than two styles
  // Held-out concept id -> the one style the generator saw it in (TrainedStyleImages).
  const std::map<int64_t, int64_t>* trained_style_of = nullptr;
};

// The held-out concepts' training images: one style each, the only one the generator saw.
struct TrainedStyleImages {
  std::vector<int64_t> indices;
  std::map<int64_t, int64_t> style_of;  // concept id -> its trained style
};

const char* LanguageName(int language) { return language == kEnglish ? "en" : "ko"; }

torch::Tensor ToUnit(const torch::Tensor& x) { return (x.clamp(-1, 1) + 1) / 2; }

// Codes [n, G, G] of dataset images `indices`.
torch::Tensor EncodeIndices(const Context& ctx, const std::vector<int64_t>& indices) {
  torch::NoGradGuard no_grad;
  vision::ImageTokenizer tokenizer = ctx.model->image().tokenizer();
  const torch::Tensor images = ctx.data->images.index_select(0, torch::tensor(indices));
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < images.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, images.size(0) - first);
    parts.push_back(tokenizer->Encode(ImagesToFloat(images.narrow(0, first, n))));
  }
  return torch::cat(parts);
}

// Images [n, 3, R, R] in [0, 1] of codes [n, G, G].
torch::Tensor DecodeCodes(const Context& ctx, const torch::Tensor& codes) {
  torch::NoGradGuard no_grad;
  vision::ImageTokenizer tokenizer = ctx.model->image().tokenizer();
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < codes.size(0); first += kChunk) {
    parts.push_back(
        ToUnit(tokenizer->Decode(codes.narrow(0, first, std::min(kChunk, codes.size(0) - first)))));
  }
  return torch::cat(parts);
}

// Greedy captions of codes [n, G, G].
StatusOr<std::vector<std::string>> CaptionCodes(const Context& ctx, const torch::Tensor& codes) {
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  fusion::MultimodalTransformer transformer = ctx.model->transformer();
  std::vector<std::string> out;
  for (int64_t first = 0; first < codes.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, codes.size(0) - first);
    const std::vector<uint64_t> seeds(n, 0);
    DUET_ASSIGN_OR_RETURN(
        auto ids,
        fusion::GenerateText(transformer, codes.narrow(0, first, n).flatten(1), seeds, greedy,
                             ctx.model->config().transformer.max_caption_len - 1));
    for (const auto& row : ids) {
      DUET_ASSIGN_OR_RETURN(std::string text, ctx.model->text().Detokenize(row));
      out.push_back(std::move(text));
    }
  }
  return out;
}

// Codes [n, G, G] for prompts (cut to the encoder's length), row i sampled with seeds[i].
StatusOr<torch::Tensor> GenerateCodes(const Context& ctx, const std::vector<std::string>& prompts,
                                      const std::vector<uint64_t>& seeds) {
  const int max_len = ctx.model->config().text_encoder.max_len;
  std::vector<std::vector<int64_t>> rows;
  for (const std::string& prompt : prompts) {
    DUET_ASSIGN_OR_RETURN(const std::vector<int> ids, ctx.model->text().tokenizer().Encode(prompt));
    rows.emplace_back(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), max_len));
  }
  const fusion::SamplingParams& sampling = ctx.sampling;
  language::TextEncoder encoder = ctx.model->text().encoder();
  fusion::MultimodalTransformer transformer = ctx.model->transformer();
  std::vector<torch::Tensor> parts;
  for (size_t first = 0; first < rows.size(); first += kChunk) {
    const size_t n = std::min<size_t>(kChunk, rows.size() - first);
    auto [ids, lengths] = PadIds({rows.begin() + first, rows.begin() + first + n}, max_len);
    DUET_ASSIGN_OR_RETURN(const torch::Tensor text, language::EncodeText(encoder, ids, lengths));
    DUET_ASSIGN_OR_RETURN(
        torch::Tensor codes,
        fusion::GenerateImageCodes(transformer, text, lengths,
                                   {seeds.begin() + first, seeds.begin() + first + n}, sampling));
    parts.push_back(codes);
  }
  return torch::cat(parts);
}

// log p(captions[i] | codes[i]) ([n, G, G] codes; captions without BOS/EOS), a chunk at a time.
StatusOr<std::vector<double>> ScoreCaptions(const Context& ctx, const torch::Tensor& codes,
                                            const std::vector<std::vector<int64_t>>& captions) {
  fusion::MultimodalTransformer transformer = ctx.model->transformer();
  std::vector<double> scores;
  for (int64_t first = 0; first < codes.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, codes.size(0) - first);
    DUET_ASSIGN_OR_RETURN(const std::vector<double> part,
                          fusion::ScoreText(transformer, codes.narrow(0, first, n).flatten(1),
                                            {captions.begin() + first, captions.begin() + first + n}));
    scores.insert(scores.end(), part.begin(), part.end());
  }
  return scores;
}

nlohmann::json ImageTokenizerSection(const Context& ctx, const std::vector<int64_t>& val) {
  const torch::Tensor codes = EncodeIndices(ctx, val);
  const torch::Tensor recon = DecodeCodes(ctx, codes);
  const torch::Tensor real =
      ToUnit(ImagesToFloat(ctx.data->images.index_select(0, torch::tensor(val))));
  std::vector<int64_t> all(ctx.data->size());
  for (int64_t i = 0; i < ctx.data->size(); ++i) all[i] = i;
  const double k = static_cast<double>(ctx.model->config().image_tokenizer.codebook_size());
  auto usage = [&](const torch::Tensor& c) {
    return static_cast<double>(std::get<0>(at::_unique(c.flatten())).numel()) / k;
  };
  return {{"psnr", MeanPsnr(recon, real)},
          {"ssim", MeanSsim(recon, real)},
          {"code_usage_val", usage(codes)},
          {"code_usage_all", usage(EncodeIndices(ctx, all))},
          {"images", val.size()}};
}

StatusOr<nlohmann::json> CaptionSection(const Context& ctx, const std::vector<int64_t>& indices) {
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> captions,
                        CaptionCodes(ctx, EncodeIndices(ctx, indices)));
  nlohmann::json out;
  for (int language : {kEnglish, kKorean}) {
    double exact = 0, f1 = 0;
    for (size_t i = 0; i < indices.size(); ++i) {
      const Concept& c = ctx.data->concepts[ctx.data->ids[indices[i]].item<int64_t>()];
      const auto halves = SplitCaption(captions[i]);
      const std::string& predicted = language == kEnglish ? halves.first : halves.second;
      const std::string& reference = language == kEnglish ? c.en[0] : c.ko[0];
      exact += ExactMatch(predicted, reference);
      f1 += TokenF1(predicted, reference);
    }
    const double n = std::max<double>(1, static_cast<double>(indices.size()));
    out[LanguageName(language)] = {
        {"exact_match", exact / n}, {"token_f1", f1 / n}, {"n", indices.size()}};
  }
  out["examples"] = nlohmann::json::array();
  for (size_t i = 0; i < std::min<size_t>(5, indices.size()); ++i)
    out["examples"].push_back(captions[i]);
  return out;
}

StatusOr<std::vector<Prompt>> ValPrompts(const Context& ctx, const std::vector<int64_t>& val) {
  std::set<int64_t> concepts;
  for (int64_t i : val) concepts.insert(ctx.data->ids[i].item<int64_t>());
  std::vector<Prompt> prompts;
  int64_t taken = 0;
  for (int64_t id : concepts) {
    if (ctx.options->max_concepts > 0 && taken++ >= ctx.options->max_concepts) break;
    for (int language : {kEnglish, kKorean}) {
      const Concept& c = ctx.data->concepts[id];
      const std::string& text = language == kEnglish ? c.en[0] : c.ko[0];
      DUET_ASSIGN_OR_RETURN(const std::vector<int> ids, ctx.model->text().tokenizer().Encode(text));
      prompts.push_back({text, language, id, ids.size()});
    }
  }
  return prompts;
}

// Up to `count` of `indices`, evenly spaced, so a sample covers every category.
std::vector<int64_t> EvenlySpaced(const std::vector<int64_t>& indices, size_t count) {
  if (indices.size() <= count) return indices;
  std::vector<int64_t> out;
  for (size_t i = 0; i < count; ++i) out.push_back(indices[i * indices.size() / count]);
  return out;
}

}  // namespace

namespace {

// The rows of prompts in `language` and their concepts.
std::pair<std::vector<int64_t>, std::vector<int64_t>> LanguageRows(const std::vector<Prompt>& prompts,
                                                                   int language) {
  std::vector<int64_t> rows, labels;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].language != language) continue;
    rows.push_back(static_cast<int64_t>(i));
    labels.push_back(prompts[i].concept_id);
  }
  return {rows, labels};
}

// {judge_top1, judge_top5, n} of the judge's logits [prompts, concepts] at `rows`.
nlohmann::json JudgedRows(const torch::Tensor& logits, const std::vector<int64_t>& rows,
                          const std::vector<int64_t>& labels) {
  const torch::Tensor picked = logits.index_select(0, torch::tensor(rows, torch::kInt64));
  const torch::Tensor truth = torch::tensor(labels, torch::kInt64);
  return {{"judge_top1", TopKAccuracy(picked, truth, 1)},
          {"judge_top5", TopKAccuracy(picked, truth, 5)},
          {"n", rows.size()}};
}

// Judge accuracy of generated images per language, by prompt length and by draft style, and
// the round trip caption(generate(p)) == p. The judge on real images is RealImagesSection.
StatusOr<nlohmann::json> TextToImageSection(const Context& ctx, Judge& judge,
                                            const std::vector<Prompt>& prompts,
                                            nlohmann::json* round_trip) {
  const torch::Device device(ctx.options->device);
  std::vector<std::string> texts;
  std::vector<uint64_t> seeds;
  for (size_t i = 0; i < prompts.size(); ++i) {
    texts.push_back(prompts[i].text);
    seeds.push_back(ctx.options->seed + i);
  }
  DUET_ASSIGN_OR_RETURN(const torch::Tensor codes, GenerateCodes(ctx, texts, seeds));
  const torch::Tensor images = DecodeCodes(ctx, codes);  // [n, 3, R, R] in [0, 1]
  const torch::Tensor logits = JudgeLogits(judge, images * 2 - 1, device);
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> captions, CaptionCodes(ctx, codes));
  nlohmann::json out;
  for (int language : {kEnglish, kKorean}) {
    const auto [rows, labels] = LanguageRows(prompts, language);
    int64_t returned = 0;
    for (int64_t i : rows) {
      const auto halves = SplitCaption(captions[i]);
      returned += ExactMatch(language == kEnglish ? halves.first : halves.second, prompts[i].text);
    }
    const double n = std::max<double>(1, static_cast<double>(rows.size()));
    out[LanguageName(language)] = JudgedRows(logits, rows, labels);
    (*round_trip)[LanguageName(language)] = {{"rate", static_cast<double>(returned) / n},
                                             {"n", rows.size()}};
  }
  // Judge top-5 by the prompt's length in tokens: in the sliding-window layers a short prompt is
  // out of reach of most image positions unless the mask has a global prefix (docs/training.md).
  std::map<std::string, std::vector<int64_t>> by_length;
  std::vector<int64_t> concepts;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const size_t n = prompts[i].tokens;
    by_length[n >= kLongPrompt ? std::to_string(kLongPrompt) + "+" : std::to_string(n)].push_back(
        static_cast<int64_t>(i));
    concepts.push_back(prompts[i].concept_id);
  }
  const torch::Tensor all_truth = torch::tensor(concepts);
  for (const auto& [bucket, rows] : by_length) {
    const torch::Tensor index = torch::tensor(rows);
    out["by_prompt_tokens"][bucket] = {
        {"judge_top5", TopKAccuracy(logits.index_select(0, index), all_truth.index_select(0, index), 5)},
        {"n", rows.size()}};
  }
  if (ctx.style_judge != nullptr && ctx.trained_style_of != nullptr) {
    // Judge top-5 of the drafts the style judge puts in their concept's trained style, and of
    // the rest: a draft in a style the generator never saw for that concept has to be invented.
    const torch::Tensor styles =
        JudgeLogits(*ctx.style_judge, images * 2 - 1, device).argmax(1);
    std::vector<int64_t> same, other;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto it = ctx.trained_style_of->find(prompts[i].concept_id);
      const bool trained =
          it != ctx.trained_style_of->end() && styles[i].item<int64_t>() == it->second;
      (trained ? same : other).push_back(static_cast<int64_t>(i));
    }
    for (const auto& [name, rows] : {std::pair{"trained", same}, std::pair{"other", other}}) {
      const torch::Tensor index = torch::tensor(rows, torch::kInt64);
      out["by_draft_style"][name] = {
          {"judge_top5", rows.empty() ? 0.0
                                      : TopKAccuracy(logits.index_select(0, index),
                                                     all_truth.index_select(0, index), 5)},
          {"n", rows.size()}};
    }
  }
  return out;
}

TrainedStyleImages HeldOutTrainedStyle(const Context& ctx, const std::vector<Prompt>& prompts) {
  std::set<int64_t> heldout;
  for (const Prompt& p : prompts) heldout.insert(p.concept_id);
  TrainedStyleImages out;
  for (int64_t i : ctx.data->Indices(Split::kTrain)) {
    const int64_t id = ctx.data->ids[i].item<int64_t>();
    if (heldout.count(id) == 0) continue;
    out.indices.push_back(i);
    out.style_of[id] = ctx.data->styles[i].item<int64_t>();
  }
  return out;
}

// The judge on real images, which do not depend on the sampling: the validation style (a
// cross-style test for the judge too), the trained style of the same held-out concepts (what
// the generator learned), and those images through the image tokenizer (encode, decode). The
// last is the best a draft can be, since the generator can only choose codes: the gap from it to
// the drafts is the generator's, the gap from the real images to it the tokenizer's.
nlohmann::json RealImagesSection(const Context& ctx, Judge& judge, const std::vector<int64_t>& val,
                                 const TrainedStyleImages& trained) {
  const torch::Device device(ctx.options->device);
  auto judged = [&](const torch::Tensor& images, const std::vector<int64_t>& indices) {
    const torch::Tensor logits = JudgeLogits(judge, images, device);
    const torch::Tensor labels = ctx.data->ids.index_select(0, torch::tensor(indices));
    return nlohmann::json{{"top1", TopKAccuracy(logits, labels, 1)},
                          {"top5", TopKAccuracy(logits, labels, 5)},
                          {"n", indices.size()}};
  };
  auto real = [&](const std::vector<int64_t>& indices) {
    return ImagesToFloat(ctx.data->images.index_select(0, torch::tensor(indices)));
  };
  nlohmann::json out;
  out["judge_real_val"] = judged(real(val), val);
  if (!trained.indices.empty()) {
    out["judge_real_train_style"] = judged(real(trained.indices), trained.indices);
    out["judge_reconstructed_train_style"] =
        judged(DecodeCodes(ctx, EncodeIndices(ctx, trained.indices)) * 2 - 1, trained.indices);
  }
  return out;
}

StatusOr<nlohmann::json> DiversitySection(const Context& ctx, const std::vector<Prompt>& prompts) {
  const int64_t count = std::min<int64_t>(ctx.options->diversity_prompts, prompts.size());
  double sum = 0;
  bool same_seed_identical = false;
  for (int64_t p = 0; p < count; ++p) {
    std::vector<uint64_t> seeds;
    for (int d = 0; d < ctx.options->drafts; ++d) seeds.push_back(ctx.options->seed + 1000 + d);
    const std::vector<std::string> texts(ctx.options->drafts, prompts[p].text);
    DUET_ASSIGN_OR_RETURN(const torch::Tensor codes, GenerateCodes(ctx, texts, seeds));
    sum += MeanPairwiseDistance(DecodeCodes(ctx, codes));
    if (p == 0) {
      // Same prompt, same seeds, a second time: the drafts must come back identical.
      DUET_ASSIGN_OR_RETURN(const torch::Tensor again, GenerateCodes(ctx, texts, seeds));
      same_seed_identical = torch::equal(codes, again);
    }
  }
  return nlohmann::json{{"mean_pairwise_rms", count > 0 ? sum / static_cast<double>(count) : 0.0},
                        {"same_seed_identical", same_seed_identical},
                        {"prompts", count},
                        {"drafts", ctx.options->drafts}};
}

// Choosing among drafts, judged: every prompt draws `rerank_candidates` drafts and the best of
// each prompt by a score is the one judged. by_completed_caption is `duet generate --rerank`'s
// score (pipeline::CompleteCaption); by_caption_score reads the prompt alone as the whole
// caption, which a one-language prompt never is. Against TextToImageSection's one draft per
// prompt, it shows what choosing buys.
StatusOr<nlohmann::json> RerankSection(const Context& ctx, Judge& judge,
                                       const std::vector<Prompt>& prompts) {
  const int64_t k = ctx.options->rerank_candidates;
  const int64_t caption_ids = ctx.model->config().transformer.max_caption_len - 1;
  std::vector<std::string> texts;
  std::vector<uint64_t> seeds;
  std::vector<std::vector<int64_t>> captions;
  for (size_t i = 0; i < prompts.size(); ++i) {
    DUET_ASSIGN_OR_RETURN(const std::vector<int> ids,
                          ctx.model->text().tokenizer().Encode(prompts[i].text));
    const std::vector<int64_t> caption(ids.begin(),
                                       ids.begin() + std::min<int64_t>(ids.size(), caption_ids));
    for (int64_t c = 0; c < k; ++c) {
      texts.push_back(prompts[i].text);
      seeds.push_back(ctx.options->seed + i * k + c);
      captions.push_back(caption);
    }
  }
  DUET_ASSIGN_OR_RETURN(const torch::Tensor codes, GenerateCodes(ctx, texts, seeds));
  DUET_ASSIGN_OR_RETURN(const std::vector<double> caption_scores,
                        ScoreCaptions(ctx, codes, captions));
  // The same prompts completed with the other half of each draft's greedy caption
  // (pipeline::CompleteCaption), as `--rerank` scores them.
  DUET_ASSIGN_OR_RETURN(const std::vector<std::string> own, CaptionCodes(ctx, codes));
  std::vector<std::vector<int64_t>> completed;
  for (size_t r = 0; r < own.size(); ++r) {
    const Prompt& prompt = prompts[r / k];
    const std::string text =
        pipeline::CompleteCaption(prompt.text, language::HasHangul(prompt.text), own[r]);
    DUET_ASSIGN_OR_RETURN(const std::vector<int> ids, ctx.model->text().tokenizer().Encode(text));
    completed.emplace_back(ids.begin(), ids.begin() + std::min<int64_t>(ids.size(), caption_ids));
  }
  DUET_ASSIGN_OR_RETURN(const std::vector<double> completed_scores,
                        ScoreCaptions(ctx, codes, completed));
  nlohmann::json out = {{"candidates", k}};
  for (const auto& [name, scores] : {std::pair{"by_caption_score", &caption_scores},
                                     std::pair{"by_completed_caption", &completed_scores}}) {
    const std::vector<int64_t> best = BestOfEachGroup(*scores, k);  // row chosen per prompt
    const torch::Tensor logits =
        JudgeLogits(judge, DecodeCodes(ctx, codes.index_select(0, torch::tensor(best))) * 2 - 1,
                    torch::Device(ctx.options->device));
    for (int language : {kEnglish, kKorean}) {
      const auto [rows, labels] = LanguageRows(prompts, language);
      out[name][LanguageName(language)] = JudgedRows(logits, rows, labels);
    }
  }
  return out;
}

// Text->image of every setting of the sweep, scored by the same judge.
StatusOr<nlohmann::json> SweepSection(const Context& ctx, Judge& judge,
                                      const std::vector<Prompt>& prompts, nlohmann::json* best) {
  nlohmann::json rows = nlohmann::json::array();
  double best_top5 = -1, best_top1 = -1;
  for (const model::SamplingDefaults& setting : ctx.options->sweep) {
    Context run = ctx;
    run.sampling = setting.Params();
    nlohmann::json round_trip;
    DUET_ASSIGN_OR_RETURN(nlohmann::json t2i, TextToImageSection(run, judge, prompts, &round_trip));
    const double top5 = (t2i["en"]["judge_top5"].get<double>() + t2i["ko"]["judge_top5"].get<double>()) / 2;
    const double top1 = (t2i["en"]["judge_top1"].get<double>() + t2i["ko"]["judge_top1"].get<double>()) / 2;
    nlohmann::json row = {{"temperature", setting.temperature},
                          {"top_k", setting.top_k},
                          {"top_p", setting.top_p},
                          {"guidance_scale", setting.guidance_scale},
                          {"en", t2i["en"]},
                          {"ko", t2i["ko"]},
                          {"round_trip", round_trip},
                          {"mean_top5", top5},
                          {"mean_top1", top1}};
    std::fprintf(stderr, "sweep: temperature %.2f top_k %d top_p %.2f guidance %.2f -> top-5 %.3f top-1 %.3f\n",
                 setting.temperature, setting.top_k, setting.top_p, setting.guidance_scale, top5, top1);
    if (top5 > best_top5 || (top5 == best_top5 && top1 > best_top1)) {
      best_top5 = top5;
      best_top1 = top1;
      *best = row;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status CheckOptions(const EvalOptions& options) {
  if (options.model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  if (options.data_dir.empty()) return absl::InvalidArgumentError("--data is required");
  DUET_RETURN_IF_ERROR(CheckRange("drafts", options.drafts, 2, 256));
  DUET_RETURN_IF_ERROR(CheckRange("judge_epochs", options.judge_epochs, 0, 10000));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("rerank_candidates", options.rerank_candidates, 0, 64));
  if (options.device.rfind("cuda", 0) == 0 && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError("device " + options.device + " is not available");
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<std::vector<model::SamplingDefaults>> ParseSweep(const std::string& grid,
                                                          const model::SamplingDefaults& base) {
  std::vector<model::SamplingDefaults> out = {base};
  for (const absl::string_view part : absl::StrSplit(grid, ';', absl::SkipEmpty())) {
    const std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return absl::InvalidArgumentError(absl::StrCat("sweep: expected key=v1,v2 in \"", part, "\""));
    const std::string& key = kv[0];
    if (!model::SamplingDefaults().Set(key, 0)) {
      return absl::InvalidArgumentError("sweep: unknown key " + key +
                                        " (temperature, top_k, top_p, guidance_scale)");
    }
    std::vector<model::SamplingDefaults> next;
    for (const absl::string_view text : absl::StrSplit(kv[1], ',', absl::SkipEmpty())) {
      double value = 0;
      if (!absl::SimpleAtod(text, &value)) {
        return absl::InvalidArgumentError(absl::StrCat("sweep: ", key, " value \"", text, "\" is not a number"));
      }
      for (model::SamplingDefaults s : out) {
        s.Set(key, value);
        next.push_back(s);
      }
    }
    if (next.empty()) return absl::InvalidArgumentError("sweep: " + key + " has no values");
    out = std::move(next);
  }
  if (out.size() > 256) return absl::InvalidArgumentError("sweep: at most 256 settings");
  return out;
}

StatusOr<nlohmann::json> Evaluate(const EvalOptions& options) {
  DUET_RETURN_IF_ERROR(CheckOptions(options));
  DUET_ASSIGN_OR_RETURN(auto model, model::DuetModel::Load(options.model_dir, options.dtype));
  DUET_ASSIGN_OR_RETURN(const Dataset data, ReadDataset(options.data_dir));
  if (data.resolution != model->config().image_tokenizer.resolution) {
    return absl::InvalidArgumentError(absl::StrCat("dataset resolution ", data.resolution,
                                                   " differs from the model's ",
                                                   model->config().image_tokenizer.resolution));
  }
  const std::vector<int64_t> val = data.Indices(Split::kVal);
  std::vector<int64_t> train = data.Indices(Split::kTrain);
  if (val.empty()) return absl::InvalidArgumentError("the dataset has no validation images");
  Context ctx{model.get(), &data, &options, options.sampling.Resolve(model->config().sampling)};
  DUET_RETURN_IF_ERROR(fusion::ValidateSampling(ctx.sampling, model->config().transformer.image_codebook));
  nlohmann::json results = {{"model", options.model_dir},
                            {"data", options.data_dir},
                            {"model_name", model->config().name}};
  results["counts"] = {{"train_images", train.size()},
                       {"val_images", val.size()},
                       {"concepts", data.concepts.size()}};
  results["image_tokenizer"] = ImageTokenizerSection(ctx, val);
  DUET_ASSIGN_OR_RETURN(results["captioning"]["val"], CaptionSection(ctx, val));
  train = EvenlySpaced(train, static_cast<size_t>(options.train_captions));
  if (!train.empty()) {
    DUET_ASSIGN_OR_RETURN(results["captioning"]["train"], CaptionSection(ctx, train));
  }
  JudgeOptions judge_options;
  judge_options.epochs = options.judge_epochs;
  judge_options.seed = options.seed;
  DUET_ASSIGN_OR_RETURN(Judge judge, TrainJudge(data, data.Indices(Split::kTrain), judge_options,
                                                torch::Device(options.device)));
  // A second judge names the style: how many drafts are drawn in the style the generator saw
  // for their concept (by_draft_style). Styles are easy to tell apart, so it needs few epochs.
  std::optional<Judge> style_judge;
  nlohmann::json style_judge_real_val;  // the style judge on real images of the held-out style
  if (data.style_names.size() >= 2) {
    JudgeOptions style_options = judge_options;
    style_options.target = JudgeTarget::kStyle;
    style_options.epochs = std::max(1, options.judge_epochs / 4);
    DUET_ASSIGN_OR_RETURN(style_judge, TrainJudge(data, data.Indices(Split::kTrain), style_options,
                                                  torch::Device(options.device)));
    ctx.style_judge = &*style_judge;
    const torch::Tensor index = torch::tensor(val, torch::kInt64);
    const torch::Tensor predicted =
        JudgeLogits(*style_judge, ImagesToFloat(data.images.index_select(0, index)),
                    torch::Device(options.device))
            .argmax(1);
    style_judge_real_val = {
        {"accuracy",
         predicted.eq(data.styles.index_select(0, index).to(torch::kInt64)).to(torch::kFloat64).mean().item<double>()},
        {"n", val.size()}};
  }
  DUET_ASSIGN_OR_RETURN(const std::vector<Prompt> prompts, ValPrompts(ctx, val));
  const TrainedStyleImages trained_style = HeldOutTrainedStyle(ctx, prompts);
  ctx.trained_style_of = &trained_style.style_of;
  nlohmann::json round_trip;
  DUET_ASSIGN_OR_RETURN(results["text_to_image"],
                        TextToImageSection(ctx, judge, prompts, &round_trip));
  results["text_to_image"].update(RealImagesSection(ctx, judge, val, trained_style));
  if (style_judge) results["text_to_image"]["style_judge_real_val"] = style_judge_real_val;
  results["round_trip"] = round_trip;
  DUET_ASSIGN_OR_RETURN(results["diversity"], DiversitySection(ctx, prompts));
  if (options.rerank_candidates >= 2) {
    DUET_ASSIGN_OR_RETURN(results["text_to_image"]["reranked"], RerankSection(ctx, judge, prompts));
  }
  if (!options.sweep.empty()) {
    nlohmann::json best;
    DUET_ASSIGN_OR_RETURN(results["sweep"], SweepSection(ctx, judge, prompts, &best));
    results["sweep_best"] = best;
  }
  results["settings"] = {{"seed", options.seed},
                         {"temperature", ctx.sampling.temperature},
                         {"top_k", ctx.sampling.top_k},
                         {"top_p", ctx.sampling.top_p},
                         {"guidance", ctx.sampling.guidance_scale},
                         {"judge_epochs", options.judge_epochs}};
  if (!options.json_path.empty()) DUET_RETURN_IF_ERROR(WriteJsonFile(options.json_path, results));
  if (!options.report_path.empty()) {
    DUET_RETURN_IF_ERROR(WriteFileAtomic(options.report_path, EvalReport(results)));
  }
  return results;
}

}  // namespace duet::training
