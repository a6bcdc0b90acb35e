// EvalReport (training/evaluate.h): the markdown page `duet eval` writes next to its JSON.
#include <cstdio>

#include "training/evaluate.h"

namespace duet::training {
namespace {

std::string Num(const nlohmann::json& value, const char* format = "%.3f") {
  if (!value.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof(text), format, value.get<double>());
  return text;
}

const nlohmann::json& At(const nlohmann::json& json, std::initializer_list<const char*> path) {
  static const nlohmann::json null;
  const nlohmann::json* node = &json;
  for (const char* key : path) {
    if (!node->is_object() || !node->contains(key)) return null;
    node = &(*node)[key];
  }
  return *node;
}

std::string CaptionRows(const nlohmann::json& r) {
  std::string out;
  for (const char* split : {"val", "train"}) {
    for (const char* lang : {"en", "ko"}) {
      const nlohmann::json& row = At(r, {"captioning", split, lang});
      if (row.is_null()) continue;
      out += absl::StrCat("| ", split, " | ", lang, " | ", Num(row["exact_match"]), " | ",
                          Num(row["token_f1"]), " | ", row.value("n", 0), " |\n");
    }
  }
  return out;
}

}  // namespace

std::string EvalReport(const nlohmann::json& r) {
  const nlohmann::json& image = At(r, {"image_tokenizer"});
  std::string md =
      absl::StrCat("# Evaluation of ", r.value("model_name", std::string("?")), "\n\n", "Model `",
                   r.value("model", std::string()), "`, data `", r.value("data", std::string()),
                   "` (", At(r, {"counts", "train_images"}).dump(), " training and ",
                   At(r, {"counts", "val_images"}).dump(), " validation images, ",
                   At(r, {"counts", "concepts"}).dump(),
                   " concepts). Written by `duet eval`; see "
                   "docs/training.md for the definitions.\n\n",
                   "## Image tokenizer (validation images)\n\n| PSNR (dB) | SSIM | codes used "
                   "(val) | codes used "
                   "(all) |\n| --- | --- | --- | --- |\n| ",
                   Num(image["psnr"], "%.2f"), " | ", Num(image["ssim"]), " | ",
                   Num(image["code_usage_val"]), " | ", Num(image["code_usage_all"]),
                   " |\n\n## Captioning (greedy, reference names)\n\n| split | language | exact "
                   "match | token F1 "
                   "| n |\n| --- | --- | --- | --- | --- |\n",
                   CaptionRows(r));
  md +=
      "\n## Text to image (held-out concepts, judged)\n\n| language | judge top-1 | judge top-5 |"
      " round trip | n |\n| --- | --- | --- | --- | --- |\n";
  for (const char* lang : {"en", "ko"}) {
    const nlohmann::json& row = At(r, {"text_to_image", lang});
    md += absl::StrCat("| ", lang, " | ", Num(row["judge_top1"]), " | ", Num(row["judge_top5"]),
                       " | ", Num(At(r, {"round_trip", lang, "rate"})), " | ", row.value("n", 0),
                       " |\n");
  }
  const nlohmann::json& lengths = At(r, {"text_to_image", "by_prompt_tokens"});
  if (lengths.is_object()) {
    md += "\nJudge top-5 by prompt length in tokens (both languages):";
    for (const auto& [bucket, row] : lengths.items()) {
      md += absl::StrCat(" ", bucket, ": ", Num(row["judge_top5"]), " (n ", row.value("n", 0), ");");
    }
    md.back() = '.';
    md += "\n";
  }
  const nlohmann::json& by_style = At(r, {"text_to_image", "by_draft_style"});
  if (by_style.is_object()) {
    const nlohmann::json& same = At(by_style, {"trained"});
    const nlohmann::json& other = At(by_style, {"other"});
    md += absl::StrCat(
        "\nBy the style a second judge sees in each draft (it names the style of real held-out-"
        "style images right ",
        Num(At(r, {"text_to_image", "style_judge_real_val", "accuracy"})),
        " of the time): drafts in the style the generator saw for their concept ",
        same.value("n", 0), ", judge top-5 ", Num(same["judge_top5"]), "; in another style ",
        other.value("n", 0), ", judge top-5 ", Num(other["judge_top5"]), ".\n");
  }
  const nlohmann::json& reranked = At(r, {"text_to_image", "reranked"});
  if (reranked.is_object()) {
    md += absl::StrCat("\nReranked: the best of ", reranked.value("candidates", 0),
                       " drafts per prompt, judge top-1 / top-5 (English; Korean):");
    for (const auto& [key, label] :
         {std::pair{"by_completed_caption",
                    "by log p(caption | draft) of the prompt completed with the other half of "
                    "the draft's own caption (`--rerank`)"},
          std::pair{"by_caption_score", "by log p(prompt | draft) with the prompt as the whole caption"}}) {
      const nlohmann::json& row = At(reranked, {key});
      md += absl::StrCat(" ", label, ", ", Num(At(row, {"en", "judge_top1"})), " / ",
                         Num(At(row, {"en", "judge_top5"})), "; ", Num(At(row, {"ko", "judge_top1"})),
                         " / ", Num(At(row, {"ko", "judge_top5"})), ".");
    }
    md += "\n";
  }
  const nlohmann::json& real = At(r, {"text_to_image", "judge_real_val"});
  const nlohmann::json& trained = At(r, {"text_to_image", "judge_real_train_style"});
  const nlohmann::json& diversity = At(r, {"diversity"});
  const nlohmann::json& recon = At(r, {"text_to_image", "judge_reconstructed_train_style"});
  const std::string recon_line =
      recon.is_object()
          ? absl::StrCat(" The trained-style images through the image tokenizer (the best a "
                         "draft can be): top-1 ",
                         Num(recon["top1"]), ", top-5 ", Num(recon["top5"]), ".")
          : std::string();
  md += absl::StrCat(
      "\nThe judge on real images of the same concepts: in the style the generator was trained "
      "on (the judge's ceiling here), top-1 ",
      Num(trained["top1"]), ", top-5 ", Num(trained["top5"]), "; in the held-out style, top-1 ",
      Num(real["top1"]), ", top-5 ", Num(real["top5"]), ".", recon_line, "\n\n",
      "## Diversity\n\nMean pairwise RMS pixel distance between ", diversity.value("drafts", 0),
      " drafts of one prompt, over ", diversity.value("prompts", 0),
      " prompts: ", Num(diversity["mean_pairwise_rms"], "%.4f"),
      ". The same prompt and seeds sampled twice gave ",
      diversity.value("same_seed_identical", false) ? "identical" : "DIFFERENT",
      " drafts.\n\nSettings: `", At(r, {"settings"}).dump(), "`.\n");
  return md;
}

}  // namespace duet::training
