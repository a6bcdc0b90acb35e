// PNG decoding across color types and bit depths (fixtures written with libpng right here), alpha
// over white, and text metadata: UTF-8 round trips, Latin-1 keywords, deterministic bytes.
#include <png.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "vision/image_io.h"

namespace duet::vision {
namespace {

// A PNG described at the libpng level, for fixtures our encoder never produces.
struct RawPng {
  int width = 0, height = 0, color_type = PNG_COLOR_TYPE_RGB, bit_depth = 8;
  bool interlaced = false;
  std::vector<uint8_t> data;  // Packed rows exactly as stored (16-bit samples big-endian).
  std::vector<png_color> palette;
  std::vector<uint8_t> palette_alpha;                   // tRNS for palette images.
  std::vector<std::pair<int, std::string>> text_kinds;  // (PNG_TEXT_COMPRESSION_*, "key\0value").
};

void AppendToString(png_structp png, png_bytep data, png_size_t size) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<char*>(data), size);
}

std::string WriteRawPng(const RawPng& raw) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    ADD_FAILURE() << "libpng failed to write a fixture";
    png_destroy_write_struct(&png, &info);
    return "";
  }
  png_set_write_fn(png, &out, AppendToString, nullptr);
  png_set_IHDR(png, info, raw.width, raw.height, raw.bit_depth, raw.color_type,
               raw.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!raw.palette.empty()) {
    png_set_PLTE(png, info, raw.palette.data(), static_cast<int>(raw.palette.size()));
  }
  if (!raw.palette_alpha.empty()) {
    png_set_tRNS(png, info, raw.palette_alpha.data(), static_cast<int>(raw.palette_alpha.size()),
                 nullptr);
  }
  std::vector<png_text> texts(raw.text_kinds.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    std::memset(&texts[i], 0, sizeof(png_text));
    texts[i].compression = raw.text_kinds[i].first;
    texts[i].key = const_cast<char*>(raw.text_kinds[i].second.c_str());
    texts[i].text = texts[i].key + std::strlen(texts[i].key) + 1;
  }
  if (!texts.empty()) png_set_text(png, info, texts.data(), static_cast<int>(texts.size()));
  png_write_info(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  std::vector<png_bytep> rows(raw.height);
  for (int y = 0; y < raw.height; ++y) rows[y] = const_cast<png_bytep>(&raw.data[row_bytes * y]);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

std::vector<uint8_t> Pixel(const Image& image, int x, int y) {
  const size_t at = (size_t{1} * y * image.width + x) * 3;
  return {image.rgb[at], image.rgb[at + 1], image.rgb[at + 2]};
}

Image RandomImage(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  Image image{width, height, std::vector<uint8_t>(size_t{3} * width * height)};
  for (auto& v : image.rgb) v = static_cast<uint8_t>(rng());
  return image;
}

TEST(Png, RgbRoundTripIsExact) {
  const Image image = RandomImage(37, 23, 1);
  auto png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status();
  auto decoded = DecodeImage(*png);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->width, 37);
  EXPECT_EQ(decoded->height, 23);
  EXPECT_EQ(decoded->rgb, image.rgb);
}

TEST(Png, RgbaIsCompositedOverWhite) {
  RawPng raw{3, 1, PNG_COLOR_TYPE_RGB_ALPHA};
  raw.data = {10,  20, 30, 0,     // Fully transparent -> white.
              255, 0,  0,  128,   // Half-transparent red -> (255, 127, 127).
              1,   2,  3,  255};  // Opaque -> unchanged.
  auto decoded = DecodeImage(WriteRawPng(raw));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Pixel(*decoded, 0, 0), (std::vector<uint8_t>{255, 255, 255}));
  // round(128/255 * 255 + 127/255 * 255) = 255 and round(127/255 * 255) = 127.
  EXPECT_EQ(Pixel(*decoded, 1, 0), (std::vector<uint8_t>{255, 127, 127}));
  EXPECT_EQ(Pixel(*decoded, 2, 0), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(Png, GrayAndGrayAlphaDecode) {
  RawPng gray{3, 1, PNG_COLOR_TYPE_GRAY};
  gray.data = {0, 77, 255};
  auto decoded = DecodeImage(WriteRawPng(gray));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->rgb, (std::vector<uint8_t>{0, 0, 0, 77, 77, 77, 255, 255, 255}));

  RawPng one_bit{8, 1, PNG_COLOR_TYPE_GRAY, 1};
  one_bit.data = {0b10100000};
  decoded = DecodeImage(WriteRawPng(one_bit));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Pixel(*decoded, 0, 0), (std::vector<uint8_t>{255, 255, 255}));
  EXPECT_EQ(Pixel(*decoded, 1, 0), (std::vector<uint8_t>{0, 0, 0}));

  RawPng gray_alpha{1, 1, PNG_COLOR_TYPE_GRAY_ALPHA};
  gray_alpha.data = {0, 51};  // Black at 20% -> round(0.8 * 255) = 204.
  decoded = DecodeImage(WriteRawPng(gray_alpha));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->rgb, (std::vector<uint8_t>{204, 204, 204}));
}

