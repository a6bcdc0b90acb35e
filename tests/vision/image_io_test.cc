// Format dispatch and hostile input: JPEG decoding, headers, limits checked before allocation,
// truncated/corrupt/foreign data rejected as InvalidArgument, and resizing.
#include "vision/image_io.h"

#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <ctime>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace duet::vision {
namespace {

using ::absl::StatusCode;

// A smooth RGB image (JPEG-friendly): red along x, green along y, constant blue.
Image Gradient(int width, int height) {
  Image image{width, height, std::vector<uint8_t>(size_t{3} * width * height)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.rgb[(size_t{1} * y * width + x) * 3];
      p[0] = static_cast<uint8_t>(x * 255 / (width - 1));
      p[1] = static_cast<uint8_t>(y * 255 / (height - 1));
      p[2] = 90;
    }
  }
  return image;
}

std::string EncodeJpeg(const Image& image, int quality) {
  const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}));
  return std::string(bytes.begin(), bytes.end());
}

std::string Chunk(const std::string& type, const std::string& data) {
  std::string out;
  const uint32_t length = static_cast<uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(length >> shift));
  const std::string body = type + data;
  out += body;
  const uint32_t crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), body.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(crc >> shift));
  return out;
}

// Signature + valid IHDR (8-bit RGB) claiming width x height, a tiny IDAT, IEND.
std::string PngWithHeader(uint32_t width, uint32_t height) {
  std::string ihdr;
  for (const uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8) ihdr.push_back(static_cast<char>(v >> shift));
  }
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IHDR", ihdr) +
         Chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + Chunk("IEND", "");
}

long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // Kilobytes on Linux.
}

void ExpectInvalid(std::string_view bytes, const std::string& what) {
  const auto result = DecodeImage(bytes);
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument)
      << what << ": " << result.status();
}

TEST(ImageIo, JpegDecodesToApproximatelyTheOriginal) {
  const Image image = Gradient(64, 48);
  const std::string jpeg = EncodeJpeg(image, 95);
  auto decoded = DecodeImage(jpeg);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->width, 64);
  ASSERT_EQ(decoded->height, 48);
  double total_error = 0;
  for (size_t i = 0; i < image.rgb.size(); ++i) {
    total_error += std::abs(int{decoded->rgb[i]} - int{image.rgb[i]});
  }
  EXPECT_LT(total_error / image.rgb.size(), 3.0);  // Also catches a BGR/RGB swap (|255-90| ...).
}

TEST(ImageIo, PeekReadsFormatAndSizeFromHeaders) {
  auto png = EncodePng(Gradient(30, 20));
  ASSERT_TRUE(png.ok());
  auto header = PeekImageHeader(png->substr(0, 33));  // Signature + IHDR is enough.
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, ImageFormat::kPng);
  EXPECT_EQ(header->width, 30);
  EXPECT_EQ(header->height, 20);

  header = PeekImageHeader(EncodeJpeg(Gradient(33, 17), 80));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, ImageFormat::kJpeg);
  EXPECT_EQ(header->width, 33);
  EXPECT_EQ(header->height, 17);
}

TEST(ImageIo, RejectsEmptyRandomAndOtherFormats) {
  ExpectInvalid("", "empty");
  std::mt19937 rng(7);
  std::string random(1000, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  random[0] = 'Q';
  ExpectInvalid(random, "random bytes");
  const std::vector<std::pair<std::string, std::string>> foreign = {
      {std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00", 13), "GIF8"},
      {std::string("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00", 12), "BM:"},
      {std::string("II*\x00\x08\x00\x00\x00", 8), "II*\\x00"},
      {std::string("MM\x00*\x00\x00\x00\x08", 8), "MM\\x00*"},
      {std::string("RIFF\x24\x00\x00\x00WEBPVP8 ", 16), "RIFF"}};
  for (const auto& [bytes, shown] : foreign) {
    const Status status = DecodeImage(bytes).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("image is not PNG or JPEG (starts with '" + shown),
              std::string::npos)
        << status;
  }
  EXPECT_NE(DecodeImage(foreign[0].first).status().message().find("GIF"), std::string::npos);
}

// Found by tests/fuzz (image_decode): "RIFF" plus 2 bytes made the format guess read
// bytes.substr(8, 4) past the end, which throws std::out_of_range and ended the process.
TEST(ImageIo, ShortRiffInputIsRejectedWithoutThrowing) {
  for (const std::string& bytes : {std::string("RIFF\x89\xc9", 6), std::string("RIFF"),
                                   std::string("RIFF\x24\x00\x00\x00WEB", 11)}) {
    const Status status = DecodeImage(bytes).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("image is not PNG or JPEG (starts with 'RIFF')"),
              std::string::npos)
        << status;
    EXPECT_EQ(status.message().find("WebP"), std::string::npos) << status;
  }
  const std::string webp("RIFF\x24\x00\x00\x00WEBP", 12);
  EXPECT_NE(DecodeImage(webp).status().message().find("looks like WebP"), std::string::npos);
}

