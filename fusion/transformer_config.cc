// JSON conversion and validation of TransformerConfig.
#include "fusion/transformer_config.h"

#include <string>

namespace duet::fusion {
namespace {

template <typename T>
Status ReadField(const nlohmann::json& json, const char* key, T* value) {
  const auto it = json.find(key);
  if (it == json.end()) return absl::OkStatus();
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) {
      return absl::InvalidArgumentError(
          absl::StrCat("transformer.", key, " must be true or false"));
    }
  } else {
    const bool ok = std::is_floating_point_v<T> ? it->is_number() : it->is_number_integer();
    if (!ok)
      return absl::InvalidArgumentError(absl::StrCat("transformer.", key, " must be a number"));
  }
  *value = it->get<T>();
  return absl::OkStatus();
}

}  // namespace

nlohmann::json TransformerConfig::ToJson() const {
  return {{"d_model", d_model},
          {"n_layers", n_layers},
          {"n_heads", n_heads},
          {"d_ff", d_ff},
          {"window", window},
          {"global_prefix", global_prefix},
          {"global_every", global_every},
          {"text_dim", text_dim},
          {"text_prefix_len", text_prefix_len},
          {"text_vocab", text_vocab},
          {"max_caption_len", max_caption_len},
          {"image_grid", image_grid},
          {"image_codebook", image_codebook},
          {"prompt_dropout", prompt_dropout}};
}

StatusOr<TransformerConfig> TransformerConfig::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("transformer must be a JSON object");
  TransformerConfig c;
  DUET_RETURN_IF_ERROR(ReadField(json, "d_model", &c.d_model));
  DUET_RETURN_IF_ERROR(ReadField(json, "n_layers", &c.n_layers));
  DUET_RETURN_IF_ERROR(ReadField(json, "n_heads", &c.n_heads));
  DUET_RETURN_IF_ERROR(ReadField(json, "d_ff", &c.d_ff));
  DUET_RETURN_IF_ERROR(ReadField(json, "window", &c.window));
  DUET_RETURN_IF_ERROR(ReadField(json, "global_prefix", &c.global_prefix));
  DUET_RETURN_IF_ERROR(ReadField(json, "global_every", &c.global_every));
  DUET_RETURN_IF_ERROR(ReadField(json, "text_dim", &c.text_dim));
  DUET_RETURN_IF_ERROR(ReadField(json, "text_prefix_len", &c.text_prefix_len));
  DUET_RETURN_IF_ERROR(ReadField(json, "text_vocab", &c.text_vocab));
  DUET_RETURN_IF_ERROR(ReadField(json, "max_caption_len", &c.max_caption_len));
  DUET_RETURN_IF_ERROR(ReadField(json, "image_grid", &c.image_grid));
  DUET_RETURN_IF_ERROR(ReadField(json, "image_codebook", &c.image_codebook));
  DUET_RETURN_IF_ERROR(ReadField(json, "prompt_dropout", &c.prompt_dropout));
  DUET_RETURN_IF_ERROR(c.Validate());
  return c;
}

Status TransformerConfig::Validate() const {
  DUET_RETURN_IF_ERROR(CheckRange("transformer.d_model", d_model, 8, 8192));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.n_layers", n_layers, 1, 128));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.n_heads", n_heads, 1, 128));
  if (d_model % n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("transformer.d_model (", d_model,
                                                   ") must be divisible by n_heads (", n_heads,
                                                   ")"));
  }
  DUET_RETURN_IF_ERROR(CheckRange("transformer.d_ff", d_ff, 1, 65536));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.window", window, 1, 1 << 20));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.global_every", global_every, 1, 128));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.text_dim", text_dim, 1, 8192));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.text_prefix_len", text_prefix_len, 1, 4096));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.text_vocab", text_vocab, 5, 1 << 20));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.max_caption_len", max_caption_len, 2, 4096));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.image_grid", image_grid, 1, 128));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.image_codebook", image_codebook, 2, 1 << 20));
  DUET_RETURN_IF_ERROR(CheckRange("transformer.prompt_dropout", prompt_dropout, 0.f, 1.f));
  return absl::OkStatus();
}

}  // namespace duet::fusion
