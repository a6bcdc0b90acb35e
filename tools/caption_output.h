// How `duet caption` takes its inputs and reports, in process (--model) and through a gateway
// (--server) alike: the same flags, lines and exit code.
//   inputs: the files named, then with --dir every file of that directory, sorted by name;
//   --format jsonl (default): one JSON line per input in input order, {"path", "caption",
//     "score"} or {"path", "error"};
//   --format tsv: "path<TAB>caption<TAB>score" per captioned input, errors on stderr only;
//   stderr ends with "duet caption: N captioned, M failed"; the exit code is 1 when any input
//   failed (the others are still captioned), 0 otherwise.
#pragma once

#include <string>
#include <vector>

#include "common/flags.h"
#include "common/status.h"

namespace duet::tools {

// --dir and --format, for a command's spec list.
std::vector<FlagSpec> CaptionOutputFlagSpecs();

// The input paths; InvalidArgument when there are none or --dir cannot be listed.
StatusOr<std::vector<std::string>> CaptionInputs(const Flags& flags);

class CaptionPrinter {
 public:
  // InvalidArgument naming --format for anything but jsonl or tsv.
  static StatusOr<CaptionPrinter> Make(const Flags& flags);

  void Captioned(const std::string& path, const std::string& caption, double score);
  void Failed(const std::string& path, const std::string& error);
  // Prints the summary; returns the exit code.
  int Finish() const;

 private:
  explicit CaptionPrinter(bool tsv) : tsv_(tsv) {}
  bool tsv_;
  size_t captioned_ = 0, failed_ = 0;
};

}  // namespace duet::tools
