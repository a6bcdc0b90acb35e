// The judge for text->image evaluation: a small CNN that names the concept of an image, trained
// by the evaluator on real training images only; it shares no weights with the generator.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "training/dataset.h"

namespace duet::training {

// Four stride-2 3x3 convolutions (group norm, ReLU), global average pooling, a linear classifier.
class JudgeImpl : public torch::nn::Module {
 public:
  JudgeImpl(int classes, int channels);
  torch::Tensor forward(const torch::Tensor& images);  // [B, 3, R, R] in [-1, 1] -> [B, classes]

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(Judge);

// What a judge names: the concept (dataset ids) or the artist's style (dataset styles).
enum class JudgeTarget { kConcept, kStyle };

struct JudgeOptions {
  JudgeTarget target = JudgeTarget::kConcept;
  int epochs = 40;  // passes over the training images
  int batch_size = 64;
  double lr = 2e-3;   // AdamW, constant
  int channels = 32;  // first layer width; doubles twice
  uint64_t seed = 0;  // initialisation and shuffling
};

// Trains a judge on dataset images `pool` (labels: concept ids, or style indices for
// JudgeTarget::kStyle). Augmentation: random shifts of
// up to 1/16 of the side, a brightness offset and Gaussian pixel noise. Deterministic for a seed on
// one device and thread count. InvalidArgument for an empty pool. Not thread-safe (uses torch's
// global seed).
StatusOr<Judge> TrainJudge(const Dataset& dataset, const std::vector<int64_t>& pool,
                           const JudgeOptions& options, torch::Device device);

// Logits [B, classes] for images [B, 3, R, R] in [-1, 1], in chunks, without autograd.
torch::Tensor JudgeLogits(Judge& judge, const torch::Tensor& images, torch::Device device);

}  // namespace duet::training
