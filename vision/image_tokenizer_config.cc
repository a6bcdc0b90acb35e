// ImageTokenizerConfig: validation and JSON, kept apart from the modules so the model file reads
// like the architecture.
#include <functional>
#include <map>
#include <string>

#include "vision/image_tokenizer_config.h"

namespace duet::vision {
namespace {

constexpr int kMaxLevels = 16;
constexpr int kMaxLevel = 256;
constexpr int64_t kMaxCodebookSize = int64_t{1} << 20;

// Reads an integer field into *out; InvalidArgument naming `key` for other JSON types.
Status ReadInt(const nlohmann::json& value, const std::string& key, int* out) {
  if (!value.is_number_integer() || value.get<int64_t>() < INT32_MIN ||
      value.get<int64_t>() > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("image tokenizer config key '", key,
                                                   "' must be an integer, got ", value.dump()));
  }
  *out = value.get<int>();
  return absl::OkStatus();
}

Status ReadIntList(const nlohmann::json& value, const std::string& key, std::vector<int>* out) {
  if (!value.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image tokenizer config key '", key, "' must be an array of integers, got ", value.dump()));
  }
  out->clear();
  for (const auto& item : value) {
    int level = 0;
    DUET_RETURN_IF_ERROR(ReadInt(item, key, &level));
    out->push_back(level);
  }
  return absl::OkStatus();
}

}  // namespace

int ImageTokenizerConfig::codebook_size() const {
  int64_t size = 1;
  for (const int level : fsq_levels) size *= level;
  return static_cast<int>(size);
}

int ImageTokenizerConfig::latent_channels() const {
  return latent_dim != 0 ? latent_dim : static_cast<int>(fsq_levels.size());
}

Status ImageTokenizerConfig::Validate() const {
  DUET_RETURN_IF_ERROR(CheckRange("resolution", resolution, 8, 1024));
  DUET_RETURN_IF_ERROR(CheckRange("patch", patch, 1, 16));
  if (resolution % (2 * patch) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("resolution must be a multiple of 2 * patch (",
                                                   2 * patch, "), got ", resolution));
  }
  DUET_RETURN_IF_ERROR(CheckRange("channels", channels, 4, 2048));
  DUET_RETURN_IF_ERROR(CheckRange("res_blocks", res_blocks, 0, 16));
  DUET_RETURN_IF_ERROR(
      CheckRange("fsq_levels size", static_cast<int>(fsq_levels.size()), 1, kMaxLevels));
  int64_t size = 1;
  for (const int level : fsq_levels) {
    DUET_RETURN_IF_ERROR(CheckRange("fsq_levels entry", level, 2, kMaxLevel));
    size *= level;
    if (size > kMaxCodebookSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("fsq_levels product must be at most ", kMaxCodebookSize));
    }
  }
  if (latent_dim != 0 && latent_dim != static_cast<int>(fsq_levels.size())) {
    return absl::InvalidArgumentError(absl::StrCat("latent_dim must be 0 or fsq_levels size (",
                                                   fsq_levels.size(), "), got ", latent_dim));
  }
  return absl::OkStatus();
}

nlohmann::json ImageTokenizerConfig::ToJson() const {
  return {{"resolution", resolution}, {"patch", patch},           {"channels", channels},
          {"res_blocks", res_blocks}, {"latent_dim", latent_dim}, {"fsq_levels", fsq_levels}};
}

StatusOr<ImageTokenizerConfig> ImageTokenizerConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError("image tokenizer config must be a JSON object");
  }
  ImageTokenizerConfig config;
  const std::map<std::string, int*> int_fields = {{"resolution", &config.resolution},
                                                  {"patch", &config.patch},
                                                  {"channels", &config.channels},
                                                  {"res_blocks", &config.res_blocks},
                                                  {"latent_dim", &config.latent_dim}};
  for (const auto& [key, value] : json.items()) {
    if (const auto it = int_fields.find(key); it != int_fields.end()) {
      DUET_RETURN_IF_ERROR(ReadInt(value, key, it->second));
    } else if (key == "fsq_levels") {
      DUET_RETURN_IF_ERROR(ReadIntList(value, key, &config.fsq_levels));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown image tokenizer config key '", key, "'"));
    }
  }
  DUET_RETURN_IF_ERROR(config.Validate());
  return config;
}

}  // namespace duet::vision
