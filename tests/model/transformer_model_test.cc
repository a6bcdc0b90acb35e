// model/transformer_model.h: the transformer read alone from a model directory is the one the
// whole model loads, in the asked dtype; device choice and its errors.
#include "model/transformer_model.h"

#include "gtest/gtest.h"
#include "model/duet_model.h"
#include "tests/model/tiny_duet.h"

namespace duet::model {
namespace {

using testing::TempDir;
using testing::WriteTinyModel;

TEST(TransformerModelTest, LoadsTheSameWeightsAsTheWholeModel) {
  TempDir dir;
  WriteTinyModel(dir.path());
  for (torch::ScalarType dtype : {torch::kFloat32, torch::kBFloat16}) {
    auto alone = LoadTransformer(dir.path(), dtype);
    auto whole = DuetModel::Load(dir.path(), dtype);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_TRUE(whole.ok()) << whole.status();
    EXPECT_EQ(alone->config.ToJson(), (*whole)->config().ToJson());
    EXPECT_EQ(alone->transformer->ComputeDtype(), dtype);
    EXPECT_FALSE(alone->transformer->is_training());
    const auto mine = alone->transformer->named_parameters();
    const auto theirs = (*whole)->transformer()->named_parameters();
    ASSERT_EQ(mine.size(), theirs.size());
    ASSERT_GT(mine.size(), 0u);
    for (const auto& item : theirs) {
      const torch::Tensor* other = mine.find(item.key());
      ASSERT_NE(other, nullptr) << item.key();
      EXPECT_EQ(other->dtype(), item.value().dtype()) << item.key();
      EXPECT_TRUE(torch::equal(*other, item.value())) << item.key();
    }
  }
}

TEST(TransformerModelTest, MissingWeightsNameTheFile) {
  TempDir dir;
  WriteTinyModel(dir.path());
  std::filesystem::remove(dir.path() + "/" + kWeightsFile);
  auto model = LoadTransformer(dir.path(), torch::kFloat32);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(std::string(model.status().message()).find(kWeightsFile), std::string::npos)
      << model.status();
}

TEST(TransformerModelTest, ChooseDevice) {
  auto cpu = ChooseDevice("cpu", "--device");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_TRUE(cpu->is_cpu());
  auto automatic = ChooseDevice("auto", "--device");
  ASSERT_TRUE(automatic.ok()) << automatic.status();
  EXPECT_EQ(automatic->is_cuda(), torch::cuda::is_available());

  auto bad = ChooseDevice("gpu", "--device");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("--device must be auto, cpu or cuda"),
            std::string::npos)
      << bad.status();
  if (!torch::cuda::is_available()) {
    auto cuda = ChooseDevice("cuda", "--device");
    ASSERT_FALSE(cuda.ok());
    EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition) << cuda.status();
  }
}

}  // namespace
}  // namespace duet::model
