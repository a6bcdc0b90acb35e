// Implementation of training/train_config.h: JSON round trip and range checks.
#include "training/train_config.h"

#include <cmath>
#include <set>

#include "common/compute_dtype.h"

namespace duet::training {
namespace {

nlohmann::json StageJson(const StageConfig& s) {
  return {
      {"steps", s.steps},        {"batch_size", s.batch_size},     {"lr", s.lr},
      {"warmup", s.warmup},      {"min_lr_ratio", s.min_lr_ratio}, {"weight_decay", s.weight_decay},
      {"grad_clip", s.grad_clip}, {"caption_batch_size", s.caption_batch_size},
      {"caption_variants", s.caption_variants}, {"first_codes", s.first_codes},
      {"first_codes_weight", s.first_codes_weight}};
}

Status CheckKeys(const nlohmann::json& json, const std::string& where,
                 const std::set<std::string>& known) {
  if (!json.is_object()) return absl::InvalidArgumentError(where + " must be a JSON object");
  for (const auto& item : json.items()) {
    if (!known.count(item.key())) {
      return absl::InvalidArgumentError(absl::StrCat("unknown key ", where, ".", item.key()));
    }
  }
  return absl::OkStatus();
}

// Reads json[key] into *out when present; InvalidArgument naming the key on a type mismatch.
template <typename T>
Status Read(const nlohmann::json& json, const std::string& where, const char* key, T* out) {
  const auto it = json.find(key);
  if (it == json.end()) return absl::OkStatus();
  const bool ok = std::is_same_v<T, std::string> ? it->is_string()
                  : std::is_floating_point_v<T>  ? it->is_number()
                                                 : it->is_number_integer();
  if (!ok) return absl::InvalidArgumentError(absl::StrCat(where, ".", key, " has the wrong type"));
  *out = it->get<T>();
  return absl::OkStatus();
}

StatusOr<StageConfig> StageFromJson(const nlohmann::json& json, const std::string& where,
                                    StageConfig s) {
  DUET_RETURN_IF_ERROR(CheckKeys(
      json, where,
      {"steps", "batch_size", "lr", "warmup", "min_lr_ratio", "weight_decay", "grad_clip",
       "caption_batch_size", "caption_variants", "first_codes", "first_codes_weight"}));
  DUET_RETURN_IF_ERROR(Read(json, where, "steps", &s.steps));
  DUET_RETURN_IF_ERROR(Read(json, where, "batch_size", &s.batch_size));
  DUET_RETURN_IF_ERROR(Read(json, where, "lr", &s.lr));
  DUET_RETURN_IF_ERROR(Read(json, where, "warmup", &s.warmup));
  DUET_RETURN_IF_ERROR(Read(json, where, "min_lr_ratio", &s.min_lr_ratio));
  DUET_RETURN_IF_ERROR(Read(json, where, "weight_decay", &s.weight_decay));
  DUET_RETURN_IF_ERROR(Read(json, where, "grad_clip", &s.grad_clip));
  DUET_RETURN_IF_ERROR(Read(json, where, "caption_batch_size", &s.caption_batch_size));
  DUET_RETURN_IF_ERROR(Read(json, where, "caption_variants", &s.caption_variants));
  DUET_RETURN_IF_ERROR(Read(json, where, "first_codes", &s.first_codes));
  DUET_RETURN_IF_ERROR(Read(json, where, "first_codes_weight", &s.first_codes_weight));
  return s;
}

Status ValidateStage(const StageConfig& s, const std::string& where) {
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>((where + ".steps").c_str(), s.steps, 1, 100'000'000));
  DUET_RETURN_IF_ERROR(CheckRange((where + ".batch_size").c_str(), s.batch_size, 1, 65536));
  DUET_RETURN_IF_ERROR(CheckRange((where + ".lr").c_str(), s.lr, 1e-9, 10.0));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>((where + ".warmup").c_str(), s.warmup, 0, s.steps));
  DUET_RETURN_IF_ERROR(CheckRange((where + ".min_lr_ratio").c_str(), s.min_lr_ratio, 0.0, 1.0));
  DUET_RETURN_IF_ERROR(CheckRange((where + ".weight_decay").c_str(), s.weight_decay, 0.0, 1.0));
  const int most = where == "joint" ? 65536 : 0;  // the image stage has no caption rows
  DUET_RETURN_IF_ERROR(
      CheckRange((where + ".caption_batch_size").c_str(), s.caption_batch_size, 0, most));
  DUET_RETURN_IF_ERROR(
      CheckRange((where + ".caption_variants").c_str(), s.caption_variants, 0, most > 0 ? 64 : 0));
  // The image stage predicts no codes: its first_codes must stay 0.
  DUET_RETURN_IF_ERROR(
      CheckRange((where + ".first_codes").c_str(), s.first_codes, 0, most > 0 ? 4096 : 0));
  DUET_RETURN_IF_ERROR(
      CheckRange((where + ".first_codes_weight").c_str(), s.first_codes_weight, 1e-3, 1e3));
  return CheckRange((where + ".grad_clip").c_str(), s.grad_clip, 0.0, 1e6);
}

}  // namespace

