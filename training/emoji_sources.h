// Builds the emoji dataset from the npm packages training/fetch_emoji.sh unpacks: names and
// categories from emoji-datasource, 64x64 Google (Apache-2.0) and Twitter (CC-BY 4.0) images,
// English and Korean labels and tags from emojibase-data.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "training/dataset.h"

namespace duet::training {

// Where each package lies under the sources directory (fetch_emoji.sh's layout).
inline constexpr char kEmojiJson[] = "emoji-datasource/package/emoji.json";
inline constexpr char kGoogleImages[] = "emoji-datasource-google/package/img/google/64";
inline constexpr char kTwitterImages[] = "emoji-datasource-twitter/package/img/twitter/64";
inline constexpr char kEmojibaseEn[] = "emojibase-data/package/en/data.json";
inline constexpr char kEmojibaseKo[] = "emojibase-data/package/ko/data.json";

struct EmojiSourceOptions {
  std::string sources_dir;  // the directory fetch_emoji.sh filled
  bool skin_tones = false;  // also one concept per skin-tone variant
  int resolution = 64;      // images are resized when this is not 64
};

struct EmojiBuildReport {
  int64_t concepts = 0;           // emoji kept
  int64_t images = 0;             // images kept (both styles)
  int64_t skipped_no_korean = 0;  // emoji without a Korean label in emojibase-data
  int64_t missing_images = 0;     // (emoji, style) pairs whose PNG is absent
};

// Reads the packages and returns every emoji that has a Korean label and at least one image;
// ids follow emoji-datasource's sort_order, styles are {"google", "twitter"}, and every image is
// in the training split (call AssignSplit next). Captions (docs/training.md): English = the
// emojibase label, the emoji-datasource name, short names, tags; Korean = label, then tags.
// NotFound for a missing package file; InvalidArgument for malformed JSON or a PNG that fails
// to decode (naming the file).
StatusOr<Dataset> BuildEmojiDataset(const EmojiSourceOptions& options, EmojiBuildReport* report);

// "1f3f3-FE0F-200d-1f308" -> "1F3F3-200D-1F308": upper case without variation selectors, the
// key both packages are joined on.
std::string NormalizeHexcode(const std::string& hexcode);

}  // namespace duet::training
