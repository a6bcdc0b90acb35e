// A contact sheet: every draft of a GenerateImages call as a thumbnail in one PNG, each labelled
// with its seed, so a person can pick drafts at a glance and regenerate one by its seed.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace duet::tools {

struct SheetEntry {
  std::string png;    // the draft, PNG or JPEG bytes
  uint64_t seed = 0;  // drawn under the thumbnail
};

// Thumbnails of at most `thumb` pixels a side in a near-square grid, seeds in a small pixel font
// under each. The PNG carries a "seeds" text chunk listing them in order. InvalidArgument when
// an entry does not decode or there are none. Thread-safe.
StatusOr<std::string> MakeContactSheet(const std::vector<SheetEntry>& entries, int thumb = 128);

}  // namespace duet::tools
