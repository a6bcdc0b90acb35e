// The in-process engine end to end on a tiny random model: determinism of drafts down to the PNG
// bytes, save/load, metadata, reranking, captions, and precise errors for bad input.
#include "model/duet_model.h"

#include <limits>
#include <map>

#include "gtest/gtest.h"
#include "tests/model/tiny_duet.h"
#include "vision/image_io.h"

namespace duet::model {
namespace {

using testing::TempDir;
using testing::WriteTinyModel;

class DuetModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    WriteTinyModel(dir_->path());
  }
  static void TearDownTestSuite() { delete dir_; }

  std::unique_ptr<DuetModel> Load() {
    auto model = DuetModel::Load(dir_->path());
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? std::move(*model) : nullptr;
  }

  static GenerateOptions Options(int count, uint64_t seed) {
    return testing::DraftOptions(count, seed);
  }

  static TempDir* dir_;
};
TempDir* DuetModelTest::dir_ = nullptr;

std::map<std::string, std::string> TextOf(const std::string& png) {
  auto text = vision::ReadPngText(png);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? std::map<std::string, std::string>(text->begin(), text->end())
                   : std::map<std::string, std::string>{};
}

TEST_F(DuetModelTest, SameSeedGivesByteIdenticalPngs) {
  auto a = Load(), b = Load();
  auto first = a->GenerateImages("a pumpkin-shaped hat", Options(3, 42));
  auto second = b->GenerateImages("a pumpkin-shaped hat", Options(3, 42));
  ASSERT_TRUE(first.ok() && second.ok()) << first.status() << second.status();
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*first)[i].png, (*second)[i].png) << i;
  EXPECT_NE((*first)[0].png, (*first)[1].png);  // Different seeds, different drafts.
}

TEST_F(DuetModelTest, DraftAloneEqualsDraftInBatch) {
  auto model = Load();
  auto batch = model->GenerateImages("호박 모양 모자", Options(5, 100));
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (int i : {0, 3, 4}) {
    auto alone = model->GenerateImages("호박 모양 모자", Options(1, 100 + i));
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*alone)[0].png, (*batch)[i].png) << "draft " << i;
    EXPECT_EQ((*batch)[i].seed, 100u + i);
  }
}

TEST_F(DuetModelTest, PngsCarryPromptSeedSettingsAndModel) {
  auto model = Load();
  GenerateOptions options = Options(2, 7);
  options.sampling.top_k = 5;
  auto drafts = model->GenerateImages("마술사 모자", options);
  ASSERT_TRUE(drafts.ok());
  auto image = vision::DecodeImage((*drafts)[1].png);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->width, 16);
  auto text = TextOf((*drafts)[1].png);
  EXPECT_EQ(text["prompt"], "마술사 모자");
  EXPECT_EQ(text["seed"], "8");
  EXPECT_EQ(text["top_k"], "5");
  EXPECT_EQ(text["guidance_scale"], "2");
  EXPECT_EQ(text["model"], "duet-test-tiny");
  EXPECT_NE(text["XML:com.adobe.xmp"].find("trainedAlgorithmicMedia"), std::string::npos);
}

TEST_F(DuetModelTest, RerankOrdersDraftsByScore) {
  auto model = Load();
  GenerateOptions options = Options(6, 3);
  options.rerank = true;
  auto drafts = model->GenerateImages("robot face", options);
  ASSERT_TRUE(drafts.ok());
  for (size_t i = 1; i < drafts->size(); ++i) {
    EXPECT_GE((*drafts)[i - 1].score, (*drafts)[i].score);
    EXPECT_LT((*drafts)[i].score, 0.0);
  }
  EXPECT_EQ(TextOf((*drafts)[0].png).count("score"), 1u);
}

TEST_F(DuetModelTest, SaveLoadRoundTripKeepsOutputs) {
  auto model = Load();
  TempDir copy;
  ASSERT_TRUE(model->Save(copy.path()).ok());
  auto reloaded = DuetModel::Load(copy.path());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  auto a = model->GenerateImages("a cup of coffee", Options(1, 9));
  auto b = (*reloaded)->GenerateImages("a cup of coffee", Options(1, 9));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].png, (*b)[0].png);
}