TEST(Png, PaletteWithTransparencyDecodes) {
  RawPng raw{4, 1, PNG_COLOR_TYPE_PALETTE, 2};
  raw.palette = {{200, 10, 20}, {0, 0, 255}, {30, 40, 50}};
  raw.palette_alpha = {255, 0};  // Entry 1 fully transparent; 2 has no alpha (opaque).
  raw.data = {0b00011000};       // Indices 0, 1, 2, 0.
  auto decoded = DecodeImage(WriteRawPng(raw));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Pixel(*decoded, 0, 0), (std::vector<uint8_t>{200, 10, 20}));
  EXPECT_EQ(Pixel(*decoded, 1, 0), (std::vector<uint8_t>{255, 255, 255}));
  EXPECT_EQ(Pixel(*decoded, 2, 0), (std::vector<uint8_t>{30, 40, 50}));
  EXPECT_EQ(Pixel(*decoded, 3, 0), (std::vector<uint8_t>{200, 10, 20}));
}

TEST(Png, SixteenBitAndInterlacedDecode) {
  RawPng deep{2, 1, PNG_COLOR_TYPE_RGB, 16};
  deep.data = {0xFF, 0xFF, 0x00, 0x00, 0x80, 0x80,   // (65535, 0, 32896)
               0x12, 0x34, 0xFF, 0xFE, 0x01, 0x00};  // (4660, 65534, 256)
  auto decoded = DecodeImage(WriteRawPng(deep));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(Pixel(*decoded, 0, 0), (std::vector<uint8_t>{255, 0, 128}));
  EXPECT_EQ(Pixel(*decoded, 1, 0), (std::vector<uint8_t>{18, 255, 1}));

  const Image image = RandomImage(19, 13, 2);
  RawPng interlaced{19, 13, PNG_COLOR_TYPE_RGB, 8, /*interlaced=*/true, image.rgb};
  decoded = DecodeImage(WriteRawPng(interlaced));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->rgb, image.rgb);
}

TEST(PngText, Utf8MetadataRoundTripsAndBytesAreDeterministic) {
  const std::vector<PngTextEntry> text = {
      {"prompt", "호박 모자 (a pumpkin-shaped hat)"}, {"seed", "1234567"}, PngXmpAiMarker()};
  const Image image = RandomImage(8, 8, 3);
  auto first = EncodePng(image, text);
  auto second = EncodePng(image, text);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(first->find("tIME"), std::string::npos);
  auto read = ReadPngText(*first);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, text);
  auto decoded = DecodeImage(*first);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->rgb, image.rgb);
}

TEST(PngText, XmpMarkerSaysTrainedAlgorithmicMedia) {
  const auto [key, packet] = PngXmpAiMarker();
  EXPECT_EQ(key, "XML:com.adobe.xmp");
  EXPECT_NE(packet.find("Iptc4xmpExt:DigitalSourceType=\"http://cv.iptc.org/newscodes/"
                        "digitalsourcetype/trainedAlgorithmicMedia\""),
            std::string::npos);
  EXPECT_TRUE(CheckUtf8Text(packet, "xmp").ok());
}

TEST(PngText, ReadsTextAndCompressedTextFromOtherWriters) {
  RawPng raw{1, 1, PNG_COLOR_TYPE_RGB};
  raw.data = {1, 2, 3};
  using namespace std::string_literals;
  raw.text_kinds = {{PNG_TEXT_COMPRESSION_NONE, "Title\0caf\xE9"s},  // tEXt is Latin-1.
                    {PNG_TEXT_COMPRESSION_zTXt, "Comment\0"s + std::string(500, 'z')},
                    {PNG_ITXT_COMPRESSION_zTXt, "Beschreibung\0호박"s}};
  auto read = ReadPngText(WriteRawPng(raw));
  ASSERT_TRUE(read.ok()) << read.status();
  const std::vector<PngTextEntry> expected = {
      {"Title", "café"}, {"Comment", std::string(500, 'z')}, {"Beschreibung", "호박"}};
  EXPECT_EQ(*read, expected);
}

