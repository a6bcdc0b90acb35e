// `duet data emoji`: turns the npm packages fetched by training/fetch_emoji.sh into shards.
#include <cstdio>

#include "tools/command.h"
#include "tools/commands.h"
#include "training/emoji_sources.h"

namespace duet::tools {
namespace {

using namespace ::duet::training;  // the library this command drives

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"sources", "", "directory filled by training/fetch_emoji.sh", ""},
      {"out", "o", "output dataset directory", ""},
      {"holdout", "", "fraction of emoji with one style held out for validation", "0.1"},
      {"seed", "s", "seed of the split", "0"},
      {"resolution", "", "image side in pixels", "64"},
      {"skin-tones", "", "also one concept per skin-tone variant", "", true},
  };
  return specs;
}

Status BuildEmoji(const Flags& flags) {
  if (flags.positional().size() != 1 || flags.positional()[0] != "emoji") {
    return absl::InvalidArgumentError("expected the dataset name \"emoji\"");
  }
  EmojiSourceOptions options;
  options.sources_dir = flags.Get("sources");
  options.skin_tones = flags.Has("skin-tones");
  DUET_ASSIGN_OR_RETURN(const int64_t resolution, flags.GetInt("resolution", 8, 1024));
  options.resolution = static_cast<int>(resolution);
  DUET_ASSIGN_OR_RETURN(const double holdout, flags.GetDouble("holdout", 0, 1));
  DUET_ASSIGN_OR_RETURN(const uint64_t seed, flags.GetUint64("seed"));
  EmojiBuildReport report;
  DUET_ASSIGN_OR_RETURN(Dataset dataset, BuildEmojiDataset(options, &report));
  AssignSplit(&dataset, holdout, seed);
  DUET_RETURN_IF_ERROR(WriteDataset(flags.Get("out"), dataset));
  std::printf(
      "wrote %s: %lld emoji, %lld images (%zu train, %zu val); skipped %lld without a "
      "Korean label, %lld missing images\n",
      flags.Get("out").c_str(), static_cast<long long>(report.concepts),
      static_cast<long long>(report.images), dataset.Indices(Split::kTrain).size(),
      dataset.Indices(Split::kVal).size(), static_cast<long long>(report.skipped_no_korean),
      static_cast<long long>(report.missing_images));
  return absl::OkStatus();
}

}  // namespace

int RunData(int argc, char** argv) {
  return RunCommand({"data", "emoji --sources DIR -o DIR [flags]",
                     "Builds the emoji training shards (see docs/training.md).", Specs(),
                     {"sources", "out"}},
                    argc, argv, ExitZeroWhenOk(BuildEmoji));
}

}  // namespace duet::tools
