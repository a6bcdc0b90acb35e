// libFuzzer target: PNG/JPEG bytes through the image codec's decode path (header limits, decode,
// crop, resize) and the PNG text-chunk reader. Limits are small so the fuzzer never OOMs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vision/image_io.h"
#include "vision/png_text.h"

namespace {

using duet::vision::Image;

constexpr int kMaxSide = 512;
constexpr int kResizedSide = 16;  // What model::ImagePipeline::DecodeBytes does, at a tiny size.

constexpr duet::vision::ImageLimits kLimits = {kMaxSide, int64_t{kMaxSide} * kMaxSide,
                                               size_t{1} << 20};

// A decoder returned something its contract rules out: crash, so libFuzzer keeps the input.
void Require(bool condition) {
  if (!condition) __builtin_trap();
}

bool IsWellFormed(const Image& image) {
  return image.width > 0 && image.height > 0 &&
         image.rgb.size() == size_t{3} * image.width * image.height;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto header = duet::vision::PeekImageHeader(bytes);
  const auto image = duet::vision::DecodeImage(bytes, kLimits);
  if (image.ok()) {
    Require(header.ok() && IsWellFormed(*image));
    Require(image->width <= kMaxSide && image->height <= kMaxSide);
    const Image square = duet::vision::CenterCropSquare(*image);
    Require(IsWellFormed(square) && square.width == square.height);
    const Image small = duet::vision::ResizeImage(square, kResizedSide, kResizedSide);
    Require(IsWellFormed(small) && small.width == kResizedSide);
  } else {
    Require(absl::IsInvalidArgument(image.status()));
  }
  const auto text = duet::vision::ReadPngText(bytes);
  Require(text.ok() || absl::IsInvalidArgument(text.status()));
  return 0;
}