TEST(ImageIo, RejectsTruncatedAndCorruptPng) {
  auto png = EncodePng(Gradient(40, 40), {{"prompt", "x"}});
  ASSERT_TRUE(png.ok());
  for (const size_t cut : {size_t{4}, size_t{8}, size_t{20}, size_t{33}, size_t{60},
                           png->size() / 2, png->size() - 13, png->size() - 1}) {
    ExpectInvalid(png->substr(0, cut), "PNG cut at " + std::to_string(cut));
  }
  std::string corrupt = *png;
  corrupt[corrupt.find("IDAT") + 10] ^= 0x55;  // Breaks the IDAT CRC (and its zlib data).
  ExpectInvalid(corrupt, "PNG with a corrupt IDAT");
}

TEST(ImageIo, RejectsTruncatedJpeg) {
  const std::string jpeg = EncodeJpeg(Gradient(64, 64), 90);
  ASSERT_GT(jpeg.size(), 200u);
  for (const size_t cut : {size_t{1}, size_t{2}, size_t{3}, size_t{10}, size_t{100},
                           jpeg.size() / 2, jpeg.size() - 2, jpeg.size() - 1}) {
    ExpectInvalid(jpeg.substr(0, cut), "JPEG cut at " + std::to_string(cut));
  }
}

TEST(ImageIo, ProgressiveJpegDecodesAndTooManyScansAreRefused) {
  const cv::Mat rgb(64, 64, CV_8UC3, cv::Scalar(40, 120, 200));
  std::vector<uchar> encoded;
  ASSERT_TRUE(cv::imencode(".jpg", rgb, encoded, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  const std::string progressive(encoded.begin(), encoded.end());
  EXPECT_TRUE(DecodeImage(progressive).ok());  // about 10 scans
  // A baseline file whose one scan (SOS segment and its data) is repeated 150 times.
  const std::string jpeg = EncodeJpeg(Gradient(64, 64), 90);
  const size_t sos = jpeg.find("\xFF\xDA"), eoi = jpeg.rfind("\xFF\xD9");
  ASSERT_NE(sos, std::string::npos);
  std::string repeated = jpeg.substr(0, eoi);
  for (int i = 0; i < 150; ++i) repeated += jpeg.substr(sos, eoi - sos);
  repeated += "\xFF\xD9";
  const auto decoded = DecodeImage(repeated);
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("scans, the limit is 100"), std::string::npos)
      << decoded.status();
}

TEST(ImageIo, HugeHeaderIsRejectedBeforeAnyAllocation) {
  const std::string png = PngWithHeader(100000, 100000);
  ASSERT_LT(png.size(), 100u);
  auto header = PeekImageHeader(png);
  ASSERT_TRUE(header.ok()) << header.status();  // The header itself is well formed.
  EXPECT_EQ(header->width, 100000);
  const long rss_before = PeakRssKb();
  const auto start = std::chrono::steady_clock::now();
  const Status status = DecodeImage(png).status();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "image is 100000x100000 pixels, the limit is 4096 per side and 16777216 in all");
  EXPECT_LT(PeakRssKb() - rss_before, 50 * 1024);
  EXPECT_LT(seconds, 0.5);
  // Wide but short, and within the side limit but over the pixel limit.
  EXPECT_EQ(DecodeImage(PngWithHeader(5000, 1)).status().code(), StatusCode::kInvalidArgument);
  ImageLimits limits;
  limits.max_pixels = 1000;
  const Status pixels = DecodeImage(PngWithHeader(40, 40), limits).status();
  EXPECT_NE(pixels.message().find("40x40"), std::string::npos) << pixels;
}

