// Images <-> [B, 3, H, W] float tensors in [-1, 1]: one vectorised torch op chain each way, so
// a batch costs a handful of passes over memory.
#include "vision/image_tensor.h"

#include <cstring>

#include "common/tensor_io.h"

namespace duet::vision {
namespace {

constexpr double kHalfRange = 127.5;  // uint8 v <-> v / 127.5 - 1.

}  // namespace

StatusOr<torch::Tensor> ImagesToTensor(const std::vector<Image>& images) {
  if (images.empty()) return absl::InvalidArgumentError("images must not be empty");
  const int width = images[0].width;
  const int height = images[0].height;
  for (size_t i = 0; i < images.size(); ++i) {
    const Image& image = images[i];
    if (image.width <= 0 || image.height <= 0 ||
        image.rgb.size() != size_t{3} * image.width * image.height) {
      return absl::InvalidArgumentError(absl::StrCat("images[", i, "] is malformed: ", image.width,
                                                     "x", image.height, " with ", image.rgb.size(),
                                                     " RGB bytes"));
    }
    if (image.width != width || image.height != height) {
      return absl::InvalidArgumentError(absl::StrCat("images[", i, "] is ", image.width, "x",
                                                     image.height, ", but images[0] is ", width,
                                                     "x", height));
    }
  }
  torch::Tensor out;
  DUET_RETURN_IF_ERROR(CatchTorch("ImagesToTensor", [&] {
    const int64_t batch = static_cast<int64_t>(images.size());
    torch::Tensor bytes = torch::empty({batch, height, width, 3}, torch::kUInt8);  // [B, H, W, 3]
    const size_t image_bytes = images[0].rgb.size();
    for (int64_t b = 0; b < batch; ++b) {
      std::memcpy(bytes.data_ptr<uint8_t>() + b * image_bytes, images[b].rgb.data(), image_bytes);
    }
    out = bytes.permute({0, 3, 1, 2}).to(torch::kFloat32).div(kHalfRange).sub(1.0).contiguous();
  }));
  return out;  // [B, 3, H, W]
}

std::vector<Image> TensorToImages(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "TensorToImages expects [B, 3, H, W], got ",
              images.sizes());
  const torch::Tensor bytes = images.detach()
                                  .to(torch::kCPU, torch::kFloat32)
                                  .clamp(-1.0, 1.0)
                                  .add(1.0)
                                  .mul(kHalfRange)
                                  .round()
                                  .to(torch::kUInt8)
                                  .permute({0, 2, 3, 1})
                                  .contiguous();  // [B, H, W, 3]
  const int64_t batch = bytes.size(0);
  const int height = static_cast<int>(bytes.size(1));
  const int width = static_cast<int>(bytes.size(2));
  const size_t image_bytes = size_t{3} * width * height;
  std::vector<Image> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    out[b].width = width;
    out[b].height = height;
    const uint8_t* start = bytes.data_ptr<uint8_t>() + b * image_bytes;
    out[b].rgb.assign(start, start + image_bytes);
  }
  return out;
}

}  // namespace duet::vision
