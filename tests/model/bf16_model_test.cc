// The engine in bfloat16: same seed same bytes whatever the batch, the batched image decoder,
// BF16 checkpoints, and agreement with float32 within a stated tolerance.
#include <torch/torch.h>

#include "common/safetensors.h"
#include "gtest/gtest.h"
#include "model/duet_model.h"
#include "tests/model/tiny_duet.h"

namespace duet::model {
namespace {

using testing::TempDir;

class Bf16ModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::WriteTinyModel(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::unique_ptr<DuetModel> Load(torch::ScalarType dtype, const std::string& dir = "") {
    auto model = DuetModel::Load(dir.empty() ? dir_->path() : dir, dtype);
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? std::move(*model) : nullptr;
  }

  static GenerateOptions Options(int count, uint64_t seed) {
    return testing::DraftOptions(count, seed, 3.0f);
  }

  static TempDir* dir_;
};
TempDir* Bf16ModelTest::dir_ = nullptr;

TEST_F(Bf16ModelTest, LoadsInTheAskedDtype) {
  EXPECT_EQ(Load(torch::kBFloat16)->dtype(), torch::kBFloat16);
  EXPECT_EQ(Load(torch::kFloat32)->dtype(), torch::kFloat32);
}

TEST_F(Bf16ModelTest, DraftAloneEqualsTheDraftInABatchDownToThePngBytes) {
  auto model = Load(torch::kBFloat16);
  auto batch = model->GenerateImages("hat", Options(70, 500));  // crosses a 64-row chunk
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (int i : {0, 9, 63, 64, 69}) {
    auto alone = model->GenerateImages("hat", Options(1, 500 + i));
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*alone)[0].png, (*batch)[i].png) << "draft " << i;
  }
  EXPECT_NE((*batch)[0].png, (*batch)[1].png);
}

TEST_F(Bf16ModelTest, ImagesDecodeTheSameAloneAndInABatch) {
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto model = Load(dtype);
    const int64_t G = model->config().image_tokenizer.grid();
    torch::manual_seed(2);
    const int64_t n = ImagePipeline::kDecodeBatch + 6;  // one full decoder batch and a partial one
    const torch::Tensor codes = torch::randint(
        0, model->config().image_tokenizer.codebook_size(), {n, G, G}, torch::kInt64);
    auto all = model->image().DecodeCodes(codes);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), static_cast<size_t>(n));
    for (int64_t i : {int64_t{0}, int64_t{31}, n - 1}) {
      auto one = model->image().DecodeCodes(codes.narrow(0, i, 1));
      ASSERT_TRUE(one.ok());
      EXPECT_EQ((*one)[0].rgb, (*all)[i].rgb) << "image " << i << " " << c10::toString(dtype);
    }
  }
}

TEST_F(Bf16ModelTest, Bf16PixelsStayCloseToFloat32) {
  // The same codes through both decoders: bf16 keeps 8 significant bits, so pixels (0..255) may
  // move by a few levels; the bound is a mean of 2 levels and at most 24 anywhere.
  auto f32 = Load(torch::kFloat32);
  auto bf16 = Load(torch::kBFloat16);
  const int64_t G = f32->config().image_tokenizer.grid();
  torch::manual_seed(3);
  const torch::Tensor codes = torch::randint(
      0, f32->config().image_tokenizer.codebook_size(), {8, G, G}, torch::kInt64);
  auto a = f32->image().DecodeCodes(codes);
  auto b = bf16->image().DecodeCodes(codes);
  ASSERT_TRUE(a.ok() && b.ok());
  double total = 0, worst = 0, count = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    for (size_t p = 0; p < (*a)[i].rgb.size(); ++p) {
      const double d = std::abs(double((*a)[i].rgb[p]) - double((*b)[i].rgb[p]));
      total += d;
      worst = std::max(worst, d);
      ++count;
    }
  }
  EXPECT_LE(total / count, 2.0);
  EXPECT_LE(worst, 24.0);
}

TEST_F(Bf16ModelTest, Bf16CheckpointsSaveAsBf16AndLoadInEitherDtype) {
  auto bf16 = Load(torch::kBFloat16);
  TempDir saved;
  ASSERT_TRUE(bf16->Save(saved.path()).ok());
  auto file = ReadSafetensors(saved.path() + "/" + kWeightsFile);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors.at("transformer.layers.0.attention.qkv.weight").dtype, DType::kBF16);
  EXPECT_EQ(file->tensors.at("transformer.layers.0.norm1.weight").dtype, DType::kF32);
  EXPECT_EQ(file->tensors.at("transformer.image_embed.weight").dtype, DType::kF32);
  // Reloaded in bf16 it draws the very same bytes; in float32 it loads (BF16 widened) and runs.
  auto again = Load(torch::kBFloat16, saved.path());
  auto a = bf16->GenerateImages("hat", Options(3, 7));
  auto b = again->GenerateImages("hat", Options(3, 7));
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*a)[i].png, (*b)[i].png) << "draft " << i;
  auto widened = Load(torch::kFloat32, saved.path());
  ASSERT_NE(widened, nullptr);
  EXPECT_EQ(widened->dtype(), torch::kFloat32);
  EXPECT_TRUE(widened->GenerateImages("hat", Options(2, 7)).ok());
}

TEST_F(Bf16ModelTest, CaptionsAndScoresDoNotDependOnTheBatch) {
  auto model = Load(torch::kBFloat16);
  auto drafts = model->GenerateImages("hat", Options(5, 1));
  ASSERT_TRUE(drafts.ok());
  std::vector<std::string> images;
  for (const Draft& d : *drafts) images.push_back(d.png);
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  auto all = model->Caption(images, greedy);
  ASSERT_TRUE(all.ok()) << all.status();
  for (size_t i = 0; i < images.size(); ++i) {
    fusion::SamplingParams alone_sampling = greedy;
    alone_sampling.seed = i;  // image i of the batch used seed + i
    auto alone = model->Caption({images[i]}, alone_sampling);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*alone)[0].text, (*all)[i].text) << "image " << i;
    EXPECT_EQ((*alone)[0].score, (*all)[i].score) << "image " << i;  // bitwise
  }
}

}  // namespace
}  // namespace duet::model
