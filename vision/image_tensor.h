// Conversions between decoded images and the tokenizer's tensors.
// Tensor convention: [B, 3, H, W] float32, channels R, G, B, values v / 127.5 - 1 in [-1, 1].
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/status.h"
#include "vision/image.h"

namespace duet::vision {

// Stacks images into a [B, 3, H, W] float32 CPU tensor in [-1, 1]. InvalidArgument when the list
// is empty, an image is malformed (rgb.size() != width * height * 3, zero sides) or the sizes
// differ (the message names the first odd image). Thread-safe.
StatusOr<torch::Tensor> ImagesToTensor(const std::vector<Image>& images);

// The inverse: [B, 3, H, W] (any float dtype or device) in [-1, 1] to B images; values are
// clamped to [-1, 1] and rounded to the nearest 8-bit level. A tensor of another rank or channel
// count is a programming error: throws c10::Error (callers wrap with CatchTorch). Thread-safe.
std::vector<Image> TensorToImages(const torch::Tensor& images);

}  // namespace duet::vision
