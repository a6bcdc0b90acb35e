// libpng in memory: a read callback over a string_view, a write callback into a std::string, and
// setjmp-guarded runners that hold no C++ objects with destructors (libpng may longjmp past them).
#include "vision/png_codec.h"

#include <png.h>
#include <zlib.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"

namespace duet::vision {
namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
constexpr size_t kPngIhdrEnd = 33;  // Signature (8) + length, type (8) + IHDR data (13) + CRC (4).
constexpr int kOpaque = 255;

uint32_t ReadBigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Shared by both directions: the libpng message of the last error.
struct ErrorSink {
  char message[256] = "";
};

void OnPngError(png_structp png, png_const_charp message) {
  auto* sink = static_cast<ErrorSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof(sink->message), "%s", message);
  png_longjmp(png, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}  // Benign (e.g. odd sRGB profiles).

struct DecodeState {
  ErrorSink error;
  std::string_view bytes;
  size_t offset = 0;
  ImageLimits limits;
  png_structp png = nullptr;
  png_infop info = nullptr;
  // Outputs. Owned by the caller's frame so that a longjmp never skips their destructors.
  std::vector<uint8_t>* pixels = nullptr;  // Rows of width * channels bytes.
  std::vector<png_bytep>* rows = nullptr;
  int width = 0, height = 0, channels = 0;
};

void ReadFromMemory(png_structp png, png_bytep out, png_size_t count) {
  auto* state = static_cast<DecodeState*>(png_get_io_ptr(png));
  if (count > state->bytes.size() - state->offset) png_error(png, "PNG data is truncated");
  std::memcpy(out, state->bytes.data() + state->offset, count);
  state->offset += count;
}

// Runs the libpng read. False after a libpng error (state->error says why).
bool RunPngDecode(DecodeState* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_read_fn(s->png, s, ReadFromMemory);
  png_set_user_limits(s->png, s->limits.max_side, s->limits.max_side);
  png_set_chunk_malloc_max(s->png, s->limits.max_bytes);
  // Pixels need only IHDR, PLTE, tRNS and IDAT (gamma and profiles are ignored; text has
  // ReadPngText and its budget). Left on, libpng inflates and keeps up to 1000 zTXt/iTXt/iCCP
  // chunks of chunk_malloc_max each: a 600 KB file of 30 MB texts cost 5 s and 680 MB.
  png_set_keep_unknown_chunks(s->png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_read_info(s->png, s->info);
  const png_uint_32 width = png_get_image_width(s->png, s->info);
  const png_uint_32 height = png_get_image_height(s->png, s->info);
  if (uint64_t{width} * height > static_cast<uint64_t>(s->limits.max_pixels)) {
    png_error(s->png, "image has more pixels than the limit");
  }
  png_set_expand(s->png);       // Palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha.
  png_set_scale_16(s->png);     // 16-bit samples -> 8 bits, rounded.
  png_set_gray_to_rgb(s->png);  // Gray (+ alpha) -> RGB (+ alpha).
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  const int channels = png_get_channels(s->png, s->info);
  if ((channels != 3 && channels != 4) || png_get_bit_depth(s->png, s->info) != 8 ||
      png_get_rowbytes(s->png, s->info) != size_t{width} * channels) {
    png_error(s->png, "unexpected pixel layout after transforms");
  }
  s->pixels->resize(size_t{width} * height * channels);
  s->rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) {
    (*s->rows)[y] = s->pixels->data() + size_t{y} * width * channels;
  }
  png_read_image(s->png, s->rows->data());
  png_read_end(s->png, nullptr);
  s->width = static_cast<int>(width), s->height = static_cast<int>(height);
  s->channels = channels;
  return true;
}

// RGBA8 -> RGB8 over a white background: round(a * c + (1 - a) * 255).
std::vector<uint8_t> CompositeOverWhite(const std::vector<uint8_t>& rgba) {
  std::vector<uint8_t> rgb(rgba.size() / 4 * 3);
  for (size_t i = 0, o = 0; i < rgba.size(); i += 4, o += 3) {
    const int alpha = rgba[i + 3];
    for (int c = 0; c < 3; ++c) {
      const int blended = alpha * rgba[i + c] + (kOpaque - alpha) * kOpaque;
      rgb[o + c] = static_cast<uint8_t>((blended + kOpaque / 2) / kOpaque);
    }
  }
  return rgb;
}

struct EncodeState {
  ErrorSink error;
  const Image* image = nullptr;
  png_textp text = nullptr;
  int text_count = 0;
  png_bytep* rows = nullptr;
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::string* out = nullptr;
};

void WriteToString(png_structp png, png_bytep data, png_size_t count) {
  auto* state = static_cast<EncodeState*>(png_get_io_ptr(png));
  state->out->append(reinterpret_cast<const char*>(data), count);
}

void FlushNothing(png_structp) {}

// Runs the libpng write. False after a libpng error (state->error says why).
bool RunPngEncode(EncodeState* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_write_fn(s->png, s, WriteToString, FlushNothing);
  png_set_IHDR(s->png, s->info, s->image->width, s->image->height, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (s->text_count > 0) png_set_text(s->png, s->info, s->text, s->text_count);
  png_write_info(s->png, s->info);
  png_write_image(s->png, s->rows);
  png_write_end(s->png, s->info);
  return true;
}

// Validates `text` and fills libpng iTXt records. `chunks` point into `keywords` and `text`,
// which must outlive them.
Status PrepareText(const std::vector<PngTextEntry>& text, std::vector<std::string>* keywords,
                   std::vector<png_text>* chunks) {
  for (const auto& [key, value] : text) {
    DUET_ASSIGN_OR_RETURN(std::string keyword, PngKeywordFromUtf8(key));
    keywords->push_back(std::move(keyword));
    DUET_RETURN_IF_ERROR(CheckUtf8Text(value, "PNG text value for '" + key + "'"));
  }
  chunks->resize(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    png_text& chunk = (*chunks)[i];
    std::memset(&chunk, 0, sizeof(chunk));
    chunk.compression = PNG_ITXT_COMPRESSION_NONE;
    chunk.key = const_cast<char*>((*keywords)[i].c_str());
    chunk.text = const_cast<char*>(text[i].second.c_str());
    chunk.itxt_length = text[i].second.size();
  }
  return absl::OkStatus();
}

// Inflated size of the filtered scanlines an IHDR describes: one filter byte per row, per
// Adam7 pass when interlaced. A valid IDAT stream inflates to exactly this. 0 for an invalid
// colour type or bit depth (libpng reports those).
uint64_t ScanlineBytes(const unsigned char* ihdr_data) {
  const uint64_t width = ReadBigEndian32(ihdr_data), height = ReadBigEndian32(ihdr_data + 4);
  const int bit_depth = ihdr_data[8], color_type = ihdr_data[9], interlace = ihdr_data[12];
  const int channels = color_type == 0 || color_type == 3 ? 1
                       : color_type == 4              ? 2
                       : color_type == 2              ? 3
                       : color_type == 6              ? 4
                                                      : 0;
  if (channels == 0 || bit_depth < 1 || bit_depth > 16) return 0;
  const uint64_t bits_per_pixel = static_cast<uint64_t>(channels) * bit_depth;
  auto pass_bytes = [&](uint64_t x0, uint64_t y0, uint64_t dx, uint64_t dy) -> uint64_t {
    const uint64_t w = width > x0 ? (width - x0 + dx - 1) / dx : 0;
    const uint64_t h = height > y0 ? (height - y0 + dy - 1) / dy : 0;
    return w == 0 ? 0 : h * (1 + (w * bits_per_pixel + 7) / 8);
  };
  if (interlace == 0) return pass_bytes(0, 0, 1, 1);
  constexpr uint64_t kAdam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                     {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};  // x0 y0 dx dy
  uint64_t total = 0;
  for (const auto& p : kAdam7) total += pass_bytes(p[0], p[1], p[2], p[3]);
  return total;
}

// Inflates IDAT data into a scratch buffer, counting what comes out, and stops once that passes
// `needed`. libpng would inflate all of it, so a small file could cost gigabytes of inflation;
// here the work is bounded by the image's own size. A malformed stream is left to libpng.
class IdatBudget {
 public:
  explicit IdatBudget(uint64_t needed) : needed_(needed), scratch_(64 << 10) {
    started_ = inflateInit(&z_) == Z_OK;
  }
  ~IdatBudget() {
    if (started_) inflateEnd(&z_);
  }
  bool started() const { return started_; }
  bool exceeded() const { return z_.total_out > needed_; }

  // Inflates one IDAT chunk's data, until the stream ends or errs, or the budget is exceeded.
  void Feed(const unsigned char* data, uint32_t size) {
    z_.next_in = const_cast<unsigned char*>(data);
    z_.avail_in = size;
    while (z_.avail_in > 0 && result_ == Z_OK && !exceeded()) {
      z_.next_out = scratch_.data();
      z_.avail_out = static_cast<uInt>(scratch_.size());
      result_ = inflate(&z_, Z_NO_FLUSH);
      if (result_ == Z_BUF_ERROR) result_ = Z_OK;  // no progress possible until more input
      if (z_.avail_out != 0 && z_.avail_in == 0) break;
    }
  }

 private:
  const uint64_t needed_;
  std::vector<unsigned char> scratch_;
  z_stream z_ = {};
  bool started_ = false;
  int result_ = Z_OK;
};

// One walk over the chunks before libpng sees them:
// - Every chunk must lie inside the input. libpng allocates a chunk's declared length before it
//   reads the chunk, and for ancillary chunks over png_set_chunk_malloc_max it only warns, so an
//   iTXt header claiming 1.8 GB in a 192-byte file got a 1.8 GB buffer. A chunk header cut short
//   (under 8 bytes left) is left to libpng, which reports the truncation without allocating.
// - The IDAT stream may inflate to no more than the scanlines the header describes.
Status CheckChunks(std::string_view bytes, int width, int height) {
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint64_t needed = ScanlineBytes(u + 16);  // 0: libpng rejects the header
  IdatBudget idat(needed);
  if (needed > 0 && !idat.started()) return absl::ResourceExhaustedError("zlib could not start");
  for (size_t offset = kPngSignature.size(); bytes.size() - offset >= 8;) {
    const uint64_t length = ReadBigEndian32(u + offset);
    const std::string_view type = bytes.substr(offset + 4, 4);
    if (length + 12 > bytes.size() - offset) {
      const std::string shown = absl::CHexEscape(absl::string_view(type.data(), type.size()));
      return absl::InvalidArgumentError(absl::StrCat("PNG data is truncated: chunk '", shown,
                                                     "' at byte ", offset, " needs ", length + 12,
                                                     " bytes, ", bytes.size() - offset, " remain"));
    }
    if (type == "IEND") break;
    if (type == "IDAT" && needed > 0) {
      idat.Feed(u + offset + 8, static_cast<uint32_t>(length));
      if (idat.exceeded()) {
        return absl::InvalidArgumentError(
            absl::StrCat("PNG image data inflates to more than the ", needed, " bytes a ", width,
                         "x", height, " image needs"));
      }
    }
    offset += 12 + length;
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<ImageHeader> PeekPngHeader(std::string_view bytes) {
  if (bytes.substr(0, kPngSignature.size()) != kPngSignature) {
    return absl::InvalidArgumentError("data is not a PNG file (bad signature)");
  }
  if (bytes.size() < kPngIhdrEnd) return absl::InvalidArgumentError("PNG data is truncated");
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  if (ReadBigEndian32(u + 8) != 13 || bytes.substr(12, 4) != "IHDR") {
    return absl::InvalidArgumentError("PNG does not start with a valid IHDR chunk");
  }
  if (ReadBigEndian32(u + 29) != crc32(0L, u + 12, 17)) {  // CRC over type and data.
    return absl::InvalidArgumentError("PNG IHDR chunk has a bad CRC");
  }
  const uint32_t width = ReadBigEndian32(u + 16);
  const uint32_t height = ReadBigEndian32(u + 20);
  if (width == 0 || height == 0 || width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("PNG IHDR has invalid dimensions ", width, "x", height));
  }
  ImageHeader header;
  header.format = ImageFormat::kPng;
  header.width = static_cast<int>(width);
  header.height = static_cast<int>(height);
  return header;
}

StatusOr<Image> DecodePng(std::string_view bytes, const ImageLimits& limits) {
  DUET_RETURN_IF_ERROR(CheckEncodedSize(bytes.size(), limits));
  DUET_ASSIGN_OR_RETURN(const ImageHeader header, PeekPngHeader(bytes));
  DUET_RETURN_IF_ERROR(CheckImageLimits(header.width, header.height, limits));
  DUET_RETURN_IF_ERROR(CheckChunks(bytes, header.width, header.height));
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  DecodeState state;
  state.bytes = bytes;
  state.limits = limits;
  state.pixels = &pixels;
  state.rows = &rows;
  state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state.error, OnPngError, OnPngWarning);
  if (state.png != nullptr) state.info = png_create_info_struct(state.png);
  if (state.info == nullptr) {
    png_destroy_read_struct(&state.png, nullptr, nullptr);
    return absl::ResourceExhaustedError("libpng could not allocate its read state");
  }
  const bool ok = RunPngDecode(&state);
  png_destroy_read_struct(&state.png, &state.info, nullptr);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("PNG is corrupt: ", state.error.message));
  }
  Image image;
  image.width = state.width;
  image.height = state.height;
  image.rgb = state.channels == 4 ? CompositeOverWhite(pixels) : std::move(pixels);
  return image;
}

