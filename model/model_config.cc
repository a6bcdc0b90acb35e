// JSON conversion and cross-component validation of ModelConfig.
#include "model/model_config.h"

#include "common/file.h"

namespace duet::model {
namespace {

Status Agree(const char* a, int64_t va, const char* b, int64_t vb) {
  if (va == vb) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(a, " (", va, ") must equal ", b, " (", vb, ")"));
}

nlohmann::json SamplingJson(const SamplingDefaults& s) {
  return {{"temperature", s.temperature},
          {"top_k", s.top_k},
          {"top_p", s.top_p},
          {"guidance_scale", s.guidance_scale}};
}

StatusOr<SamplingDefaults> SamplingFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("sampling must be a JSON object");
  SamplingDefaults s;
  for (const auto& item : json.items()) {
    const std::string& key = item.key();
    const nlohmann::json& v = item.value();
    const bool integer = key == "top_k";
    if (integer ? !v.is_number_integer() : !v.is_number()) {
      return absl::InvalidArgumentError("sampling." + key + " must be a number");
    }
    if (!s.Set(key, v.get<double>())) return absl::InvalidArgumentError("unknown key sampling." + key);
  }
  return s;
}

}  // namespace

bool SamplingDefaults::Set(const std::string& key, double value) {
  if (key == "temperature") {
    temperature = static_cast<float>(value);
  } else if (key == "top_k") {
    top_k = static_cast<int>(value);
  } else if (key == "top_p") {
    top_p = static_cast<float>(value);
  } else if (key == "guidance_scale") {
    guidance_scale = static_cast<float>(value);
  } else {
    return false;
  }
  return true;
}

void ModelConfig::Derive() {
  transformer.text_vocab = text_encoder.vocab_size;
  transformer.text_dim = text_encoder.d_model;
  transformer.text_prefix_len = text_encoder.max_len;
  transformer.image_grid = image_tokenizer.grid();
  transformer.image_codebook = image_tokenizer.codebook_size();
}

nlohmann::json ModelConfig::ToJson() const {
  return {{"name", name},
          {"text_encoder", text_encoder.ToJson()},
          {"image_tokenizer", image_tokenizer.ToJson()},
          {"transformer", transformer.ToJson()},
          {"sampling", SamplingJson(sampling)}};
}

StatusOr<ModelConfig> ModelConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("model config must be a JSON object");
  ModelConfig c;
  if (const auto it = json.find("name"); it != json.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("name must be a string");
    c.name = it->get<std::string>();
  }
  const nlohmann::json empty = nlohmann::json::object();
  auto section = [&](const char* key) { return json.contains(key) ? json.at(key) : empty; };
  DUET_ASSIGN_OR_RETURN(c.text_encoder, language::TextEncoderConfig::FromJson(section("text_encoder")));
  DUET_ASSIGN_OR_RETURN(c.image_tokenizer,
                        vision::ImageTokenizerConfig::FromJson(section("image_tokenizer")));
  if (json.contains("transformer")) {
    DUET_ASSIGN_OR_RETURN(c.transformer, fusion::TransformerConfig::FromJson(json["transformer"]));
  } else {
    c.Derive();
  }
  if (json.contains("sampling")) {
    DUET_ASSIGN_OR_RETURN(c.sampling, SamplingFromJson(json["sampling"]));
  }
  DUET_RETURN_IF_ERROR(c.Validate());
  return c;
}

Status ModelConfig::Validate() const {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError("name must have 1 to 128 characters");
  }
  DUET_RETURN_IF_ERROR(text_encoder.Validate());
  DUET_RETURN_IF_ERROR(image_tokenizer.Validate());
  DUET_RETURN_IF_ERROR(transformer.Validate());
  if (const Status s = fusion::ValidateSampling(sampling.Params(), transformer.image_codebook);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sampling: ", s.message()));
  }
  DUET_RETURN_IF_ERROR(Agree("transformer.text_vocab", transformer.text_vocab,
                             "text_encoder.vocab_size", text_encoder.vocab_size));
  DUET_RETURN_IF_ERROR(Agree("transformer.text_dim", transformer.text_dim,
                             "text_encoder.d_model", text_encoder.d_model));
  DUET_RETURN_IF_ERROR(Agree("transformer.text_prefix_len", transformer.text_prefix_len,
                             "text_encoder.max_len", text_encoder.max_len));
  DUET_RETURN_IF_ERROR(Agree("transformer.image_grid", transformer.image_grid,
                             "image_tokenizer grid", image_tokenizer.grid()));
  DUET_RETURN_IF_ERROR(Agree("transformer.image_codebook", transformer.image_codebook,
                             "image_tokenizer codebook", image_tokenizer.codebook_size()));
  return absl::OkStatus();
}

StatusOr<ModelConfig> ReadModelConfig(const std::string& dir) {
  DUET_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(dir + "/" + kConfigFile));
  StatusOr<ModelConfig> config = ModelConfig::FromJson(json);
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/", kConfigFile, ": ",
                                                   config.status().message()));
  }
  return config;
}

}  // namespace duet::model
