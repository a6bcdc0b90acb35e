// Golden test: the C++ transformer against the independent Python reference in
// tests/reference/transformer_ref.py (float64), on the tiny random model it wrote to testdata.
#include "common/file.h"
#include "common/safetensors.h"
#include "common/tensor_io.h"
#include "fusion/transformer.h"
#include "gtest/gtest.h"

namespace duet::fusion {
namespace {

const std::string kDir = std::string(DUET_TESTDATA_DIR) + "/transformer/";

class GoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto json = ReadJsonFile(kDir + "config.json");
    ASSERT_TRUE(json.ok()) << json.status();
    auto config = TransformerConfig::FromJson(*json);
    ASSERT_TRUE(config.ok()) << config.status();
    model_ = MultimodalTransformer(*config);
    auto weights = ReadSafetensors(kDir + "weights.safetensors");
    ASSERT_TRUE(weights.ok()) << weights.status();
    ASSERT_TRUE(LoadModule(*weights, "", model_.ptr().get()).ok());
    model_->eval();
    auto golden = ReadSafetensors(kDir + "golden.safetensors");
    ASSERT_TRUE(golden.ok()) << golden.status();
    for (const auto& [name, raw] : golden->tensors) golden_[name] = *ToTorch(raw);
  }

  // |cpp - ref| <= 1e-5 * max(1, |ref|) everywhere.
  static void ExpectClose(const torch::Tensor& cpp, const torch::Tensor& ref) {
    ASSERT_EQ(cpp.sizes(), ref.sizes());
    const torch::Tensor bound = 1e-5 * ref.abs().clamp_min(1.0);
    const torch::Tensor excess = (cpp.to(torch::kFloat64) - ref).abs() - bound;
    EXPECT_LE(excess.max().item<double>(), 0.0)
        << "max abs diff " << (cpp.to(torch::kFloat64) - ref).abs().max().item<double>();
    EXPECT_GT(ref.abs().max().item<double>(), 0.1);  // The reference is not trivially zero.
  }

  MultimodalTransformer model_{nullptr};
  std::map<std::string, torch::Tensor> golden_;
};

TEST_F(GoldenTest, TextToImageLogitsMatchReference) {
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model_->TextToImageLogits(
      golden_["text"], golden_["lengths"], golden_["codes"], golden_["drop"].to(torch::kBool));
  ExpectClose(logits, golden_["text_to_image_logits"]);
}

TEST_F(GoldenTest, ImageToTextLogitsMatchReference) {
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model_->ImageToTextLogits(golden_["codes"], golden_["targets"]);
  ExpectClose(logits, golden_["image_to_text_logits"]);
}

TEST_F(GoldenTest, TorchPathMatchesReferenceToo) {
  // With gradients on, attention takes the differentiable torch path instead of kernels/.
  const torch::Tensor logits = model_->ImageToTextLogits(golden_["codes"], golden_["targets"]);
  ASSERT_TRUE(logits.requires_grad());
  ExpectClose(logits.detach(), golden_["image_to_text_logits"]);
}

}  // namespace
}  // namespace duet::fusion
