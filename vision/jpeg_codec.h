// JPEG header parsing (our own bounded marker walk) and decoding (OpenCV's libjpeg reader).
// OpenCV only ever sees bytes whose markers were checked here, as REFERENCES.md advises.
#pragma once

#include <string_view>

#include "common/status.h"
#include "vision/image.h"

namespace duet::vision {

// Width and height from the first SOFn segment, found by walking markers from SOI; allocates
// nothing. InvalidArgument when the data is not a JPEG, is truncated before the SOF, or the
// frame has zero sides (height set later by a DNL marker is not supported).
StatusOr<ImageHeader> PeekJpegHeader(std::string_view bytes);

// Decodes a baseline or progressive JPEG to RGB8 (EXIF orientation applied by OpenCV). The
// header is checked against `limits` before OpenCV allocates anything; data without an SOS
// segment followed by an EOI marker is rejected as truncated (libjpeg would otherwise pad it with
// gray). InvalidArgument for limits, truncated or corrupt data. Thread-safe.
StatusOr<Image> DecodeJpeg(std::string_view bytes, const ImageLimits& limits);

}  // namespace duet::vision
