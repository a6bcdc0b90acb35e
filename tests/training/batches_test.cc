// The joint stage's batches: row counts per direction, prompts padded only to the batch's
// longest, augmented variants in range, and the same batch for the same (seed, step).
#include "training/batches.h"

#include "gtest/gtest.h"
#include "tests/training/synthetic_data.h"

namespace duet::training {
namespace {

// Concept i's prompts have 1 + i % 5 tokens; its caption target is 3 tokens.
CaptionTable Table(const Dataset& data) {
  CaptionTable table;
  for (size_t i = 0; i < data.concepts.size(); ++i) {
    std::vector<int64_t> prompt(1 + i % 5, 7 + static_cast<int64_t>(i));
    table.prompts.push_back({{{prompt}, {prompt}}});
    table.targets.push_back({5, 6, 2});
  }
  return table;
}

TEST(JointBatchTest, RowsPaddingAndVariants) {
  const Dataset data = testing::SyntheticDataset();
  const CaptionTable table = Table(data);
  const std::vector<int64_t> pool = data.Indices(Split::kTrain);
  JointBatchShape shape;
  shape.t2i_rows = 6;
  shape.i2t_rows = 3;
  shape.variants = 4;
  shape.caption_len = 5;
  bool saw_variant = false;
  for (int64_t step = 0; step < 20; ++step) {
    const JointBatch b = SampleJointBatch(table, data, pool, 1, step, shape);
    ASSERT_EQ(b.text_ids.size(0), 6);
    ASSERT_EQ(b.i2t_images.size(0), 3);
    ASSERT_EQ(b.targets.sizes(), (std::vector<int64_t>{3, 5}));
    // Padded to the longest prompt of a row that is not dropped, no wider.
    const torch::Tensor kept = b.text_lengths.masked_select(b.drop.logical_not());
    const int64_t longest = kept.numel() > 0 ? kept.max().item<int64_t>() : 1;
    EXPECT_EQ(b.text_ids.size(1), longest) << step;
    EXPECT_GE(b.i2t_variants.min().item<int64_t>(), 0);
    EXPECT_LE(b.i2t_variants.max().item<int64_t>(), 4);
    saw_variant |= b.i2t_variants.max().item<int64_t>() > 0;
    const JointBatch again = SampleJointBatch(table, data, pool, 1, step, shape);
    EXPECT_TRUE(torch::equal(b.text_ids, again.text_ids) && torch::equal(b.i2t_variants, again.i2t_variants));
  }
  EXPECT_TRUE(saw_variant);
  shape.variants = 0;
  EXPECT_EQ(SampleJointBatch(table, data, pool, 1, 0, shape).i2t_variants.max().item<int64_t>(), 0);
}

}  // namespace
}  // namespace duet::training
