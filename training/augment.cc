// Implementation of training/augment.h: per-image parameters from StepRng, torch ops per chunk.
#include "training/augment.h"

#include <ATen/CPUGeneratorImpl.h>

#include <vector>

#include "training/rng.h"

namespace duet::training {
namespace {

constexpr int64_t kChunk = 256;  // images per chunk, bounds the float32 working set

struct Params {
  std::vector<float> theta;  // [n, 2, 3] affine
  std::vector<float> brightness, contrast, saturation, blur, noise;
};

Params DrawParams(uint64_t seed, int64_t variant, int64_t first, int64_t n,
                  const AugmentRanges& r) {
  Params p;
  for (int64_t i = 0; i < n; ++i) {
    StepRng rng(StepRng::Mix(seed, static_cast<uint64_t>(variant)), RngStream::kAugment,
                static_cast<uint64_t>(first + i));
    const auto between = [&](double range) {
      return static_cast<float>(1.0 + range * (2.0 * rng.Uniform() - 1.0));
    };
    const float zoom = between(r.scale);  // > 1 enlarges the content
    const float tx = static_cast<float>(r.shift * 2.0 * (2.0 * rng.Uniform() - 1.0));
    const float ty = static_cast<float>(r.shift * 2.0 * (2.0 * rng.Uniform() - 1.0));
    p.theta.insert(p.theta.end(), {1.0f / zoom, 0.0f, tx, 0.0f, 1.0f / zoom, ty});
    p.brightness.push_back(between(r.brightness));
    p.contrast.push_back(between(r.contrast));
    p.saturation.push_back(between(r.saturation));
    p.blur.push_back(static_cast<float>(r.blur * rng.Uniform()));
    p.noise.push_back(static_cast<float>(r.noise * rng.Uniform()));
  }
  return p;
}

torch::Tensor Column(const std::vector<float>& v) {  // [n] -> [n, 1, 1, 1]
  return torch::tensor(v, torch::kFloat32).view({-1, 1, 1, 1});
}

// x: float [n, 3, R, R] in [0, 1].
torch::Tensor AugmentChunk(const torch::Tensor& x, const Params& p, uint64_t noise_seed) {
  namespace F = torch::nn::functional;
  const int64_t n = x.size(0);
  // Geometry on the inverted image, so that zero padding is white.
  const torch::Tensor theta = torch::tensor(p.theta, torch::kFloat32).view({n, 2, 3});
  const torch::Tensor grid = F::affine_grid(theta, x.sizes().vec(), /*align_corners=*/false);
  torch::Tensor y = 1.0 - F::grid_sample(1.0 - x, grid,
                                         F::GridSampleFuncOptions()
                                             .mode(torch::kBilinear)
                                             .padding_mode(torch::kZeros)
                                             .align_corners(false));
  // Colour: brightness, contrast around the mean, saturation around grey. Never hue.
  y = y * Column(p.brightness);
  const torch::Tensor mean = y.mean({1, 2, 3}, /*keepdim=*/true);
  y = (y - mean) * Column(p.contrast) + mean;
  const torch::Tensor grey = y.mean(1, /*keepdim=*/true);
  y = (y - grey) * Column(p.saturation) + grey;
  // Blur: a per-image mix with a 3x3 Gaussian, edges replicated.
  const torch::Tensor g = torch::tensor({0.27407f, 0.45186f, 0.27407f});  // sigma 1, normalised
  const torch::Tensor kernel = torch::outer(g, g).expand({3, 1, 3, 3}).contiguous();
  const torch::Tensor padded = F::pad(y, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
  const torch::Tensor blurred = F::conv2d(padded, kernel, F::Conv2dFuncOptions().groups(3));
  const torch::Tensor w = Column(p.blur);
  y = y * (1.0 - w) + blurred * w;
  // Noise from a generator of its own, so the global torch seed plays no part.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(noise_seed);
  y = y + torch::randn(y.sizes(), gen, torch::kFloat32) * Column(p.noise);
  return y.clamp(0.0, 1.0);
}

}  // namespace

torch::Tensor AugmentImages(const torch::Tensor& images, uint64_t seed, int64_t variant,
                            const AugmentRanges& ranges) {
  TORCH_CHECK(images.dim() == 4 && images.size(3) == 3 && images.scalar_type() == torch::kUInt8,
              "images must be uint8 [N, R, R, 3], got ", images.sizes());
  torch::NoGradGuard no_grad;
  const int64_t N = images.size(0);
  torch::Tensor out = torch::empty_like(images);
  for (int64_t first = 0; first < N; first += kChunk) {
    const int64_t n = std::min(kChunk, N - first);
    const Params p = DrawParams(seed, variant, first, n, ranges);
    const torch::Tensor x =
        images.narrow(0, first, n).permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
    const uint64_t noise_seed =
        StepRng::Mix(StepRng::Mix(seed, static_cast<uint64_t>(variant)), first);
    const torch::Tensor y = AugmentChunk(x, p, noise_seed);
    out.narrow(0, first, n).copy_((y * 255.0).round().permute({0, 2, 3, 1}).to(torch::kUInt8));
  }
  return out;
}

}  // namespace duet::training
