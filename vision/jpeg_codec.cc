// JPEG: a marker walk that needs no decoder (for headers and truncation checks), then
// cv::imdecode for the pixels. cv::Exception never escapes this file.
#include "vision/jpeg_codec.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace duet::vision {
namespace {

constexpr unsigned char kMarkerPrefix = 0xFF;
constexpr unsigned char kSoi = 0xD8;
constexpr unsigned char kEoi = 0xD9;
constexpr unsigned char kSos = 0xDA;
constexpr unsigned char kTem = 0x01;
// Progressive files have about 10 scans; libjpeg walks the whole image once per scan and only
// warns on repeats, so a file of many tiny scans could cost minutes. More than this is refused.
constexpr int kMaxJpegScans = 100;
constexpr size_t kSofMinLength = 8;  // Length field (2), precision (1), height (2), width (2), Nf.

// What the walk found: frame size, and where the first scan's entropy-coded data starts.
struct JpegLayout {
  int width = 0;
  int height = 0;
  size_t scan_data_start = 0;  // 0 until an SOS segment is reached.
};

bool IsStartOfFrame(unsigned char marker) {
  // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

bool IsStandalone(unsigned char marker) {
  return marker == kTem || (marker >= 0xD0 && marker <= 0xD7);  // TEM, RST0..RST7.
}

Status Truncated(const char* where) {
  return absl::InvalidArgumentError(absl::StrCat("JPEG data is truncated ", where));
}

// Walks marker segments from SOI until the SOF (when !to_scan) or the first SOS (when to_scan).
StatusOr<JpegLayout> WalkJpegMarkers(std::string_view bytes, bool to_scan) {
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 2 || u[0] != kMarkerPrefix || u[1] != kSoi) {
    return absl::InvalidArgumentError("data is not a JPEG file (no SOI marker)");
  }
  JpegLayout layout;
  size_t pos = 2;
  while (true) {
    if (pos >= bytes.size()) return Truncated(to_scan ? "before its first scan" : "before its SOF");
    if (u[pos] != kMarkerPrefix) {
      return absl::InvalidArgumentError(absl::StrCat("JPEG marker expected at byte ", pos));
    }
    while (pos < bytes.size() && u[pos] == kMarkerPrefix) ++pos;  // Fill bytes.
    if (pos >= bytes.size()) return Truncated("inside a marker");
    const unsigned char marker = u[pos++];
    if (IsStandalone(marker)) continue;
    if (marker == kEoi || marker == kSoi || marker == 0x00) {
      return absl::InvalidArgumentError(
          absl::StrCat("JPEG has an unexpected marker 0x", absl::Hex(marker), " before its scan"));
    }
    if (bytes.size() - pos < 2) return Truncated("inside a segment length");
    const size_t length = (size_t{u[pos]} << 8) | u[pos + 1];
    if (length < 2) return absl::InvalidArgumentError("JPEG segment has a length below 2");
    if (bytes.size() - pos < length) return Truncated("inside a segment");
    if (IsStartOfFrame(marker) && layout.width == 0) {
      if (length < kSofMinLength) {
        return absl::InvalidArgumentError("JPEG SOF segment is too short");
      }
      layout.height = (u[pos + 3] << 8) | u[pos + 4];
      layout.width = (u[pos + 5] << 8) | u[pos + 6];
      if (layout.width == 0 || layout.height == 0) {
        return absl::InvalidArgumentError(absl::StrCat("JPEG frame is ", layout.width, "x",
                                                       layout.height, " (DNL is not supported)"));
      }
      if (!to_scan) return layout;
    }
    if (marker == kSos) {
      if (layout.width == 0) return absl::InvalidArgumentError("JPEG scan comes before its SOF");
      layout.scan_data_start = pos + length;
      return layout;
    }
    pos += length;
  }
}

}  // namespace

StatusOr<ImageHeader> PeekJpegHeader(std::string_view bytes) {
  DUET_ASSIGN_OR_RETURN(const JpegLayout layout, WalkJpegMarkers(bytes, /*to_scan=*/false));
  ImageHeader header;
  header.format = ImageFormat::kJpeg;
  header.width = layout.width;
  header.height = layout.height;
  return header;
}

StatusOr<Image> DecodeJpeg(std::string_view bytes, const ImageLimits& limits) {
  DUET_RETURN_IF_ERROR(CheckEncodedSize(bytes.size(), limits));
  DUET_ASSIGN_OR_RETURN(const JpegLayout layout, WalkJpegMarkers(bytes, /*to_scan=*/true));
  DUET_RETURN_IF_ERROR(CheckImageLimits(layout.width, layout.height, limits));
  // Inside entropy-coded data 0xFF is always followed by 0x00 or RSTn, so this is the real EOI.
  const size_t eoi = bytes.find("\xFF\xD9", layout.scan_data_start);
  if (eoi == std::string_view::npos) return Truncated("(no EOI marker after its image data)");
  int scans = 1;  // the same argument: each later 0xFF 0xDA is another SOS
  for (size_t at = bytes.find("\xFF\xDA", layout.scan_data_start); at < eoi;
       at = bytes.find("\xFF\xDA", at + 2)) {
    if (++scans > kMaxJpegScans) {
      return absl::InvalidArgumentError(
          absl::StrCat("JPEG has more than ", kMaxJpegScans, " scans, the limit is ",
                       kMaxJpegScans));
    }
  }
  Image image;
  try {
    const cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                          const_cast<char*>(bytes.data()));
    const cv::Mat bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      return absl::InvalidArgumentError("JPEG is corrupt (the decoder rejected it)");
    }
    DUET_RETURN_IF_ERROR(CheckImageLimits(bgr.cols, bgr.rows, limits));
    image.width = bgr.cols;
    image.height = bgr.rows;
    image.rgb.resize(size_t{3} * image.width * image.height);
    cv::Mat rgb(image.height, image.width, CV_8UC3, image.rgb.data());
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("JPEG is corrupt: ", e.what()));
  }
  return image;
}

}  // namespace duet::vision