TEST(PngText, KeywordsFollowPngRules) {
  const Image image = RandomImage(2, 2, 4);
  auto latin = EncodePng(image, {{"Café crème", "ok"}});
  ASSERT_TRUE(latin.ok()) << latin.status();
  EXPECT_NE(latin->find("Caf\xE9 cr\xE8me"), std::string::npos);  // Stored as Latin-1.
  auto read = ReadPngText(*latin);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->at(0).first, "Café crème");

  const std::vector<std::string> bad_keywords = {
      "", "호박", " lead", "trail ", "two  spaces", "tab\tkey", std::string(80, 'k')};
  for (const std::string& bad : bad_keywords) {
    const auto status = EncodePng(image, {{bad, "v"}}).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "keyword '" << bad << "'";
  }
  const auto bad_value = EncodePng(image, {{"prompt", "bad \xC3 utf8"}}).status();
  EXPECT_EQ(bad_value.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_value.message().find("prompt"), std::string::npos) << bad_value;
}

TEST(PngText, RejectsNonPngAndTruncatedInput) {
  EXPECT_EQ(ReadPngText("GIF89a").status().code(), absl::StatusCode::kInvalidArgument);
  auto png = EncodePng(RandomImage(4, 4, 5), {{"k", "v"}});
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(ReadPngText(png->substr(0, png->size() - 6)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A PNG assembled chunk by chunk: a 64x64 RGB header and an IDAT stream of `inflated` zero bytes.
std::string PngWithIdat(size_t inflated) {
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string out;
    for (int shift : {24, 16, 8, 0}) out += static_cast<char>((data.size() >> shift) & 0xff);
    const std::string body = type + data;
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), body.size());
    out += body;
    for (int shift : {24, 16, 8, 0}) out += static_cast<char>((crc >> shift) & 0xff);
    return out;
  };
  const std::string ihdr("\0\0\0\x40\0\0\0\x40\x08\x02\0\0\0", 13);  // 64x64, 8-bit RGB
  const std::vector<Bytef> raw(inflated, 0);  // filter 0 and black pixels, then more of it
  uLongf size = compressBound(raw.size());
  std::vector<Bytef> compressed(size);
  EXPECT_EQ(compress2(compressed.data(), &size, raw.data(), raw.size(), 9), Z_OK);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
         chunk("IDAT", std::string(reinterpret_cast<char*>(compressed.data()), size)) +
         chunk("IEND", "");
}

TEST(Png, IdatThatInflatesPastTheImageIsRefused) {
  const size_t needed = 64 * (1 + 64 * 3);
  ASSERT_TRUE(DecodeImage(PngWithIdat(needed)).ok());  // exactly the scanlines: a black image
  const std::string bomb = PngWithIdat(size_t{256} << 20);  // 256 MiB from about 256 KB
  ASSERT_LT(bomb.size(), size_t{1} << 20);
  StatusOr<Image> decoded = DecodeImage(bomb);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("inflates to more than the 12352 bytes a 64x64"),
            std::string::npos)
      << decoded.status();
}

// Found by tests/fuzz (image_decode): an iTXt header claiming 1.8 GB in a 192-byte file. libpng
// only warns that the chunk is over its limit, then allocates the claimed length before reading.
TEST(Png, ChunkLongerThanTheFileIsRefusedBeforeLibpng) {
  const StatusOr<std::string> png = EncodePng(RandomImage(2, 2, 5));
  ASSERT_TRUE(png.ok()) << png.status();
  const std::string huge_itxt("\x6d\x70\x00\x25iTXtTitle\x00\x01\x00ko\x00", 19);
  const std::string bytes = png->substr(0, 33) + huge_itxt + png->substr(33);
  const Status status = DecodeImage(bytes).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), absl::StrCat("PNG data is truncated: chunk 'iTXt' at byte 33 needs ",
                                           0x6d700025 + 12, " bytes, ", bytes.size() - 33,
                                           " remain"));
  ASSERT_TRUE(DecodeImage(*png).ok());  // The same file without that chunk decodes.
}

TEST(Png, EncodeRejectsMalformedImages) {
  EXPECT_EQ(EncodePng(Image{}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodePng(Image{2, 2, std::vector<uint8_t>(11)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace duet::vision
