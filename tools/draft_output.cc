// Implementation of tools/draft_output.h.
#include "tools/draft_output.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file.h"

namespace duet::tools {

StatusOr<DraftWriter> DraftWriter::Open(const std::string& out) {
  std::error_code error;
  std::filesystem::create_directories(out, error);
  if (error) return absl::InvalidArgumentError(absl::StrCat("--out ", out, ": ", error.message()));
  return DraftWriter(out);
}

Status DraftWriter::Add(uint64_t seed, double score, const std::string& png) {
  char name[64];
  std::snprintf(name, sizeof(name), "draft_%03zu_seed_%llu.png", sheet_.size(),
                static_cast<unsigned long long>(seed));
  const std::string path = out_ + "/" + name;
  DUET_RETURN_IF_ERROR(WriteFileAtomic(path, png));
  std::printf("%s\tseed %llu\tscore %.4f\n", path.c_str(), static_cast<unsigned long long>(seed),
              score);
  std::fflush(stdout);
  sheet_.push_back({png, seed});
  return absl::OkStatus();
}

Status DraftWriter::Finish() {
  DUET_ASSIGN_OR_RETURN(const std::string png, MakeContactSheet(sheet_));
  const std::string path = out_ + "/contact_sheet.png";
  DUET_RETURN_IF_ERROR(WriteFileAtomic(path, png));
  std::printf("%s\t%zu drafts\n", path.c_str(), sheet_.size());
  return absl::OkStatus();
}

}  // namespace duet::tools
