// Format dispatch and limits for image decoding, plus OpenCV resizing. Nothing here touches
// pixels before the header has been read and checked.
#include "vision/image_io.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace duet::vision {
namespace {

constexpr std::string_view kPngMagic("\x89PNG\r\n\x1a\n", 8);
constexpr std::string_view kJpegMagic("\xFF\xD8\xFF", 3);
constexpr size_t kShownMagicBytes = 4;

// A guess at common formats Duet refuses, so the error says what the client sent.
const char* GuessFormat(std::string_view bytes) {
  if (bytes.substr(0, 4) == "GIF8") return "GIF";
  if (bytes.substr(0, 2) == "BM") return "BMP";
  if (bytes.substr(0, 4) == std::string_view("II*\0", 4) ||
      bytes.substr(0, 4) == std::string_view("MM\0*", 4)) {
    return "TIFF";
  }
  // substr(pos) throws std::out_of_range when pos > size(): "RIFF" + 4 bytes could be all there is.
  if (bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WEBP") {
    return "WebP";
  }
  return nullptr;
}

// The first bytes, printable ASCII as is and everything else as \xNN.
std::string ShowMagic(std::string_view bytes) {
  std::string shown;
  for (const char c : bytes.substr(0, kShownMagicBytes)) {
    if (std::isprint(static_cast<unsigned char>(c))) {
      shown.push_back(c);
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02X", static_cast<unsigned char>(c));
      shown += escaped;
    }
  }
  return shown;
}

StatusOr<ImageFormat> DetectFormat(std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("image is empty (0 bytes)");
  if (bytes.substr(0, kPngMagic.size()) == kPngMagic) return ImageFormat::kPng;
  if (bytes.substr(0, kJpegMagic.size()) == kJpegMagic) return ImageFormat::kJpeg;
  const char* guess = GuessFormat(bytes);
  return absl::InvalidArgumentError(
      absl::StrCat("image is not PNG or JPEG (starts with '", ShowMagic(bytes), "'",
                   guess ? absl::StrCat("; looks like ", guess) : "", ")"));
}

}  // namespace

Status CheckImageLimits(int64_t width, int64_t height, const ImageLimits& limits) {
  if (width >= 1 && height >= 1 && width <= limits.max_side && height <= limits.max_side &&
      width * height <= limits.max_pixels) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("image is ", width, "x", height,
                                                 " pixels, the limit is ", limits.max_side,
                                                 " per side and ", limits.max_pixels, " in all"));
}

Status CheckEncodedSize(size_t size, const ImageLimits& limits) {
  if (size <= limits.max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("image is ", size, " bytes, the limit is ", limits.max_bytes));
}

StatusOr<ImageHeader> PeekImageHeader(std::string_view bytes) {
  DUET_ASSIGN_OR_RETURN(const ImageFormat format, DetectFormat(bytes));
  return format == ImageFormat::kPng ? PeekPngHeader(bytes) : PeekJpegHeader(bytes);
}

StatusOr<Image> DecodeImage(std::string_view bytes, const ImageLimits& limits) {
  DUET_RETURN_IF_ERROR(CheckEncodedSize(bytes.size(), limits));
  DUET_ASSIGN_OR_RETURN(const ImageHeader header, PeekImageHeader(bytes));
  DUET_RETURN_IF_ERROR(CheckImageLimits(header.width, header.height, limits));
  return header.format == ImageFormat::kPng ? DecodePng(bytes, limits) : DecodeJpeg(bytes, limits);
}

Image ResizeImage(const Image& image, int width, int height) {
  const bool valid = image.width > 0 && image.height > 0 &&
                     image.rgb.size() == size_t{3} * image.width * image.height;
  if (!valid || width <= 0 || height <= 0) return Image{};
  if (width == image.width && height == image.height) return image;
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t{3} * width * height);
  const cv::Mat src(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat dst(height, width, CV_8UC3, out.rgb.data());
  const bool shrinking = width <= image.width && height <= image.height;
  try {
    cv::resize(src, dst, dst.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
  } catch (const cv::Exception&) {
    return Image{};  // Only out of memory gets here; the inputs were checked above.
  }
  return out;
}

Image CenterCropSquare(const Image& image) {
  const int side = std::min(image.width, image.height);
  if (side <= 0 || image.rgb.size() != size_t{3} * image.width * image.height) return Image{};
  const int x0 = (image.width - side) / 2;
  const int y0 = (image.height - side) / 2;
  Image out;
  out.width = side;
  out.height = side;
  out.rgb.resize(size_t{3} * side * side);
  for (int y = 0; y < side; ++y) {
    const auto row = image.rgb.begin() + (size_t{3} * ((y0 + y) * size_t{1} * image.width + x0));
    std::copy(row, row + size_t{3} * side, out.rgb.begin() + size_t{3} * side * y);
  }
  return out;
}

}  // namespace duet::vision
