// Image I/O for Duet: accepts PNG and JPEG only (chosen by magic bytes), checks sizes before any
// pixel memory exists, and turns every decoder failure into InvalidArgument. Also resizing.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "vision/image.h"
#include "vision/jpeg_codec.h"
#include "vision/png_codec.h"  // EncodePng; via png_text.h: ReadPngText, PngXmpAiMarker.

namespace duet::vision {

// Format and size from the header bytes only (PNG: signature + IHDR; JPEG: markers up to the
// SOFn segment). No pixel memory is allocated. InvalidArgument for anything but PNG or JPEG
// ("image is not PNG or JPEG (starts with 'GIF8')"), for empty input and for a header that is
// truncated or malformed. Limits are not applied here. Thread-safe.
StatusOr<ImageHeader> PeekImageHeader(std::string_view bytes);

// Decodes PNG or JPEG bytes to RGB8, alpha composited over white (see DecodePng/DecodeJpeg).
// Order of checks: encoded size (limits.max_bytes), magic bytes, header dimensions against
// `limits` ("image is 100000x100000 pixels, the limit is 4096 per side and 16777216 in all"),
// then decoding. Every failure is InvalidArgument; nothing aborts. Thread-safe.
StatusOr<Image> DecodeImage(std::string_view bytes, const ImageLimits& limits = {});

// Resizes with OpenCV: INTER_AREA when neither side grows, INTER_CUBIC otherwise (results
// saturate to [0, 255]). Same size returns a copy. Precondition: `image` is non-empty and valid
// and width, height > 0; otherwise returns an empty Image. Thread-safe.
Image ResizeImage(const Image& image, int width, int height);

// The largest centred square (the odd pixel, if any, is cut from the right/bottom side).
// Returns an empty Image for an empty input. Thread-safe.
Image CenterCropSquare(const Image& image);

}  // namespace duet::vision
