// The torch bridge: tensors and modules survive a safetensors round trip bit for bit.
#include "common/tensor_io.h"

#include "gtest/gtest.h"

namespace duet {
namespace {

TEST(TensorIo, TensorRoundTripKeepsDtypeShapeAndBits) {
  for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16, torch::kFloat64}) {
    const torch::Tensor t = torch::randn({3, 4, 5}).to(dtype).transpose(0, 2);  // Non-contiguous.
    auto raw = FromTorch(t);
    ASSERT_TRUE(raw.ok()) << raw.status();
    auto back = ToTorch(*raw);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->scalar_type(), dtype);
    EXPECT_TRUE(torch::equal(*back, t));
  }
  auto ids = FromTorch(torch::arange(7, torch::kInt64));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->dtype, DType::kI64);
}

TEST(TensorIo, ModuleRoundTripThroughBytes) {
  torch::nn::Sequential a(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
  torch::nn::Sequential b(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
  a->train();
  a->forward(torch::randn({8, 4}));  // Moves the running statistics (buffers).
  SafetensorsFile file;
  ASSERT_TRUE(SaveModule(*a, "m.", &file).ok());
  auto parsed = ParseSafetensors(SerializeSafetensors(file));
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(LoadModule(*parsed, "m.", b.ptr().get()).ok());
  const torch::Tensor x = torch::randn({5, 4});
  a->eval();
  b->eval();
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
}

TEST(TensorIo, LoadModuleNamesMissingAndMismatchedTensors) {
  torch::nn::Linear small(4, 3), big(5, 3);
  SafetensorsFile file;
  ASSERT_TRUE(SaveModule(*small, "", &file).ok());
  const Status mismatch = LoadModule(file, "", big.ptr().get());
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.message().find("weight"), std::string::npos) << mismatch;
  file.tensors.erase("bias");
  const Status missing = LoadModule(file, "", small.ptr().get());
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("bias"), std::string::npos) << missing;
}

}  // namespace
}  // namespace duet
