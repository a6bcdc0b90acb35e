// PNG decoding and encoding with libpng, entirely in memory. libpng reports errors by longjmp;
// this file confines that to two small functions and returns Status values instead.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "vision/image.h"
#include "vision/png_text.h"

namespace duet::vision {

// Width and height from the signature and IHDR chunk (first 33 bytes); allocates nothing.
// InvalidArgument when the signature, IHDR length/type/CRC or dimensions are wrong.
StatusOr<ImageHeader> PeekPngHeader(std::string_view bytes);

// Decodes any PNG (all color types and bit depths, interlaced or not) to RGB8. Palette, gray and
// tRNS are expanded, 16-bit samples scaled to 8 bits, and alpha composited over white:
// out = round(a * c + (1 - a) * 255). Gamma and color profiles are ignored (pixels taken as sRGB).
// The header is checked against `limits` before any pixel allocation (and libpng's user limits
// repeat the side check). InvalidArgument for limits, truncated or corrupt data. Thread-safe.
StatusOr<Image> DecodePng(std::string_view bytes, const ImageLimits& limits);

// Encodes an 8-bit RGB PNG. Every `text` entry becomes an uncompressed iTXt chunk placed before
// the pixels: keyword UTF-8 that maps to Latin-1 (see PngKeywordFromUtf8), value UTF-8 without
// NUL. Output bytes depend only on the inputs (no tIME chunk; fixed zlib settings).
// InvalidArgument for a malformed image (sizes that disagree with rgb.size(), zero sides) or
// text. Thread-safe.
StatusOr<std::string> EncodePng(const Image& image, const std::vector<PngTextEntry>& text = {});

}  // namespace duet::vision
