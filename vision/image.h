// Plain image value types shared by vision/: decoded pixels, decode limits and header facts.
// Free of libpng, OpenCV and torch, so any library can pass images around cheaply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.h"

namespace duet::vision {

// Interleaved 8-bit RGB, row-major, no alpha: channel c of pixel (x, y) is
// rgb[(y * width + x) * 3 + c]. Every vision/ function that returns one keeps the invariant
// rgb.size() == width * height * 3.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

// Bounds a decoder enforces before allocating pixel memory.
struct ImageLimits {
  int max_side = 4096;                  // Largest accepted width or height, in pixels.
  int64_t max_pixels = 16'777'216;      // Largest accepted width * height (4096^2).
  size_t max_bytes = size_t{32} << 20;  // Largest accepted encoded input, in bytes.
};

// The only encoded formats Duet accepts.
enum class ImageFormat { kPng, kJpeg };

// What the header of an encoded image says, read without decoding any pixel.
struct ImageHeader {
  ImageFormat format = ImageFormat::kPng;
  int width = 0;
  int height = 0;
};

// InvalidArgument "image is WxH pixels, the limit is S per side and P in all" unless
// 1 <= width, height <= limits.max_side and width * height <= limits.max_pixels.
Status CheckImageLimits(int64_t width, int64_t height, const ImageLimits& limits);

// InvalidArgument "image is N bytes, the limit is M" when encoded input exceeds limits.max_bytes.
Status CheckEncodedSize(size_t size, const ImageLimits& limits);

}  // namespace duet::vision
