// Implementation of bench/services/soak_png.h.
#include "bench/services/soak_png.h"

#include <random>

#include <zlib.h>

namespace duet::bench {
namespace {

constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";
constexpr size_t kSignatureBytes = 8;
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void PutBigEndian32(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

uint32_t GetBigEndian32(const std::string& s, size_t at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = value << 8 | static_cast<uint8_t>(s[at + i]);
  return value;
}

void PutChunk(const char* type, const std::string& data, std::string* out) {
  PutBigEndian32(static_cast<uint32_t>(data.size()), out);
  const std::string body = std::string(type, 4) + data;
  out->append(body);
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
  PutBigEndian32(static_cast<uint32_t>(crc), out);
}

uint64_t Fnv(const char* data, size_t size, uint64_t hash) {
  for (size_t i = 0; i < size; ++i) hash = (hash ^ static_cast<uint8_t>(data[i])) * kFnvPrime;
  return hash;
}

}  // namespace

std::string EncodePng(int width, int height, int channels, const std::vector<uint8_t>& pixels) {
  const uint8_t color_type = channels == 1 ? 0 : channels == 3 ? 2 : 6;
  std::string header;
  PutBigEndian32(static_cast<uint32_t>(width), &header);
  PutBigEndian32(static_cast<uint32_t>(height), &header);
  header += {8, static_cast<char>(color_type), 0, 0, 0};  // depth, color, deflate, filter, no lace
  std::string raw;  // each row: filter byte 0 (none), then the row's bytes
  const size_t row_bytes = static_cast<size_t>(width) * channels;
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(pixels.data()) + y * row_bytes, row_bytes);
  }
  uLongf packed_size = compressBound(raw.size());
  std::string packed(packed_size, '\0');
  compress(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
           reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  packed.resize(packed_size);
  std::string png(kSignature, kSignatureBytes);
  PutChunk("IHDR", header, &png);
  PutChunk("IDAT", packed, &png);
  PutChunk("IEND", "", &png);
  return png;
}

std::string PngDeclaringSize(int width, int height) {
  std::string header;
  PutBigEndian32(static_cast<uint32_t>(width), &header);
  PutBigEndian32(static_cast<uint32_t>(height), &header);
  header += {8, 2, 0, 0, 0};
  const std::string one_pixel = EncodePng(1, 1, 3, {200, 30, 30});
  std::string png(kSignature, kSignatureBytes);
  PutChunk("IHDR", header, &png);
  png.append(one_pixel, kSignatureBytes + 25, std::string::npos);  // its IDAT and IEND
  return png;
}

std::vector<std::string> SyntheticPngs(uint64_t seed) {
  struct Shape {
    int width, height, channels;
  };
  const Shape shapes[] = {{64, 64, 3}, {32, 32, 3}, {1, 1, 3},     {100, 37, 3},
                          {64, 64, 4}, {48, 48, 1}, {256, 256, 3}, {7, 300, 3}};
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  int kind = 0;
  for (const Shape& s : shapes) {
    std::vector<uint8_t> pixels(static_cast<size_t>(s.width) * s.height * s.channels);
    for (size_t i = 0; i < pixels.size(); ++i) {
      const size_t x = i / s.channels % s.width, y = i / s.channels / s.width;
      switch (kind % 3) {
        case 0:
          pixels[i] = static_cast<uint8_t>(rng());
          break;  // noise
        case 1:
          pixels[i] = static_cast<uint8_t>((x * 255 / s.width + y * 3) ^ (i % s.channels * 80));
          break;
        default:
          pixels[i] = static_cast<uint8_t>(40 + 60 * (i % s.channels));
          break;  // flat
      }
    }
    out.push_back(EncodePng(s.width, s.height, s.channels, pixels));
    ++kind;
  }
  return out;
}

uint64_t PixelHash(const std::string& png) {
  if (png.size() < kSignatureBytes ||
      png.compare(0, kSignatureBytes, kSignature, kSignatureBytes)) {
    return 0;
  }
  uint64_t hash = kFnvOffset;
  for (size_t at = kSignatureBytes; at + 12 <= png.size();) {
    const size_t length = GetBigEndian32(png, at);
    if (at + 12 + length > png.size()) return 0;
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR" || type == "IDAT") hash = Fnv(png.data() + at + 4, length + 4, hash);
    at += 12 + length;
  }
  return hash;
}

uint64_t BytesHash(const std::string& bytes) { return Fnv(bytes.data(), bytes.size(), kFnvOffset); }

}  // namespace duet::bench
