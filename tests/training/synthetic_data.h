// A tiny synthetic dataset for the training tests: 12 "emoji" (coloured shapes) in two styles
// (filled, outlined) at 16x16, with English and Korean captions, made in memory in milliseconds.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "training/dataset.h"

namespace duet::training::testing {

inline constexpr int kSyntheticResolution = 16;
inline constexpr int kSyntheticConcepts = 12;

// Concept i: colour i % 4, shape i / 4 (square, disc, bar). Style 0 fills the shape, style 1
// draws its outline. Split: AssignSplit with a holdout that keeps at least one concept out.
inline Dataset SyntheticDataset() {
  const char* colour_en[] = {"red", "green", "blue", "yellow"};
  const char* colour_ko[] = {"빨간", "초록", "파란", "노란"};
  const char* shape_en[] = {"square", "disc", "bar"};
  const char* shape_ko[] = {"네모", "원", "막대"};
  const uint8_t rgb[4][3] = {{220, 30, 30}, {30, 180, 60}, {40, 60, 220}, {230, 200, 20}};
  const int r = kSyntheticResolution;
  Dataset d;
  d.resolution = r;
  d.style_names = {"filled", "outline"};
  const int64_t n = 2 * kSyntheticConcepts;
  d.images = torch::full({n, r, r, 3}, 255, torch::kUInt8);
  d.ids = torch::empty({n}, torch::kInt64);
  d.styles = torch::empty({n}, torch::kUInt8);
  auto px = d.images.accessor<uint8_t, 4>();
  for (int id = 0; id < kSyntheticConcepts; ++id) {
    const int colour = id % 4, shape = id / 4;
    d.concepts.push_back(
        {"C" + std::to_string(id),
         "synthetic",
         {std::string(colour_en[colour]) + " " + shape_en[shape], shape_en[shape],
          colour_en[colour]},
         {std::string(colour_ko[colour]) + " " + shape_ko[shape], shape_ko[shape]}});
    for (int style = 0; style < 2; ++style) {
      const int64_t i = 2 * id + style;
      d.ids[i] = id;
      d.styles[i] = style;
      for (int y = 0; y < r; ++y) {
        for (int x = 0; x < r; ++x) {
          const int dx = x - r / 2, dy = y - r / 2;
          const bool inside = shape == 0   ? std::abs(dx) < 5 && std::abs(dy) < 5
                              : shape == 1 ? dx * dx + dy * dy < 36
                                           : std::abs(dy) < 2 && std::abs(dx) < 7;
          const bool inner = shape == 0   ? std::abs(dx) < 3 && std::abs(dy) < 3
                             : shape == 1 ? dx * dx + dy * dy < 12
                                          : false;
          if (!inside || (style == 1 && inner)) continue;
          for (int c = 0; c < 3; ++c) px[i][y][x][c] = rgb[colour][c];
        }
      }
    }
  }
  AssignSplit(&d, 0.25, /*seed=*/3);
  return d;
}

}  // namespace duet::training::testing