StatusOr<std::string> EncodePng(const Image& image, const std::vector<PngTextEntry>& text) {
  if (image.width <= 0 || image.height <= 0 || image.width > static_cast<int>(PNG_UINT_31_MAX) ||
      image.rgb.size() != size_t{static_cast<size_t>(image.width)} * image.height * 3) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode a ", image.width, "x",
                                                   image.height, " image with ", image.rgb.size(),
                                                   " RGB bytes"));
  }
  std::vector<std::string> keywords;
  std::vector<png_text> chunks;
  DUET_RETURN_IF_ERROR(PrepareText(text, &keywords, &chunks));
  std::vector<png_bytep> rows(image.height);
  for (int y = 0; y < image.height; ++y) {
    rows[y] = const_cast<png_bytep>(image.rgb.data() + size_t{3} * image.width * y);
  }
  std::string out;
  EncodeState state;
  state.image = &image;
  state.text = chunks.data();
  state.text_count = static_cast<int>(chunks.size());
  state.rows = rows.data();
  state.out = &out;
  state.png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &state.error, OnPngError, OnPngWarning);
  if (state.png != nullptr) state.info = png_create_info_struct(state.png);
  if (state.info == nullptr) {
    png_destroy_write_struct(&state.png, nullptr);
    return absl::ResourceExhaustedError("libpng could not allocate its write state");
  }
  const bool ok = RunPngEncode(&state);
  png_destroy_write_struct(&state.png, &state.info);
  if (!ok) return absl::InternalError(absl::StrCat("PNG encoding failed: ", state.error.message));
  return out;
}

}  // namespace duet::vision
