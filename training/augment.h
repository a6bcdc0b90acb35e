// Image variants for image->text training, so that a caption names the concept and not one
// artist's rendering of it: small shifts and scales, colour jitter, blur and noise.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace duet::training {

struct AugmentRanges {
  double shift = 0.06;       // translation, as a fraction of the image side, each axis
  double scale = 0.12;       // zoom factor in [1 - scale, 1 + scale]
  double brightness = 0.15;  // multiplier in [1 - b, 1 + b]
  double contrast = 0.2;     // around the image mean, factor in [1 - c, 1 + c]
  double saturation = 0.3;   // blend with grey, factor in [1 - s, 1 + s]
  double blur = 0.6;         // mix weight in [0, blur] of a 3x3 Gaussian (sigma 1) blur
  double noise = 0.03;       // Gaussian noise with std in [0, noise] (pixels in [0, 1])
};

// A random variant of every image: uint8 [N, R, R, 3] -> uint8 [N, R, R, 3]. Hue is never
// changed (a red and a blue heart are different emoji), and the background that a shift or zoom
// uncovers is white, like the dataset's. A pure function of (images, seed, variant): the
// parameters and the noise come from generators seeded by (seed, variant, image index), so a
// resumed run rebuilds the same variants.
torch::Tensor AugmentImages(const torch::Tensor& images, uint64_t seed, int64_t variant,
                            const AugmentRanges& ranges = {});

}  // namespace duet::training
