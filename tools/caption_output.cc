// Implementation of tools/caption_output.h.
#include "tools/caption_output.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace duet::tools {
namespace {

void PrintJson(const nlohmann::json& line) {
  std::fputs((line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n").c_str(),
             stdout);
  std::fflush(stdout);
}

}  // namespace

std::vector<FlagSpec> CaptionOutputFlagSpecs() {
  return {{"dir", "", "also caption every file in this directory (sorted by name)", ""},
          {"format", "", "output: jsonl (a JSON object per line) or tsv", "jsonl"}};
}

StatusOr<std::vector<std::string>> CaptionInputs(const Flags& flags) {
  std::vector<std::string> paths = flags.positional();
  if (!flags.Get("dir").empty()) {
    std::error_code error;
    std::vector<std::string> listed;
    for (const auto& entry : std::filesystem::directory_iterator(flags.Get("dir"), error)) {
      if (entry.is_regular_file()) listed.push_back(entry.path().string());
    }
    if (error) return absl::InvalidArgumentError(absl::StrCat("--dir: ", error.message()));
    std::sort(listed.begin(), listed.end());
    paths.insert(paths.end(), listed.begin(), listed.end());
  }
  if (paths.empty()) return absl::InvalidArgumentError("expected image files or --dir");
  return paths;
}

StatusOr<CaptionPrinter> CaptionPrinter::Make(const Flags& flags) {
  const std::string format = flags.Get("format");
  if (format != "jsonl" && format != "tsv") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format must be jsonl or tsv, got '", format, "'"));
  }
  return CaptionPrinter(format == "tsv");
}

void CaptionPrinter::Captioned(const std::string& path, const std::string& caption,
                               double score) {
  ++captioned_;
  if (tsv_) {
    std::printf("%s\t%s\t%.4f\n", path.c_str(), caption.c_str(), score);
    std::fflush(stdout);
  } else {
    PrintJson({{"path", path}, {"caption", caption}, {"score", score}});
  }
}

void CaptionPrinter::Failed(const std::string& path, const std::string& error) {
  ++failed_;
  if (tsv_) {
    std::fprintf(stderr, "duet caption: %s: %s\n", path.c_str(), error.c_str());
  } else {
    PrintJson({{"path", path}, {"error", error}});
  }
}

int CaptionPrinter::Finish() const {
  std::fprintf(stderr, "duet caption: %zu captioned, %zu failed\n", captioned_, failed_);
  return failed_ == 0 ? 0 : 1;
}

}  // namespace duet::tools
