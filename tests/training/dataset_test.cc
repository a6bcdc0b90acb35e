// Tests of the dataset shards (write/read, split) and of the emoji builder on fake npm packages.
#include <filesystem>
#include <set>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/model/tiny_duet.h"
#include "tests/training/synthetic_data.h"
#include "training/emoji_sources.h"
#include "vision/png_codec.h"

namespace duet::training {
namespace {

using model::testing::TempDir;

TEST(DatasetTest, ShardsRoundTripExactly) {
  const Dataset d = testing::SyntheticDataset();
  TempDir dir;
  ASSERT_TRUE(WriteDataset(dir.path(), d, /*shard_size=*/5).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/shard-00004.safetensors"));  // 24 / 5 -> 5
  auto read = ReadDataset(dir.path());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(torch::equal(read->images, d.images));
  EXPECT_TRUE(torch::equal(read->ids, d.ids));
  EXPECT_TRUE(torch::equal(read->styles, d.styles));
  EXPECT_TRUE(torch::equal(read->split, d.split));
  EXPECT_EQ(read->style_names, d.style_names);
  ASSERT_EQ(read->concepts.size(), d.concepts.size());
  EXPECT_EQ(read->concepts[5].ko, d.concepts[5].ko);
  auto split = ReadJsonFile(dir.path() + "/split.json");
  ASSERT_TRUE(split.ok());
  EXPECT_EQ((*split)["val_images"].get<size_t>(), d.Indices(Split::kVal).size());
}

TEST(DatasetTest, HeldOutConceptsKeepExactlyOneStyleInTraining) {
  Dataset d = testing::SyntheticDataset();
  AssignSplit(&d, 0.5, 11);
  const torch::Tensor first = d.split.clone();
  AssignSplit(&d, 0.5, 11);
  EXPECT_TRUE(torch::equal(first, d.split));      // deterministic
  std::map<int64_t, std::pair<int, int>> counts;  // id -> (train, val)
  for (int64_t i = 0; i < d.size(); ++i) {
    auto& c = counts[d.ids[i].item<int64_t>()];
    (d.split[i].item<int>() == 0 ? c.first : c.second) += 1;
  }
  int held_out = 0;
  for (const auto& [id, c] : counts) {
    EXPECT_GE(c.first, 1) << "concept " << id << " has no training image";
    if (c.second > 0) ++held_out;
  }
  EXPECT_GT(held_out, 0);
  EXPECT_LT(held_out, testing::kSyntheticConcepts);
  AssignSplit(&d, 0.0, 11);
  EXPECT_EQ(d.split.sum().item<int64_t>(), 0);
}

TEST(DatasetTest, RejectsInconsistentDatasets) {
  Dataset d = testing::SyntheticDataset();
  d.concepts[3].ko.clear();
  EXPECT_FALSE(CheckDataset(d).ok());
  d = testing::SyntheticDataset();
  d.ids[0] = 99;
  EXPECT_FALSE(CheckDataset(d).ok());
  TempDir dir;
  EXPECT_TRUE(absl::IsNotFound(ReadDataset(dir.path()).status()));
}

TEST(EmojiSourcesTest, NormalizesHexcodes) {
  EXPECT_EQ(NormalizeHexcode("1f3f3-FE0F-200d-1f308"), "1F3F3-200D-1F308");
  EXPECT_EQ(NormalizeHexcode("2764-fe0f"), "2764");
}

void WritePng(const std::string& path, uint8_t value) {
  vision::Image image{64, 64, std::vector<uint8_t>(64 * 64 * 3, value)};
  auto png = vision::EncodePng(image);
  ASSERT_TRUE(png.ok());
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  ASSERT_TRUE(WriteFileAtomic(path, *png).ok());
}

TEST(EmojiSourcesTest, JoinsPackagesOnTheCodePointSequence) {
  TempDir dir;
  const std::string root = dir.path() + "/";
  const nlohmann::json emoji = nlohmann::json::array(
      {{{"name", "ROBOT FACE"},
        {"unified", "1F916"},
        {"image", "1f916.png"},
        {"short_names", {"robot_face"}},
        {"category", "Smileys & Emotion"},
        {"sort_order", 2}},
       {{"name", "JACK-O-LANTERN"},
        {"unified", "1F383"},
        {"image", "1f383.png"},
        {"short_names", {"jack_o_lantern"}},
        {"category", "Activities"},
        {"sort_order", 1}},
       {{"name", "NO KOREAN"}, {"unified", "1F600"}, {"image", "1f600.png"}, {"sort_order", 3}}});
  std::filesystem::create_directories(root + "emoji-datasource/package");
  ASSERT_TRUE(WriteJsonFile(root + kEmojiJson, emoji).ok());
  std::filesystem::create_directories(root + "emojibase-data/package/en");
  std::filesystem::create_directories(root + "emojibase-data/package/ko");
  ASSERT_TRUE(
      WriteJsonFile(root + kEmojibaseEn,
                    nlohmann::json::array(
                        {{{"label", "robot"}, {"hexcode", "1F916"}, {"tags", {"face", "monster"}}},
                         {{"label", "jack-o-lantern"},
                          {"hexcode", "1F383"},
                          {"tags", {"halloween", "pumpkin"}}}}))
          .ok());
  ASSERT_TRUE(WriteJsonFile(root + kEmojibaseKo,
                            nlohmann::json::array(
                                {{{"label", "로봇 얼굴"}, {"hexcode", "1F916"}, {"tags", {"로봇"}}},
                                 {{"label", "할로윈"}, {"hexcode", "1F383"}, {"tags", {"호박"}}}}))
                  .ok());
  WritePng(root + kGoogleImages + "/1f916.png", 10);
  WritePng(root + kTwitterImages + "/1f916.png", 20);
  WritePng(root + kGoogleImages + "/1f383.png", 30);  // no Twitter image for this one
  EmojiBuildReport report;
  auto d = BuildEmojiDataset({dir.path(), false, 64}, &report);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(report.concepts, 2);
  EXPECT_EQ(report.images, 3);
  EXPECT_EQ(report.skipped_no_korean, 1);
  EXPECT_EQ(report.missing_images, 1);
  ASSERT_EQ(d->concepts.size(), 2u);
  EXPECT_EQ(d->concepts[0].key, "1F383");  // sort_order 1 first
  EXPECT_EQ(d->concepts[0].en,
            (std::vector<std::string>{"jack-o-lantern", "jack o lantern", "halloween", "pumpkin"}));
  EXPECT_EQ(d->concepts[1].en[0], "robot");
  EXPECT_EQ(d->concepts[1].en[1], "robot face");
  EXPECT_EQ(d->concepts[1].ko, (std::vector<std::string>{"로봇 얼굴", "로봇"}));
  EXPECT_EQ(d->images[0][5][5][0].item<int>(), 30);
  EXPECT_EQ(d->styles[2].item<int>(), 1);
  EXPECT_TRUE(CheckDataset(*d).ok());
}

}  // namespace
}  // namespace duet::training
