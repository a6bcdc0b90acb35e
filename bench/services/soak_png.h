// PNG helpers for the soak driver: a tiny encoder for synthetic caption inputs (zlib only, no
// libpng/OpenCV, so the driver builds without LibTorch) and a hash of a PNG's pixel chunks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace duet::bench {

// An 8-bit PNG of `width` x `height` pixels with `channels` 1 (gray), 3 (RGB) or 4 (RGBA);
// `pixels` holds width * height * channels bytes, row-major. No metadata chunks.
std::string EncodePng(int width, int height, int channels, const std::vector<uint8_t>& pixels);

// A PNG whose header declares `width` x `height` RGB pixels but whose data holds one pixel: the
// server must refuse it from the header alone.
std::string PngDeclaringSize(int width, int height);

// A few valid PNGs of assorted sizes, channel counts and contents (noise, gradients, flat),
// the same for the same `seed`.
std::vector<std::string> SyntheticPngs(uint64_t seed);

// FNV-1a over the IHDR and IDAT chunks only, so two PNGs with the same pixels but different
// text chunks (prompt, score) hash alike. 0 when `png` is not a PNG.
uint64_t PixelHash(const std::string& png);

// FNV-1a over all of `bytes`.
uint64_t BytesHash(const std::string& bytes);

}  // namespace duet::bench
