// Implementation of model/transformer_model.h.
#include "model/transformer_model.h"

#include "absl/strings/str_cat.h"
#include "common/mixed_precision.h"
#include "common/tensor_io.h"

namespace duet::model {

StatusOr<fusion::MultimodalTransformer> LoadTransformerWeights(
    const fusion::TransformerConfig& config, const SafetensorsFile& weights,
    torch::ScalarType dtype) {
  fusion::MultimodalTransformer transformer(config);
  DUET_RETURN_IF_ERROR(LoadModule(weights, kTransformerPrefix, transformer.ptr().get()));
  ConvertForInference(*transformer, dtype);
  transformer->eval();
  return transformer;
}

StatusOr<torch::Device> ChooseDevice(const std::string& text, const char* field) {
  const bool gpu = torch::cuda::is_available();
  if (text == "cpu" || (text == "auto" && !gpu)) return torch::Device(torch::kCPU);
  if (text == "auto" || (text == "cuda" && gpu)) return torch::Device(torch::kCUDA, 0);
  if (text == "cuda") {
    return absl::FailedPreconditionError(absl::StrCat(
        field, " is cuda, but LibTorch sees no GPU (a CPU-only LibTorch, or no device visible)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be auto, cpu or cuda, got '", text, "'"));
}

StatusOr<TransformerModel> LoadTransformer(const std::string& dir, torch::ScalarType dtype,
                                           torch::Device device) {
  TransformerModel model;
  DUET_ASSIGN_OR_RETURN(model.config, ReadModelConfig(dir));
  DUET_ASSIGN_OR_RETURN(SafetensorsFile weights, ReadSafetensors(dir + "/" + kWeightsFile));
  DUET_ASSIGN_OR_RETURN(model.transformer,
                        LoadTransformerWeights(model.config.transformer, weights, dtype));
  model.transformer->to(device);
  return model;
}

}  // namespace duet::model
