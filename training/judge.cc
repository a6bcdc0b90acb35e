// Implementation of training/judge.h.
#include "training/judge.h"

#include "common/log.h"
#include "training/adam.h"
#include "training/rng.h"

namespace duet::training {
namespace {

constexpr int64_t kChunk = 256;  // images per no-grad forward

// Appends a stride-2 3x3 convolution, group norm and ReLU: without the norm the net sits at the
// uniform prediction (loss ln(classes)) for epochs.
void AddDown(torch::nn::Sequential& net, int in, int out) {
  net->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
  net->push_back(torch::nn::GroupNorm(8, out));
  net->push_back(torch::nn::ReLU());
}

// Rolls each image by a few pixels (wrapping white borders around), a cheap augmentation.
torch::Tensor Shift(const torch::Tensor& x, StepRng& rng) {
  const int64_t max_shift = std::max<int64_t>(1, x.size(3) / 16);
  std::vector<torch::Tensor> rows;
  for (int64_t b = 0; b < x.size(0); ++b) {
    const int64_t dy = rng.Below(2 * max_shift + 1) - max_shift;
    const int64_t dx = rng.Below(2 * max_shift + 1) - max_shift;
    rows.push_back(torch::roll(x[b], {dy, dx}, {1, 2}));
  }
  return torch::stack(rows);
}

// Shift, then a random brightness offset and Gaussian pixel noise: generated images are
// blurrier and noisier than the real ones, and a judge that memorised exact pixels would miss
// them. The noise comes from torch's generator, seeded once by TrainJudge.
torch::Tensor Augment(const torch::Tensor& x, StepRng& rng) {
  torch::Tensor out = Shift(x, rng);
  const torch::Tensor offset = (torch::rand({x.size(0), 1, 1, 1}) - 0.5) * 0.2;
  return (out + offset + torch::randn_like(out) * 0.08).clamp(-1, 1);
}

}  // namespace

JudgeImpl::JudgeImpl(int classes, int channels) {
  const int c = channels;
  torch::nn::Sequential features;
  AddDown(features, 3, c);
  AddDown(features, c, 2 * c);
  AddDown(features, 2 * c, 4 * c);
  AddDown(features, 4 * c, 4 * c);
  features_ = register_module("features", features);
  classifier_ = register_module("classifier", torch::nn::Linear(4 * c, classes));
}

torch::Tensor JudgeImpl::forward(const torch::Tensor& images) {
  return classifier_(features_->forward(images).mean({2, 3}));  // [B, 4c] -> [B, classes]
}

StatusOr<Judge> TrainJudge(const Dataset& dataset, const std::vector<int64_t>& pool,
                           const JudgeOptions& options, torch::Device device) {
  if (pool.empty()) return absl::InvalidArgumentError("the judge needs training images");
  torch::manual_seed(options.seed);
  const bool style = options.target == JudgeTarget::kStyle;
  const torch::Tensor all_labels = style ? dataset.styles.to(torch::kInt64) : dataset.ids;
  const int classes = style ? static_cast<int>(dataset.style_names.size())
                            : static_cast<int>(dataset.concepts.size());
  Judge judge(classes, options.channels);
  judge->to(device);
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : judge->named_parameters()) params.emplace_back(item.key(), item.value());
  AdamW adam(params, {0.9, 0.99, 1e-8, 0.0});
  const int64_t n = static_cast<int64_t>(pool.size());
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    StepRng rng(options.seed, RngStream::kEval, static_cast<uint64_t>(epoch));
    std::vector<int64_t> order = pool;
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.Below(i + 1)]);
    torch::Tensor loss_sum = torch::zeros({}, device);  // read once per logged epoch: no sync
    int64_t batches = 0;
    for (int64_t first = 0; first < n; first += options.batch_size) {
      const int64_t count = std::min<int64_t>(options.batch_size, n - first);
      const torch::Tensor index =
          torch::tensor(std::vector<int64_t>(order.begin() + first, order.begin() + first + count));
      const torch::Tensor x = Augment(ImagesToFloat(dataset.images.index_select(0, index)), rng);
      const torch::Tensor labels = all_labels.index_select(0, index).to(device);
      const torch::Tensor loss =
          torch::nn::functional::cross_entropy(judge->forward(x.to(device)), labels);
      loss.backward();
      adam.Step(options.lr);
      loss_sum += loss.detach();
      ++batches;
    }
    if ((epoch + 1) % 10 != 0 && epoch + 1 != options.epochs) continue;
    DUET_LOG(INFO) << "judge epoch " << epoch + 1 << "/" << options.epochs << " loss "
                   << loss_sum.item<double>() / static_cast<double>(std::max<int64_t>(1, batches));
  }
  judge->eval();
  return judge;
}

torch::Tensor JudgeLogits(Judge& judge, const torch::Tensor& images, torch::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t first = 0; first < images.size(0); first += kChunk) {
    const int64_t n = std::min(kChunk, images.size(0) - first);
    parts.push_back(judge->forward(images.narrow(0, first, n).to(device)).cpu());
  }
  return torch::cat(parts);
}

}  // namespace duet::training
