// JSON conversion and validation of TextEncoderConfig (language/text_encoder.h).
// Values are range-checked before narrowing to int, so 2^40 is an error, not a wrap-around.
#include <cstdint>
#include <limits>
#include <string>

#include "language/text_encoder_config.h"

namespace duet::language {
namespace {

// The keys of the JSON object, in ToJson order, with the field each one sets.
struct Field {
  const char* key;
  int TextEncoderConfig::*member;
};
constexpr Field kFields[] = {
    {"vocab_size", &TextEncoderConfig::vocab_size}, {"max_len", &TextEncoderConfig::max_len},
    {"d_model", &TextEncoderConfig::d_model},       {"n_layers", &TextEncoderConfig::n_layers},
    {"n_heads", &TextEncoderConfig::n_heads},       {"d_ff", &TextEncoderConfig::d_ff},
};

std::string Name(const std::string& key) { return "text_encoder." + key; }

Status ReadInt(const std::string& key, const nlohmann::json& value, int* out) {
  if (!value.is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Name(key), " must be an integer, got ", value.dump()));
  }
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  if (value.is_number_unsigned()
          ? value.get<uint64_t>() > static_cast<uint64_t>(kIntMax)
          : value.get<int64_t>() < -kIntMax - 1 || value.get<int64_t>() > kIntMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(Name(key), " is out of range, got ", value.dump()));
  }
  *out = value.get<int>();
  return absl::OkStatus();
}

}  // namespace

nlohmann::json TextEncoderConfig::ToJson() const {
  nlohmann::json json = nlohmann::json::object();
  for (const Field& field : kFields) json[field.key] = this->*field.member;
  return json;
}

StatusOr<TextEncoderConfig> TextEncoderConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("text_encoder must be a JSON object");
  TextEncoderConfig config;
  for (const auto& [key, value] : json.items()) {
    const Field* field = nullptr;
    for (const Field& candidate : kFields) {
      if (key == candidate.key) field = &candidate;
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown key ", Name(key)));
    }
    DUET_RETURN_IF_ERROR(ReadInt(key, value, &(config.*field->member)));
  }
  DUET_RETURN_IF_ERROR(config.Validate());
  return config;
}

Status TextEncoderConfig::Validate() const {
  DUET_RETURN_IF_ERROR(CheckRange("text_encoder.vocab_size", vocab_size, 1, 1 << 22));
  DUET_RETURN_IF_ERROR(CheckRange("text_encoder.max_len", max_len, 1, 1 << 16));
  DUET_RETURN_IF_ERROR(CheckRange("text_encoder.d_model", d_model, 1, 1 << 14));
  DUET_RETURN_IF_ERROR(CheckRange("text_encoder.n_layers", n_layers, 1, 256));
  DUET_RETURN_IF_ERROR(CheckRange("text_encoder.n_heads", n_heads, 1, d_model));
  if (d_model % n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text_encoder.d_model (", d_model, ") must be divisible by n_heads (", n_heads, ")"));
  }
  DUET_RETURN_IF_ERROR(CheckRange("text_encoder.d_ff", d_ff, 1, 1 << 18));
  return absl::OkStatus();
}

}  // namespace duet::language