TEST_F(DuetModelTest, CaptionsImagesAndScoresThem) {
  auto model = Load();
  auto drafts = model->GenerateImages("a white rabbit", Options(2, 1));
  ASSERT_TRUE(drafts.ok());
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  auto captions = model->Caption({(*drafts)[0].png, (*drafts)[1].png}, greedy);
  ASSERT_TRUE(captions.ok()) << captions.status();
  ASSERT_EQ(captions->size(), 2u);
  for (const CaptionResult& c : *captions) EXPECT_LT(c.score, 0.0);
  // Greedy captioning is deterministic; the score may differ in the last float32 bits with the
  // batch size (BLAS blocking), the text may not.
  auto again = model->Caption({(*drafts)[0].png}, greedy);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].text, (*captions)[0].text);
  EXPECT_NEAR((*again)[0].score, (*captions)[0].score, 1e-4);
}

TEST_F(DuetModelTest, BadInputIsNamed) {
  auto model = Load();
  GenerateOptions options = Options(0, 1);
  EXPECT_NE(model->GenerateImages("hat", options).status().message().find("count must be in [1, 256]"),
            std::string::npos);
  options = Options(1, 1);
  options.sampling.temperature = -1;
  EXPECT_NE(model->GenerateImages("hat", options).status().message().find("temperature"),
            std::string::npos);
  EXPECT_NE(model->GenerateImages("", Options(1, 1)).status().message().find("empty"),
            std::string::npos);
  EXPECT_NE(model->GenerateImages("\xC0\xAF", Options(1, 1)).status().message().find("UTF-8"),
            std::string::npos);
  const std::string long_prompt(400, 'x');
  EXPECT_NE(model->GenerateImages(long_prompt, Options(1, 1)).status().message().find("limit"),
            std::string::npos);
  EXPECT_NE(model->GenerateImages(std::string("hat\0x", 5), Options(1, 1)).status().message().find(
                "prompt has a NUL byte at offset 3"),
            std::string::npos);
  // Token ids are range-checked in int64: 2^32 + 5 is not id 5, and 2^63 - 1 is named as itself.
  for (const int64_t id : {(int64_t{1} << 32) + 5, std::numeric_limits<int64_t>::max()}) {
    const auto text = model->text().Detokenize({4, id});
    ASSERT_FALSE(text.ok()) << id;
    EXPECT_NE(text.status().message().find("token id " + std::to_string(id) + " at position 1"),
              std::string::npos)
        << text.status();
  }
  const auto status = model->Caption({"GIF89a......"}, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("image 0"), std::string::npos) << status;
}

TEST(DuetModelLoad, MissingOrInconsistentDirectoriesAreErrors) {
  EXPECT_EQ(DuetModel::Load("/nonexistent/duet").status().code(), absl::StatusCode::kNotFound);
  ModelConfig config = testing::TinyModelConfig();
  config.transformer.image_grid = 3;
  const Status status = config.Validate();
  EXPECT_NE(status.message().find("transformer.image_grid"), std::string::npos) << status;
}

TEST(ModelConfigTest, SamplingDefaultsRoundTripAndAreChecked) {
  ModelConfig config = testing::TinyModelConfig();
  config.sampling = {0.8f, 12, 0.9f, 3.0f};
  auto back = ModelConfig::FromJson(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FLOAT_EQ(back->sampling.temperature, 0.8f);
  EXPECT_EQ(back->sampling.top_k, 12);
  EXPECT_FLOAT_EQ(back->sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(back->sampling.guidance_scale, 3.0f);
  // Without the key, the neutral settings: temperature 1, no top-k or top-p, no guidance.
  nlohmann::json json = config.ToJson();
  json.erase("sampling");
  back = ModelConfig::FromJson(json);
  ASSERT_TRUE(back.ok());
  EXPECT_FLOAT_EQ(back->sampling.guidance_scale, 1.0f);
  EXPECT_EQ(back->sampling.top_k, 0);
  for (const auto& [bad, field] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"guidance_scale", 99}}, "guidance"},
           {{{"top_k", 1.5}}, "sampling.top_k"},
           {{{"tempreature", 1}}, "sampling.tempreature"},
           {{{"top_p", 0}}, "top_p"}}) {
    json["sampling"] = bad;
    const auto status = ModelConfig::FromJson(json).status();
    EXPECT_NE(status.message().find(field), std::string::npos) << bad << ": " << status;
  }
  // Overrides: set fields win, unset ones come from the defaults; the seed is the request's.
  SamplingOverrides o;
  o.guidance_scale = 1.0f;
  o.seed = 9;
  const fusion::SamplingParams p = o.Resolve(config.sampling);
  EXPECT_FLOAT_EQ(p.guidance_scale, 1.0f);
  EXPECT_FLOAT_EQ(p.temperature, 0.8f);
  EXPECT_EQ(p.top_k, 12);
  EXPECT_EQ(p.seed, 9u);
}

}  // namespace
}  // namespace duet::model
