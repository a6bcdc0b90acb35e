// The whole training pipeline on the synthetic dataset, on the CPU: shards, every stage for a few
// steps (losses fall), exact resume, export to a loadable model, and the evaluation report.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "gtest/gtest.h"
#include "model/duet_model.h"
#include "tests/model/tiny_duet.h"
#include "tests/training/synthetic_data.h"
#include "training/checkpoint.h"
#include "training/evaluate.h"
#include "training/trainer.h"

namespace duet::training {
namespace {

using model::testing::TempDir;

constexpr int64_t kSteps = 24;

TrainOptions Options(const std::string& data, const std::string& out) {
  TrainOptions o;
  o.data_dir = data;
  o.out_dir = out;
  o.model = model::testing::TinyModelConfig();
  o.model.text_encoder.vocab_size = 400;
  o.model.Derive();
  o.train.seed = 7;
  o.train.dtype = "bfloat16";  // mixed precision: float32 master weights, bf16 products
  o.train.log_every = 1;
  o.train.checkpoint_every = 8;
  o.train.val_images = 8;
  o.train.image = {kSteps, 8, 1e-2, 2, 0.5, 0.0, 1.0};
  o.train.joint = {kSteps, 8, 1e-2, 2, 0.5, 0.01, 1.0, /*caption rows*/ 4, /*variants*/ 2};
  return o;
}

// `key` (a loss) per step of one stage from metrics.jsonl (the last row wins for a repeated step).
std::map<int64_t, double> Losses(const std::string& out, const std::string& stage,
                                 const std::string& key = "loss") {
  std::map<int64_t, double> losses;
  std::ifstream in(out + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json row = nlohmann::json::parse(line);
    if (row["stage"] == stage && row.contains(key)) losses[row["step"]] = row[key];
  }
  return losses;
}

double Mean(const std::map<int64_t, double>& losses, int64_t first, int64_t last) {
  double sum = 0;
  for (int64_t s = first; s <= last; ++s) sum += losses.at(s);
  return sum / static_cast<double>(last - first + 1);
}

void ExpectSameCheckpoint(const std::string& a, const std::string& b) {
  auto fa = ReadSafetensors(a), fb = ReadSafetensors(b);
  ASSERT_TRUE(fa.ok() && fb.ok()) << a << " / " << b;
  ASSERT_EQ(fa->tensors.size(), fb->tensors.size());
  for (const auto& [name, tensor] : fa->tensors) {
    EXPECT_EQ(tensor.data, fb->tensors.at(name).data) << name << " differs";
  }
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new TempDir;
    full_ = new TempDir;
    ASSERT_TRUE(WriteDataset(data_->path(), testing::SyntheticDataset()).ok());
    const Status status = RunTraining(Options(data_->path(), full_->path()));
    ASSERT_TRUE(status.ok()) << status;
  }
  static void TearDownTestSuite() {
    delete full_;
    delete data_;
  }
  static TempDir* data_;
  static TempDir* full_;  // one uninterrupted run of every stage
};
TempDir* PipelineTest::data_ = nullptr;
TempDir* PipelineTest::full_ = nullptr;

TEST_F(PipelineTest, EveryStageLowersItsLoss) {
  for (const char* stage : {"image", "joint"}) {
    const auto losses = Losses(full_->path(), stage);
    ASSERT_EQ(losses.size(), static_cast<size_t>(kSteps)) << stage;
    EXPECT_LT(Mean(losses, kSteps - 3, kSteps), 0.8 * Mean(losses, 1, 4)) << stage;
  }
  EXPECT_TRUE(std::filesystem::exists(full_->path() + "/tokenizer.model"));
}

// The joint stage logs the loss of each grid's first codes on its own (how much the prompt is
// used); it starts near a uniform guess over the codebook and falls.
TEST_F(PipelineTest, LogsTheLossOfTheFirstCodes) {
  const std::map<int64_t, double> first = Losses(full_->path(), "joint", "loss_t2i_first");
  ASSERT_EQ(first.size(), static_cast<size_t>(kSteps));
  const int codebook = model::testing::TinyModelConfig().transformer.image_codebook;
  const double uniform = std::log(static_cast<double>(codebook));
  EXPECT_NEAR(first.at(1), uniform, 0.5 * uniform);
  EXPECT_LT(Mean(first, kSteps - 3, kSteps), 0.8 * Mean(first, 1, 4));
}

TEST_F(PipelineTest, ExportsALoadableModel) {
  auto model = model::DuetModel::Load(full_->path() + "/model");
  ASSERT_TRUE(model.ok()) << model.status();
  model::GenerateOptions options;
  options.count = 2;
  auto drafts = (*model)->GenerateImages("red square", options);
  ASSERT_TRUE(drafts.ok()) << drafts.status();
  EXPECT_EQ(drafts->size(), 2u);
}

TEST_F(PipelineTest, ResumeContinuesExactlyWhereItStopped) {
  TempDir out;
  TrainOptions o = Options(data_->path(), out.path());
  o.until_step = 5;  // the image stage stops at step 5 (a checkpoint), nothing later runs
  ASSERT_TRUE(RunTraining(o).ok());
  EXPECT_EQ(LatestCheckpointStep(out.path() + "/image"), 5);
  EXPECT_FALSE(std::filesystem::exists(out.path() + "/joint"));
  o.until_step = 0;
  o.stage = "image";
  ASSERT_TRUE(RunTraining(o).ok());
  o.stage = "joint";
  o.until_step = 13;
  ASSERT_TRUE(RunTraining(o).ok());
  EXPECT_EQ(LatestCheckpointStep(out.path() + "/joint"), 13);
  o.stage = "all";
  o.until_step = 0;
  ASSERT_TRUE(RunTraining(o).ok());
  for (const char* stage : {"image", "joint"}) {
    ExpectSameCheckpoint(CheckpointPath(full_->path() + "/" + stage, kSteps),
                         CheckpointPath(out.path() + "/" + stage, kSteps));
    EXPECT_EQ(Losses(full_->path(), stage), Losses(out.path(), stage)) << stage;
  }
}

TEST_F(PipelineTest, Float32TrainsTheSameFunctionAsBf16) {
  // The first steps of each stage in float32 start from the same weights and batches as the bf16
  // run, so their losses agree within bf16's rounding (a few percent), and the run's config
  // records the dtype it used.
  TempDir out;
  TrainOptions o = Options(data_->path(), out.path());
  o.train.dtype = "float32";
  o.train.image.steps = 3;
  o.train.joint.steps = 3;
  o.train.image.warmup = o.train.joint.warmup = 2;
  ASSERT_TRUE(RunTraining(o).ok());
  for (const char* stage : {"image", "joint"}) {
    const auto f32 = Losses(out.path(), stage);
    const auto bf16 = Losses(full_->path(), stage);
    ASSERT_TRUE(f32.count(1) && bf16.count(1)) << stage;
    EXPECT_NEAR(f32.at(1), bf16.at(1), 0.05 * bf16.at(1)) << stage;
    EXPECT_NE(f32.at(1), bf16.at(1)) << stage << ": the bf16 run did not compute in bf16";
  }
  auto config = ReadJsonFile(out.path() + "/train_config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ((*config)["dtype"], "float32");
}

// The image stage can adopt a trained model's image tokenizer: the joint stage then trains on
// exactly those weights, and the exported model carries them.
TEST_F(PipelineTest, AdoptsTheImageTokenizerOfATrainedModel) {
  TempDir out;
  TrainOptions o = Options(data_->path(), out.path());
  o.image_tokenizer_from = full_->path() + "/model";
  o.stage = "image";
  ASSERT_TRUE(RunTraining(o).ok());
  EXPECT_EQ(LatestCheckpointStep(out.path() + "/image"), kSteps);
  EXPECT_TRUE(Losses(out.path(), "image").empty());  // nothing was trained
  auto adopted = ReadSafetensors(CheckpointPath(out.path() + "/image", kSteps));
  auto shipped = ReadSafetensors(full_->path() + "/model/model.safetensors");
  ASSERT_TRUE(adopted.ok() && shipped.ok());
  int compared = 0;
  for (const auto& [name, tensor] : adopted->tensors) {
    ASSERT_EQ(name.rfind("image_tokenizer.", 0), 0u) << name;
    EXPECT_EQ(tensor.data, shipped->tensors.at(name).data) << name;
    ++compared;
  }
  EXPECT_GT(compared, 4);

  TempDir other;
  o = Options(data_->path(), other.path());
  o.image_tokenizer_from = full_->path() + "/model";
  o.model.image_tokenizer.channels *= 2;  // a different tokenizer cannot be adopted
  o.model.Derive();
  const Status status = RunTraining(o);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_NE(status.message().find("image-tokenizer-from"), std::string::npos) << status;
}

// The joint stage can start from a trained model (fine-tuning): its first step already sees
// the trained weights. A different tokenizer or different shapes are refused by name.
TEST_F(PipelineTest, JointStageStartsFromATrainedModel) {
  const std::string model_dir = full_->path() + "/model";
  TempDir out;
  TrainOptions o = Options(data_->path(), out.path());
  o.image_tokenizer_from = model_dir;
  o.joint_init_from = model_dir;
  o.train.joint.steps = 2;
  const Status status = RunTraining(o);
  ASSERT_TRUE(status.ok()) << status;
  const auto tuned = Losses(out.path(), "joint");
  const auto scratch = Losses(full_->path(), "joint");
  ASSERT_TRUE(tuned.count(1) && scratch.count(1) && scratch.count(kSteps));
  // The first step's loss is computed before any update, so it is the shipped weights' loss.
  EXPECT_LT(tuned.at(1), 0.7 * scratch.at(1));
  EXPECT_LT(tuned.at(1), 1.5 * Mean(scratch, kSteps - 3, kSteps));
  // Without inherit_sampling the export has the run's own sampling defaults.
  auto exported = model::ReadModelConfig(out.path() + "/model");
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->sampling.guidance_scale, o.model.sampling.guidance_scale);

  // With it, the parent's: a fine-tune is sampled as the model it came from was tuned for.
  TempDir parent;
  std::filesystem::copy(model_dir, parent.path(), std::filesystem::copy_options::recursive);
  auto parent_config = ReadJsonFile(parent.path() + "/config.json");
  ASSERT_TRUE(parent_config.ok());
  (*parent_config)["sampling"] = {{"temperature", 0.5}, {"top_k", 7}, {"top_p", 0.9},
                                  {"guidance_scale", 1.7}};
  ASSERT_TRUE(WriteJsonFile(parent.path() + "/config.json", *parent_config).ok());
  TempDir inherited;
  o = Options(data_->path(), inherited.path());
  o.image_tokenizer_from = model_dir;
  o.joint_init_from = parent.path();
  o.inherit_sampling = true;
  o.train.joint.steps = 2;
  ASSERT_TRUE(RunTraining(o).ok());
  exported = model::ReadModelConfig(inherited.path() + "/model");
  ASSERT_TRUE(exported.ok()) << exported.status();
  EXPECT_FLOAT_EQ(exported->sampling.temperature, 0.5f);
  EXPECT_EQ(exported->sampling.top_k, 7);
  EXPECT_FLOAT_EQ(exported->sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(exported->sampling.guidance_scale, 1.7f);

  TempDir other_model;
  std::filesystem::copy(model_dir, other_model.path(),
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::overwrite_existing);
  std::ofstream(other_model.path() + "/tokenizer.model", std::ios::trunc) << "another tokenizer";
  TempDir refused;
  o = Options(data_->path(), refused.path());
  o.image_tokenizer_from = model_dir;
  o.joint_init_from = other_model.path();
  Status bad = RunTraining(o);
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_NE(bad.message().find("joint-init-from"), std::string::npos) << bad;
  EXPECT_NE(bad.message().find("tokenizer.model"), std::string::npos) << bad;

  TempDir reshaped;
  o = Options(data_->path(), reshaped.path());
  o.image_tokenizer_from = model_dir;
  o.joint_init_from = model_dir;
  o.model.transformer.d_ff *= 2;
  o.model.Derive();
  bad = RunTraining(o);
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_NE(bad.message().find("joint-init-from"), std::string::npos) << bad;
  EXPECT_NE(bad.message().find("shape"), std::string::npos) << bad;
}

TEST_F(PipelineTest, RejectsAModelThatDoesNotFitTheData) {
  TempDir out;
  TrainOptions o = Options(data_->path(), out.path());
  o.model.image_tokenizer.resolution = 32;
  o.model.Derive();
  EXPECT_TRUE(absl::IsInvalidArgument(RunTraining(o)));
  o = Options(data_->path(), out.path());
  o.stage = "joint";  // the image stage has not run
  EXPECT_TRUE(absl::IsFailedPrecondition(RunTraining(o)));
}

TEST_F(PipelineTest, EvaluationWritesJsonAndReport) {
  TempDir out;
  EvalOptions o;
  o.model_dir = full_->path() + "/model";
  o.data_dir = data_->path();
  o.json_path = out.path() + "/eval.json";
  o.report_path = out.path() + "/eval.md";
  o.judge_epochs = 3;
  o.drafts = 3;
  o.diversity_prompts = 2;
  o.rerank_candidates = 2;
  auto sweep = ParseSweep("guidance_scale=1,3;temperature=0,1", {});
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  o.sweep = *sweep;
  auto results = Evaluate(o);
  ASSERT_TRUE(results.ok()) << results.status();
  auto json = ReadJsonFile(o.json_path);
  ASSERT_TRUE(json.ok());
  const nlohmann::json& r = *json;
  EXPECT_GT(r["image_tokenizer"]["psnr"].get<double>(), 5.0);
  EXPECT_LE(r["image_tokenizer"]["ssim"].get<double>(), 1.0);
  const double usage = r["image_tokenizer"]["code_usage_all"];
  EXPECT_GT(usage, 0.0);
  EXPECT_LE(usage, 1.0);
  for (const char* lang : {"en", "ko"}) {
    for (const char* key : {"exact_match", "token_f1"}) {
      const double v = r["captioning"]["val"][lang][key];
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
    }
    const double top1 = r["text_to_image"][lang]["judge_top1"];
    const double top5 = r["text_to_image"][lang]["judge_top5"];
    EXPECT_LE(top1, top5);
    EXPECT_LE(top5, 1.0);
    EXPECT_GT(r["text_to_image"][lang]["n"].get<int>(), 0);
    EXPECT_GE(r["round_trip"][lang]["rate"].get<double>(), 0.0);
  }
  // The length buckets partition the prompts: their hits add up to both languages' hits.
  double hits = 0, bucket_hits = 0;
  int prompts = 0, bucketed = 0;
  for (const char* lang : {"en", "ko"}) {
    const int n = r["text_to_image"][lang]["n"];
    hits += r["text_to_image"][lang]["judge_top5"].get<double>() * n;
    prompts += n;
  }
  ASSERT_TRUE(r["text_to_image"]["by_prompt_tokens"].is_object());
  for (const auto& [bucket, row] : r["text_to_image"]["by_prompt_tokens"].items()) {
    bucket_hits += row["judge_top5"].get<double>() * row["n"].get<int>();
    bucketed += row["n"].get<int>();
  }
  EXPECT_EQ(bucketed, prompts);
  EXPECT_NEAR(bucket_hits, hits, 1e-6);
  EXPECT_GT(r["diversity"]["mean_pairwise_rms"].get<double>(), 0.0);  // temperature 1 varies
  EXPECT_TRUE(r["diversity"]["same_seed_identical"].get<bool>());
  EXPECT_GT(r["text_to_image"]["judge_real_val"]["top5"].get<double>(), 0.0);
  // The draft ceiling: the same trained-style images as judge_real_train_style, through the
  // image tokenizer.
  const auto& recon = r["text_to_image"]["judge_reconstructed_train_style"];
  ASSERT_TRUE(recon.is_object());
  EXPECT_EQ(recon["n"], r["text_to_image"]["judge_real_train_style"]["n"]);
  EXPECT_GT(recon["n"].get<int>(), 0);
  EXPECT_LE(recon["top1"].get<double>(), recon["top5"].get<double>());
  // The style split: every draft is in one of the two groups.
  const auto& by_style = r["text_to_image"]["by_draft_style"];
  ASSERT_TRUE(by_style.is_object());
  EXPECT_EQ(by_style["trained"]["n"].get<int>() + by_style["other"]["n"].get<int>(), prompts);
  const double style_accuracy =
      r["text_to_image"]["style_judge_real_val"]["accuracy"].get<double>();
  EXPECT_GE(style_accuracy, 0.0);
  EXPECT_LE(style_accuracy, 1.0);
  // Reranked: the best of rerank_candidates drafts of every prompt, judged per language.
  const auto& reranked = r["text_to_image"]["reranked"];
  ASSERT_TRUE(reranked.is_object());
  EXPECT_EQ(reranked["candidates"].get<int>(), 2);
  for (const char* by : {"by_completed_caption", "by_caption_score"}) {
    for (const char* lang : {"en", "ko"}) {
      const auto& row = reranked[by][lang];
      EXPECT_EQ(row["n"], r["text_to_image"][lang]["n"]) << by;
      EXPECT_LE(row["judge_top1"].get<double>(), row["judge_top5"].get<double>()) << by;
    }
  }
  // The sweep: every setting judged, the best one by mean top-5 named.
  ASSERT_EQ(r["sweep"].size(), 4u);
  double best = -1;
  for (const auto& row : r["sweep"]) best = std::max(best, row["mean_top5"].get<double>());
  EXPECT_EQ(r["sweep_best"]["mean_top5"].get<double>(), best);
  EXPECT_EQ(r["sweep"][0]["guidance_scale"].get<double>(), 1.0);
  EXPECT_EQ(r["sweep"][3]["temperature"].get<double>(), 1.0);
  auto report = ReadFile(o.report_path);
  ASSERT_TRUE(report.ok());
  EXPECT_NE(report->find("## Image tokenizer"), std::string::npos);
  EXPECT_NE(report->find("judge top-1"), std::string::npos);
  EXPECT_NE(report->find("by prompt length"), std::string::npos);
  EXPECT_NE(report->find("through the image tokenizer"), std::string::npos);
  EXPECT_NE(report->find("a second judge"), std::string::npos);
  EXPECT_NE(report->find("Reranked"), std::string::npos);
}

TEST(SweepTest, ParsesAGridAndNamesBadKeys) {
  model::SamplingDefaults base;
  base.top_k = 5;
  auto grid = ParseSweep("guidance_scale=1,2,3;temperature=0.5,1", base);
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_EQ(grid->size(), 6u);
  EXPECT_EQ((*grid)[5].guidance_scale, 3.0f);
  EXPECT_EQ((*grid)[5].temperature, 1.0f);
  EXPECT_EQ((*grid)[5].top_k, 5);  // unlisted keys keep the base
  EXPECT_NE(ParseSweep("guidence=1", base).status().message().find("guidence"), std::string::npos);
  EXPECT_NE(ParseSweep("top_k=a", base).status().message().find("top_k"), std::string::npos);
  EXPECT_FALSE(ParseSweep("top_k", base).ok());
}

}  // namespace
}  // namespace duet::training
