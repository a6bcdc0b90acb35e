// The default model shipped in assets/models/duet-emoji: it fits the size budget, loads, draws
// the same bytes for the same seed and different drafts for different seeds, and names the
// emoji it was trained on (assets/samples/) in both languages.
#include <filesystem>

#include "common/file.h"
#include "gtest/gtest.h"
#include "model/duet_model.h"

namespace duet::model {
namespace {

const std::string kModelDir = std::string(DUET_SOURCE_DIR) + "/assets/models/duet-emoji";
const std::string kSamples = std::string(DUET_SOURCE_DIR) + "/assets/samples/";

class DefaultModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = DuetModel::Load(kModelDir);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    model_ = loaded->release();
  }
  static void TearDownTestSuite() { delete model_; }

  static std::vector<Draft> Generate(const std::string& prompt, int count, uint64_t seed) {
    GenerateOptions options;
    options.count = count;
    options.sampling.seed = seed;
    options.sampling.guidance_scale = 3.0f;
    auto drafts = model_->GenerateImages(prompt, options);
    EXPECT_TRUE(drafts.ok()) << drafts.status();
    return drafts.ok() ? *drafts : std::vector<Draft>{};
  }

  static DuetModel* model_;
};

DuetModel* DefaultModelTest::model_ = nullptr;

TEST_F(DefaultModelTest, FitsTheSizeBudgetAndShipsItsCard) {
  uintmax_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kModelDir)) {
    bytes += entry.file_size();
  }
  EXPECT_LE(bytes, uintmax_t{64} << 20);
  EXPECT_TRUE(std::filesystem::exists(kModelDir + "/MODEL_CARD.md"));
  EXPECT_EQ(model_->config().name, "duet-emoji");
}

TEST_F(DefaultModelTest, SameSeedSameBytesDifferentSeedsDifferentDrafts) {
  const std::vector<Draft> first = Generate("jack-o-lantern", 3, 42);
  const std::vector<Draft> again = Generate("jack-o-lantern", 3, 42);
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(again.size(), 3u);
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].png, again[i].png) << "draft " << i;
  EXPECT_NE(first[0].png, first[1].png);
  EXPECT_NE(first[1].png, first[2].png);
}

TEST_F(DefaultModelTest, NamesTrainedEmojiInBothLanguages) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"noto_jack_o_lantern.png", "jack-o-lantern | 할로윈"},
      {"twemoji_top_hat.png", "top hat | 마술사 모자"},
      {"twemoji_racing_car.png", "racing car | 경주용 자동차"},
  };
  std::vector<std::string> images;
  for (const auto& [file, caption] : cases) {
    auto bytes = ReadFile(kSamples + file);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    images.push_back(*bytes);
  }
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  auto captions = model_->Caption(images, greedy);
  ASSERT_TRUE(captions.ok()) << captions.status();
  ASSERT_EQ(captions->size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ((*captions)[i].text, cases[i].second) << cases[i].first;
  }
}

}  // namespace
}  // namespace duet::model
