// Augmented variants for image->text training: deterministic, different per variant, close to
// the original, never a change of hue, and white where a shift uncovers the background.
#include "training/augment.h"

#include "gtest/gtest.h"

namespace duet::training {
namespace {

// Two 32x32 images: a red disc on white and a blue square on white.
torch::Tensor TwoImages() {
  torch::Tensor images = torch::full({2, 32, 32, 3}, 255, torch::kUInt8);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      if ((x - 16) * (x - 16) + (y - 16) * (y - 16) < 64) {
        images[0][y][x] = torch::tensor({220, 30, 30}, torch::kUInt8);
      }
      if (x >= 10 && x < 22 && y >= 10 && y < 22) {
        images[1][y][x] = torch::tensor({20, 40, 230}, torch::kUInt8);
      }
    }
  }
  return images;
}

double MeanAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().mean().item<double>();
}

TEST(Augment, SameSeedAndVariantGiveTheSameBytes) {
  const torch::Tensor images = TwoImages();
  const torch::Tensor a = AugmentImages(images, 3, 1);
  EXPECT_TRUE(torch::equal(a, AugmentImages(images, 3, 1)));
  EXPECT_FALSE(torch::equal(a, AugmentImages(images, 3, 2)));
  EXPECT_FALSE(torch::equal(a, AugmentImages(images, 4, 1)));
  EXPECT_EQ(a.sizes(), images.sizes());
  EXPECT_EQ(a.scalar_type(), torch::kUInt8);
}

TEST(Augment, VariantsStayCloseAndKeepTheirHue) {
  const torch::Tensor images = TwoImages();
  for (int v = 1; v <= 8; ++v) {
    const torch::Tensor out = AugmentImages(images, 0, v);
    EXPECT_GT(MeanAbsDiff(out, images), 0.5) << v;
    EXPECT_LT(MeanAbsDiff(out, images), 40.0) << v;
    // Red stays the strongest channel of the disc image, blue of the square image.
    const torch::Tensor sums = out.to(torch::kFloat32).sum({1, 2});  // [2, 3]
    const torch::Tensor ink = (255.0 * 32 * 32 - sums);               // how far from white
    EXPECT_GT(ink[0][1].item<float>(), ink[0][0].item<float>()) << v;  // red: g, b absorbed
    EXPECT_GT(ink[1][0].item<float>(), ink[1][2].item<float>()) << v;  // blue: r, g absorbed
  }
}

TEST(Augment, UncoveredBackgroundIsWhite) {
  AugmentRanges shift_only;
  shift_only.brightness = shift_only.contrast = shift_only.saturation = 0.0;
  shift_only.blur = shift_only.noise = 0.0;
  shift_only.scale = 0.0;
  shift_only.shift = 0.2;
  const torch::Tensor white = torch::full({4, 16, 16, 3}, 255, torch::kUInt8);
  EXPECT_TRUE(torch::equal(AugmentImages(white, 0, 1, shift_only), white));
}

TEST(Augment, NoRangesIsTheIdentity) {
  AugmentRanges none{0, 0, 0, 0, 0, 0, 0};
  const torch::Tensor images = TwoImages();
  EXPECT_TRUE(torch::equal(AugmentImages(images, 0, 1, none), images));
}

TEST(Augment, RejectsAnythingButUint8Rgb) {
  EXPECT_THROW(AugmentImages(torch::zeros({1, 8, 8, 3}), 0, 1), c10::Error);
  EXPECT_THROW(AugmentImages(torch::zeros({1, 8, 8, 4}, torch::kUInt8), 0, 1), c10::Error);
}

}  // namespace
}  // namespace duet::training
