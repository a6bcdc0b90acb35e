// The image tokenizer: config JSON, FSQ index/code bijection, Encode/Decode contracts, gradients
// through the straight-through quantizer, a short overfit, and a checkpoint round trip.
#include "vision/image_tokenizer.h"

#include <set>

#include "common/tensor_io.h"
#include "gtest/gtest.h"

namespace duet::vision {
namespace {

// Small enough that the whole file runs in seconds on two cores: 16x16 images, 4x4 code grid.
ImageTokenizerConfig TinyConfig() {
  ImageTokenizerConfig config;
  config.resolution = 16;
  config.patch = 2;
  config.channels = 16;
  config.res_blocks = 1;
  return config;
}

// Four distinct smooth images in [-1, 1]: colour ramps and a disc.
torch::Tensor SyntheticImages() {
  const torch::Tensor ramp = torch::linspace(-1.0, 1.0, 16);
  const torch::Tensor x = ramp.view({1, 16}).expand({16, 16});
  const torch::Tensor y = ramp.view({16, 1}).expand({16, 16});
  const torch::Tensor disc = ((x * x + y * y) < 0.4).to(torch::kFloat32) * 1.6 - 0.8;
  return torch::stack({torch::stack({x, y, -x}), torch::stack({y, -y, x * y}),
                       torch::stack({disc, -disc, torch::zeros_like(x)}),
                       torch::stack({torch::full_like(x, 0.9), x, disc})});  // [4, 3, 16, 16]
}

TEST(ImageTokenizerConfig, DefaultsJsonAndValidation) {
  const ImageTokenizerConfig defaults;
  EXPECT_TRUE(defaults.Validate().ok());
  EXPECT_EQ(defaults.grid(), 8);
  EXPECT_EQ(defaults.codebook_size(), 1000);
  EXPECT_EQ(defaults.latent_channels(), 4);
  auto parsed = ImageTokenizerConfig::FromJson(TinyConfig().ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ToJson(), TinyConfig().ToJson());

  const Status unknown = ImageTokenizerConfig::FromJson({{"chanels", 8}}).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("'chanels'"), std::string::npos) << unknown;
  const Status type = ImageTokenizerConfig::FromJson({{"patch", "4"}}).status();
  EXPECT_NE(type.message().find("'patch'"), std::string::npos) << type;
  const Status levels = ImageTokenizerConfig::FromJson({{"fsq_levels", {8, 1}}}).status();
  EXPECT_NE(levels.message().find("fsq_levels"), std::string::npos) << levels;
  const Status divisible = ImageTokenizerConfig::FromJson({{"resolution", 20}}).status();
  EXPECT_NE(divisible.message().find("resolution"), std::string::npos) << divisible;
  EXPECT_FALSE(ImageTokenizerConfig::FromJson({{"latent_dim", 3}}).ok());
}

TEST(Fsq, IndicesAndCodesAreExactInversesOverTheWholeCodebook) {
  Fsq fsq(std::vector<int>{8, 5, 5, 5});
  ASSERT_EQ(fsq->codebook_size(), 1000);
  const torch::Tensor indices = torch::arange(1000, torch::kInt64).view({1, 1000});  // [B, N]
  const torch::Tensor codes = fsq->IndicesToCodes(indices);                          // [B, 4, N]
  ASSERT_EQ(codes.sizes(), (std::vector<int64_t>{1, 4, 1000}));
  EXPECT_TRUE(torch::equal(fsq->CodesToIndices(codes), indices));
  EXPECT_LE(codes.max().item<float>(), 1.0f);
  EXPECT_GE(codes.min().item<float>(), -1.0f);
  // Every quantizer output is one of the codes, and every level of every channel is reachable.
  const torch::Tensor latents = torch::linspace(-8.0, 8.0, 400).view({1, 1, 400}).repeat({1, 4, 1});
  const torch::Tensor quantized = fsq->forward(latents);
  EXPECT_TRUE(torch::equal(fsq->IndicesToCodes(fsq->CodesToIndices(quantized)), quantized));
  const std::vector<int> levels = {8, 5, 5, 5};
  for (int d = 0; d < 4; ++d) {
    EXPECT_EQ(std::get<0>(torch::_unique(quantized[0][d])).numel(), levels[d]) << "channel " << d;
  }
}

TEST(ImageTokenizer, EncodeAndDecodeShapesTypesAndRanges) {
  torch::manual_seed(0);
  ImageTokenizer tokenizer(TinyConfig());
  const torch::Tensor codes = tokenizer->Encode(SyntheticImages());
  ASSERT_EQ(codes.sizes(), (std::vector<int64_t>{4, 4, 4}));
  EXPECT_EQ(codes.scalar_type(), torch::kInt64);
  EXPECT_GE(codes.min().item<int64_t>(), 0);
  EXPECT_LT(codes.max().item<int64_t>(), 1000);
  const torch::Tensor images = tokenizer->Decode(torch::randint(0, 1000, {3, 4, 4}));
  ASSERT_EQ(images.sizes(), (std::vector<int64_t>{3, 3, 16, 16}));
  EXPECT_GE(images.min().item<float>(), -1.0f);
  EXPECT_LE(images.max().item<float>(), 1.0f);
  EXPECT_FALSE(images.requires_grad());
  EXPECT_THROW(tokenizer->Decode(torch::full({1, 4, 4}, 1000, torch::kInt64)), c10::Error);
  EXPECT_THROW(tokenizer->Decode(torch::zeros({1, 4, 5}, torch::kInt64)), c10::Error);
  EXPECT_THROW(tokenizer->Encode(torch::zeros({1, 3, 8, 8})), c10::Error);
}

TEST(ImageTokenizer, ParameterNamesAreStable) {
  ImageTokenizer tokenizer(TinyConfig());
  std::set<std::string> names;
  for (const auto& item : tokenizer->named_parameters()) names.insert(item.key());
  for (const char* name :
       {"encoder.stem.weight", "encoder.blocks_hi.0.conv1.weight", "encoder.blocks_hi.0.norm2.bias",
        "encoder.down.weight", "encoder.blocks_lo.0.conv2.bias", "encoder.norm_out.weight",
        "encoder.to_latent.weight", "decoder.from_latent.weight",
        "decoder.blocks_lo.0.conv1.weight", "decoder.up.weight", "decoder.blocks_hi.0.norm1.weight",
        "decoder.norm_out.bias", "decoder.to_pixels.weight"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
  EXPECT_EQ(tokenizer->named_parameters()["encoder.to_latent.weight"].size(0), 4);
  EXPECT_EQ(tokenizer->named_parameters()["decoder.to_pixels.weight"].size(0), 3 * 2 * 2);
}

TEST(ImageTokenizer, GradientReachesTheEncoderThroughTheQuantizer) {
  torch::manual_seed(1);
  ImageTokenizer tokenizer(TinyConfig());
  const torch::Tensor images = SyntheticImages();
  torch::mse_loss(tokenizer->forward(images), images).backward();
  for (const char* name : {"encoder.stem.weight", "encoder.to_latent.weight"}) {
    const torch::Tensor grad = tokenizer->named_parameters()[name].grad();
    ASSERT_TRUE(grad.defined()) << name;
    EXPECT_GT(grad.abs().sum().item<float>(), 0.0f) << name;
  }
}

TEST(ImageTokenizer, AdamOverfitsFourImages) {
  torch::manual_seed(2);
  ImageTokenizer tokenizer(TinyConfig());
  const torch::Tensor images = SyntheticImages();
  torch::optim::Adam adam(tokenizer->parameters(), torch::optim::AdamOptions(3e-3));
  const auto loss_fn = [&] {
    const torch::Tensor out = tokenizer->forward(images);
    return torch::l1_loss(out, images) + torch::mse_loss(out, images);
  };
  const float initial = loss_fn().item<float>();
  for (int step = 0; step < 30; ++step) {
    adam.zero_grad();
    const torch::Tensor loss = loss_fn();
    loss.backward();
    adam.step();
  }
  const float final_loss = loss_fn().item<float>();
  EXPECT_LT(final_loss, 0.7f * initial) << "initial " << initial << ", final " << final_loss;
}

TEST(ImageTokenizer, CheckpointRoundTripGivesIdenticalDecode) {
  torch::manual_seed(3);
  ImageTokenizer saved(TinyConfig());
  torch::manual_seed(4);
  ImageTokenizer loaded(TinyConfig());
  SafetensorsFile file;
  ASSERT_TRUE(SaveModule(*saved, "image_tokenizer.", &file).ok());
  EXPECT_EQ(file.tensors.count("image_tokenizer.decoder.to_pixels.weight"), 1u);
  auto parsed = ParseSafetensors(SerializeSafetensors(file));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const torch::Tensor codes = torch::randint(0, 1000, {2, 4, 4});
  EXPECT_FALSE(torch::equal(saved->Decode(codes), loaded->Decode(codes)));
  ASSERT_TRUE(LoadModule(*parsed, "image_tokenizer.", loaded.ptr().get()).ok());
  EXPECT_TRUE(torch::equal(saved->Decode(codes), loaded->Decode(codes)));
  EXPECT_TRUE(torch::equal(saved->Encode(SyntheticImages()), loaded->Encode(SyntheticImages())));
}

}  // namespace
}  // namespace duet::vision