// Seen while fuzzing image_decode: libpng inflated and kept every zTXt chunk, so a small file of
// compressed text (here 8 x 16 MB in 130 KB) cost 0.6 s of CPU and 190 MB of memory per decode.
// The pixel decoder now skips the chunks it does not need.
TEST(ImageIo, CompressedTextChunksAreNotInflatedToDecodePixels) {
  const StatusOr<std::string> png = EncodePng(Gradient(8, 8));
  ASSERT_TRUE(png.ok()) << png.status();
  std::string compressed;
  {
    const std::string text(size_t{16} << 20, 'a');
    uLongf size = compressBound(text.size());
    compressed.resize(size);
    ASSERT_EQ(compress2(reinterpret_cast<Bytef*>(compressed.data()), &size,
                        reinterpret_cast<const Bytef*>(text.data()), text.size(), 9),
              Z_OK);
    compressed.resize(size);
  }
  std::string texts;
  for (int i = 0; i < 8; ++i) {
    texts += Chunk("zTXt", "key" + std::to_string(i) + std::string(2, '\0') + compressed);
  }
  const std::string bomb = png->substr(0, 33) + texts + png->substr(33);
  ASSERT_LT(bomb.size(), size_t{200} << 10);
  timespec start{}, end{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  const StatusOr<Image> image = DecodeImage(bomb);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  ASSERT_TRUE(image.ok()) << image.status();  // The text is skipped, not refused.
  EXPECT_EQ(image->width, 8);
  const double cpu_seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
  EXPECT_LT(cpu_seconds, 0.1);  // Inflating the 128 MB took 0.6 s (-O2), 0.7 s under ASan.
}

TEST(ImageIo, LimitsApplyToJpegAndEncodedSize) {
  ImageLimits limits;
  limits.max_side = 32;
  const std::string jpeg = EncodeJpeg(Gradient(48, 16), 80);
  const Status side = DecodeImage(jpeg, limits).status();
  EXPECT_EQ(side.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(side.message().find("48x16"), std::string::npos) << side;
  limits = ImageLimits{};
  limits.max_bytes = jpeg.size() - 1;
  const Status bytes = DecodeImage(jpeg, limits).status();
  EXPECT_EQ(bytes.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.message().find(std::to_string(jpeg.size())), std::string::npos) << bytes;
}

TEST(ImageIo, MutatedFilesNeverCrash) {
  auto png = EncodePng(Gradient(24, 24));
  ASSERT_TRUE(png.ok());
  const std::string jpeg = EncodeJpeg(Gradient(24, 24), 85);
  std::mt19937 rng(11);
  int rejected = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = trial % 2 == 0 ? *png : jpeg;
    for (int flips = 0; flips < 4; ++flips) {
      bytes[3 + rng() % (bytes.size() - 3)] = static_cast<char>(rng());
    }
    const auto result = DecodeImage(bytes);
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status();
      ++rejected;
    } else {
      EXPECT_EQ(result->rgb.size(), size_t{3} * result->width * result->height);
    }
  }
  EXPECT_GT(rejected, 50);  // PNG CRCs alone catch nearly every PNG mutation.
}

TEST(ImageIo, ResizeGivesRequestedSizeAndKeepsConstantImagesConstant) {
  Image constant{40, 30, {}};
  for (int i = 0; i < 40 * 30; ++i) constant.rgb.insert(constant.rgb.end(), {77, 130, 200});
  for (const auto& [w, h] :
       std::vector<std::pair<int, int>>{{20, 15}, {7, 3}, {100, 80}, {64, 9}}) {
    const Image out = ResizeImage(constant, w, h);
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    ASSERT_EQ(out.rgb.size(), size_t{3} * w * h);
    for (size_t i = 0; i < out.rgb.size(); i += 3) {
      ASSERT_EQ(out.rgb[i], 77);
      ASSERT_EQ(out.rgb[i + 1], 130);
      ASSERT_EQ(out.rgb[i + 2], 200);
    }
  }
  // Shrinking by 2 with INTER_AREA averages 2x2 blocks exactly.
  const Image gradient = Gradient(4, 2);
  const Image half = ResizeImage(gradient, 2, 1);
  ASSERT_EQ(half.rgb.size(), 6u);
  EXPECT_NEAR(half.rgb[0], (0 + 85 + 0 + 85) / 4.0, 0.5);
  EXPECT_NEAR(half.rgb[3], (170 + 255 + 170 + 255) / 4.0, 0.5);
  EXPECT_TRUE(ResizeImage(constant, 0, 5).rgb.empty());
}

TEST(ImageIo, CenterCropSquareTakesTheMiddle) {
  const Image image = Gradient(5, 3);
  const Image square = CenterCropSquare(image);
  ASSERT_EQ(square.width, 3);
  ASSERT_EQ(square.height, 3);
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(square.rgb[(y * 3 + x) * 3 + c], image.rgb[(y * 5 + x + 1) * 3 + c]);
      }
    }
  }
}

}  // namespace
}  // namespace duet::vision
