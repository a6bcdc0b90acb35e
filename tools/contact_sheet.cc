// Implementation of tools/contact_sheet.h. Digits come from a 3x5 bitmap font, drawn at
// twice the size so they stay legible next to 128-pixel thumbnails.
#include "tools/contact_sheet.h"

#include <cmath>

#include "vision/image_io.h"
#include "vision/png_codec.h"

namespace duet::tools {
namespace {

constexpr int kGlyphWidth = 3, kGlyphHeight = 5, kScale = 2, kPad = 4;
constexpr int kLabelHeight = kGlyphHeight * kScale + 2 * kPad;
// Rows of each digit 0..9, 3 bits per row (MSB = left).
constexpr uint8_t kDigits[10][kGlyphHeight] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};

void Fill(vision::Image& sheet, int x, int y, uint8_t value) {
  if (x < 0 || y < 0 || x >= sheet.width || y >= sheet.height) return;
  uint8_t* px = &sheet.rgb[(static_cast<size_t>(y) * sheet.width + x) * 3];
  px[0] = px[1] = px[2] = value;
}

void DrawNumber(vision::Image& sheet, uint64_t number, int x, int y) {
  const std::string text = std::to_string(number);
  for (size_t i = 0; i < text.size(); ++i) {
    const int digit = text[i] - '0';
    const int left = x + static_cast<int>(i) * (kGlyphWidth + 1) * kScale;
    for (int row = 0; row < kGlyphHeight; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (((kDigits[digit][row] >> (kGlyphWidth - 1 - col)) & 1) == 0) continue;
        for (int dy = 0; dy < kScale; ++dy) {
          for (int dx = 0; dx < kScale; ++dx) {
            Fill(sheet, left + col * kScale + dx, y + row * kScale + dy, 0);
          }
        }
      }
    }
  }
}

void Blit(const vision::Image& image, vision::Image& sheet, int x0, int y0) {
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = &image.rgb[static_cast<size_t>(y) * image.width * 3];
    uint8_t* dst = &sheet.rgb[(static_cast<size_t>(y0 + y) * sheet.width + x0) * 3];
    std::copy(src, src + image.width * 3, dst);
  }
}

}  // namespace

StatusOr<std::string> MakeContactSheet(const std::vector<SheetEntry>& entries, int thumb) {
  if (entries.empty()) return absl::InvalidArgumentError("contact sheet needs at least one draft");
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(entries.size()))));
  const int rows = (static_cast<int>(entries.size()) + columns - 1) / columns;
  const int cell_w = thumb + kPad, cell_h = thumb + kLabelHeight;
  vision::Image sheet;
  sheet.width = columns * cell_w + kPad;
  sheet.height = rows * cell_h + kPad;
  sheet.rgb.assign(static_cast<size_t>(sheet.width) * sheet.height * 3, 255);
  std::string seeds;
  for (size_t i = 0; i < entries.size(); ++i) {
    StatusOr<vision::Image> image = vision::DecodeImage(entries[i].png);
    if (!image.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("draft ", i, ": ", image.status().message()));
    }
    const double scale = std::min(1.0, static_cast<double>(thumb) / std::max(image->width,
                                                                           image->height));
    const int w = std::max(1, static_cast<int>(image->width * scale));
    const int h = std::max(1, static_cast<int>(image->height * scale));
    const vision::Image small = vision::ResizeImage(*image, w, h);
    const int x = kPad + static_cast<int>(i % columns) * cell_w;
    const int y = kPad + static_cast<int>(i / columns) * cell_h;
    Blit(small, sheet, x, y);
    DrawNumber(sheet, entries[i].seed, x, y + h + kPad);
    absl::StrAppend(&seeds, i == 0 ? "" : " ", entries[i].seed);
  }
  return vision::EncodePng(sheet, {{"seeds", seeds}});
}

}  // namespace duet::tools
