// The transformer alone, read from a model directory: what duet-transformer serves. It needs
// neither the tokenizer nor the image tokenizer's weights, so a binary that loads only this
// links no text or image libraries (the GPU node build, ARCHITECTURE section 6).
#pragma once

#include <string>

#include "common/safetensors.h"
#include "common/status.h"
#include "fusion/transformer.h"
#include "model/model_config.h"

namespace duet::model {

struct TransformerModel {
  ModelConfig config;  // the whole config.json: sizes and sampling defaults
  fusion::MultimodalTransformer transformer{nullptr};
};

// "auto" (cuda when LibTorch sees a GPU, else cpu), "cpu" or "cuda"; InvalidArgument naming
// `field` for any other text, FailedPrecondition for cuda without a visible GPU.
StatusOr<torch::Device> ChooseDevice(const std::string& text, const char* field = "device");

// Reads <dir>/config.json and the transformer.* tensors of <dir>/model.safetensors (F32 or
// BF16); matrix products then run in `dtype`, on `device`.
StatusOr<TransformerModel> LoadTransformer(const std::string& dir, torch::ScalarType dtype,
                                           torch::Device device = torch::kCPU);

// A transformer of `config` in inference mode, its weights the transformer.* tensors of
// `weights` converted once to `dtype`.
StatusOr<fusion::MultimodalTransformer> LoadTransformerWeights(
    const fusion::TransformerConfig& config, const SafetensorsFile& weights,
    torch::ScalarType dtype);

}  // namespace duet::model
