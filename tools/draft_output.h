// How `duet generate` writes its drafts, in process (--model) and through a gateway (--server)
// alike, so both give the same files and the same stdout:
//   <out>/draft_<NNN>_seed_<S>.png  NNN = position in the output (rank order with --rerank,
//                                   request order otherwise), S = the draft's seed;
//   <out>/contact_sheet.png         every draft as a thumbnail labelled with its seed;
// and one line per file on stdout: "<path>\tseed <S>\tscore <log p>" ("score 0.0000" without
// --rerank), then "<path>\t<n> drafts" for the sheet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/contact_sheet.h"

namespace duet::tools {

class DraftWriter {
 public:
  // Creates `out` (and its parents); InvalidArgument naming --out when it cannot.
  static StatusOr<DraftWriter> Open(const std::string& out);

  // Writes the next draft's PNG (atomically) and prints its line.
  Status Add(uint64_t seed, double score, const std::string& png);
  // Writes and prints the contact sheet of every draft added.
  Status Finish();

 private:
  explicit DraftWriter(std::string out) : out_(std::move(out)) {}
  std::string out_;
  std::vector<SheetEntry> sheet_;
};

}  // namespace duet::tools
