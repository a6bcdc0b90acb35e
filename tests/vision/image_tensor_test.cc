// Images <-> [B, 3, H, W] tensors in [-1, 1]: exact round trips, value mapping, size checks.
#include "vision/image_tensor.h"

#include <random>

#include "gtest/gtest.h"

namespace duet::vision {
namespace {

Image RandomImage(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  Image image{width, height, std::vector<uint8_t>(size_t{3} * width * height)};
  for (auto& v : image.rgb) v = static_cast<uint8_t>(rng());
  return image;
}

TEST(ImageTensor, RoundTripIsExactAndLayoutIsChannelsFirst) {
  const std::vector<Image> images = {RandomImage(5, 3, 1), RandomImage(5, 3, 2)};
  auto tensor = ImagesToTensor(images);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  ASSERT_EQ(tensor->sizes(), (std::vector<int64_t>{2, 3, 3, 5}));
  EXPECT_EQ(tensor->scalar_type(), torch::kFloat32);
  // images[1], pixel (x=4, y=2), channel G.
  const uint8_t g = images[1].rgb[(2 * 5 + 4) * 3 + 1];
  EXPECT_FLOAT_EQ((*tensor)[1][1][2][4].item<float>(), g / 127.5f - 1.0f);
  const std::vector<Image> back = TensorToImages(*tensor);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].width, 5);
  EXPECT_EQ(back[0].height, 3);
  EXPECT_EQ(back[0].rgb, images[0].rgb);
  EXPECT_EQ(back[1].rgb, images[1].rgb);
}

TEST(ImageTensor, TensorToImagesClampsAndRounds) {
  torch::Tensor t = torch::zeros({1, 3, 1, 4});
  t[0][0] = torch::tensor({-3.0f, 5.0f, 0.0f, 1.0f / 127.5f * 0.4f - 1.0f});
  const Image image = TensorToImages(t)[0];
  EXPECT_EQ(image.rgb[0], 0);    // Clamped below.
  EXPECT_EQ(image.rgb[3], 255);  // Clamped above.
  EXPECT_EQ(image.rgb[6], 128);  // 127.5 rounds to the even 128.
  EXPECT_EQ(image.rgb[9], 0);    // 0.4 rounds to 0.
  EXPECT_THROW(TensorToImages(torch::zeros({1, 4, 2, 2})), c10::Error);
}

TEST(ImageTensor, RejectsMixedSizesEmptyAndMalformed) {
  EXPECT_EQ(ImagesToTensor({}).status().code(), absl::StatusCode::kInvalidArgument);
  const Status mixed = ImagesToTensor({RandomImage(4, 4, 1), RandomImage(4, 5, 2)}).status();
  EXPECT_EQ(mixed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.message().find("images[1] is 4x5"), std::string::npos) << mixed;
  Image broken = RandomImage(4, 4, 3);
  broken.rgb.pop_back();
  EXPECT_EQ(ImagesToTensor({broken}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace duet::vision
