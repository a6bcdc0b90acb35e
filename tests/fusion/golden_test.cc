// Golden test: the C++ transformer against the independent Python reference in
// tests/reference/transformer_ref.py (float64), on the tiny random model it wrote to testdata.
#include "common/file.h"
#include "common/mixed_precision.h"
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

  // The bfloat16 tolerance: bf16 keeps 8 significant bits (relative step 2^-8), and the golden
  // model's weights (std 0.3) make the logits large, so the bound is relative to the largest
  // reference logit: max error <= 3% of it and mean error <= 0.5% of it (measured: 1.1% and
  // 0.25%). float32 stays far inside (1e-5, above), so the ComputesInBf16 test below is what
  // proves the products really run in bf16.
  static void ExpectBf16Close(const torch::Tensor& bf16, const torch::Tensor& ref) {
    ASSERT_EQ(bf16.sizes(), ref.sizes());
    ASSERT_EQ(bf16.scalar_type(), torch::kFloat32);  // logits stay float32
    const double scale = ref.abs().max().item<double>();
    const torch::Tensor error = (bf16.to(torch::kFloat64) - ref).abs();
    EXPECT_LE(error.max().item<double>(), 0.03 * scale) << "scale " << scale;
    EXPECT_LE(error.mean().item<double>(), 0.005 * scale) << "scale " << scale;
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

TEST_F(GoldenTest, Bf16InferenceMatchesReferenceWithinTolerance) {
  torch::NoGradGuard no_grad;
  ConvertForInference(*model_, torch::kBFloat16);
  ASSERT_EQ(model_->ComputeDtype(), torch::kBFloat16);
  ExpectBf16Close(model_->TextToImageLogits(golden_["text"], golden_["lengths"], golden_["codes"],
                                            golden_["drop"].to(torch::kBool)),
                  golden_["text_to_image_logits"]);
  ExpectBf16Close(model_->ImageToTextLogits(golden_["codes"], golden_["targets"]),
                  golden_["image_to_text_logits"]);
}

TEST_F(GoldenTest, Bf16TrainingPathMatchesReferenceWithinTolerance) {
  // Training: float32 master weights, products cast to bf16 per call, gradients on.
  ComputeDtypeScope scope(torch::kBFloat16);
  ASSERT_EQ(model_->ComputeDtype(), torch::kBFloat16);
  const torch::Tensor logits = model_->ImageToTextLogits(golden_["codes"], golden_["targets"]);
  ASSERT_TRUE(logits.requires_grad());
  ExpectBf16Close(logits.detach(), golden_["image_to_text_logits"]);
  logits.sum().backward();
  for (const auto& p : model_->parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    if (p.grad().defined()) EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
  }
}

TEST_F(GoldenTest, ComputesInBf16) {
  // The bf16 model's logits differ from float32's by more than float32 rounding: proof that the
  // products really ran in bf16 (and a guard against the tolerance above hiding a float32 path).
  torch::NoGradGuard no_grad;
  const torch::Tensor f32 = model_->ImageToTextLogits(golden_["codes"], golden_["targets"]);
  ConvertForInference(*model_, torch::kBFloat16);
  const torch::Tensor bf16 = model_->ImageToTextLogits(golden_["codes"], golden_["targets"]);
  EXPECT_GT((bf16 - f32).abs().max().item<double>(), 1e-3 * f32.abs().max().item<double>());
}

}  // namespace
}  // namespace duet::fusion