nlohmann::json TrainConfig::ToJson() const {
  return {{"seed", seed},
          {"device", device},
          {"threads", threads},
          {"dtype", dtype},
          {"checkpoint_every", checkpoint_every},
          {"log_every", log_every},
          {"keep_checkpoints", keep_checkpoints},
          {"val_images", val_images},
          {"image", StageJson(image)},
          {"joint", StageJson(joint)}};
}

StatusOr<TrainConfig> TrainConfig::FromJson(const nlohmann::json& json) {
  TrainConfig c;
  DUET_RETURN_IF_ERROR(CheckKeys(json, "config",
                                 {"seed", "device", "threads", "dtype", "checkpoint_every", "log_every",
                                  "keep_checkpoints", "val_images", "image", "joint"}));
  DUET_RETURN_IF_ERROR(Read(json, "config", "seed", &c.seed));
  DUET_RETURN_IF_ERROR(Read(json, "config", "device", &c.device));
  DUET_RETURN_IF_ERROR(Read(json, "config", "threads", &c.threads));
  DUET_RETURN_IF_ERROR(Read(json, "config", "dtype", &c.dtype));
  DUET_RETURN_IF_ERROR(Read(json, "config", "checkpoint_every", &c.checkpoint_every));
  DUET_RETURN_IF_ERROR(Read(json, "config", "log_every", &c.log_every));
  DUET_RETURN_IF_ERROR(Read(json, "config", "keep_checkpoints", &c.keep_checkpoints));
  DUET_RETURN_IF_ERROR(Read(json, "config", "val_images", &c.val_images));
  if (json.contains("image")) {
    DUET_ASSIGN_OR_RETURN(c.image, StageFromJson(json["image"], "image", c.image));
  }
  if (json.contains("joint")) {
    DUET_ASSIGN_OR_RETURN(c.joint, StageFromJson(json["joint"], "joint", c.joint));
  }
  DUET_RETURN_IF_ERROR(c.Validate());
  return c;
}

Status TrainConfig::Validate() const {
  if (device != "cpu" && device.rfind("cuda", 0) != 0) {
    return absl::InvalidArgumentError("device must be cpu, cuda or cuda:N, got " + device);
  }
  DUET_RETURN_IF_ERROR(CheckRange("threads", threads, 0, 1024));
  DUET_RETURN_IF_ERROR(ParseDtypeChoice(dtype, "dtype").status());
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("checkpoint_every", checkpoint_every, 1, 100'000'000));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("log_every", log_every, 1, 100'000'000));
  DUET_RETURN_IF_ERROR(CheckRange("keep_checkpoints", keep_checkpoints, 1, 1000));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("val_images", val_images, 0, 1'000'000));
  DUET_RETURN_IF_ERROR(ValidateStage(image, "image"));
  return ValidateStage(joint, "joint");
}

double LearningRate(const StageConfig& s, int64_t step) {
  if (step < s.warmup) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup);
  const double span = std::max<int64_t>(1, s.steps - s.warmup);
  const double progress = std::min(1.0, static_cast<double>(step - s.warmup) / span);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return s.lr * (s.min_lr_ratio + (1.0 - s.min_lr_ratio) * cosine);
}

}  // namespace duet::training
