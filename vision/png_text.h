// PNG text metadata: reading tEXt/zTXt/iTXt chunks back, the XMP "AI generated" marker, and the
// keyword/UTF-8 checks EncodePng applies. Chunks are walked directly; no pixel is ever decoded.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace duet::vision {

// One text entry: (keyword, value), both UTF-8.
using PngTextEntry = std::pair<std::string, std::string>;

// Keyword under which XMP packets are stored in PNG iTXt chunks.
inline constexpr char kPngXmpKeyword[] = "XML:com.adobe.xmp";

// Decompressed text above this many bytes (all chunks together) is rejected as a zip bomb.
inline constexpr size_t kPngTextMaxBytes = size_t{8} << 20;

// Every tEXt, zTXt and iTXt entry of a PNG file, in file order (before and after the pixels).
// Keywords and tEXt/zTXt values are Latin-1 in the file and are returned as UTF-8; iTXt values
// are returned as stored (UTF-8). InvalidArgument when the input is not a PNG, is truncated (no
// IEND), a text chunk has a bad CRC or is malformed, or decompressed text exceeds
// kPngTextMaxBytes. Thread-safe (pure function).
StatusOr<std::vector<PngTextEntry>> ReadPngText(std::string_view png_bytes);

// The (keyword, XMP packet) entry that marks an image as AI generated: IPTC DigitalSourceType
// http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia. Append it to the
// text list given to EncodePng.
PngTextEntry PngXmpAiMarker();

// Converts a UTF-8 keyword to the Latin-1 bytes PNG stores. InvalidArgument unless it is 1 to 79
// characters, each printable Latin-1 (U+0020..U+007E, U+00A1..U+00FF), with no leading, trailing
// or doubled spaces.
StatusOr<std::string> PngKeywordFromUtf8(std::string_view keyword);

// InvalidArgument naming `field` unless `text` is valid UTF-8 without NUL bytes.
Status CheckUtf8Text(std::string_view text, const std::string& field);

}  // namespace duet::vision
