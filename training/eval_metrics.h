// The numbers `duet eval` reports: image fidelity (PSNR, SSIM), caption overlap (exact match,
// token F1) and draft diversity. Plain functions of tensors and strings, tested on their own.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace duet::training {

// Mean over images of the per-image PSNR in dB; a, b [B, 3, H, W] float in [0, 1]. Identical
// images count as kMaxPsnr.
inline constexpr double kMaxPsnr = 100.0;
double MeanPsnr(const torch::Tensor& a, const torch::Tensor& b);

// Mean SSIM (Wang et al. 2004) with a 7x7 uniform window (scikit-image's default), per channel,
// valid positions only, C1 = 0.01^2, C2 = 0.03^2; a, b [B, 3, H, W] float in [0, 1], H, W >= 7.
double MeanSsim(const torch::Tensor& a, const torch::Tensor& b);

// Mean over all unordered pairs of the RMS pixel distance between images [D, 3, H, W] in [0, 1];
// 0 for fewer than two images.
double MeanPairwiseDistance(const torch::Tensor& images);

// Lower-cased (ASCII only) whitespace tokens, so Korean stays as written.
std::vector<std::string> WhitespaceTokens(const std::string& text);
// Bag-of-tokens F1 between prediction and reference (SQuAD style); 1 when both are empty.
double TokenF1(const std::string& prediction, const std::string& reference);
// Equal token sequences (same case folding and whitespace splitting as TokenF1).
bool ExactMatch(const std::string& prediction, const std::string& reference);

// Fraction of rows whose label is among the k largest logits; logits [B, C], labels [B] int64.
double TopKAccuracy(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k);

// scores holds consecutive groups of `group` (>= 1) values; returns the index into scores of
// each group's highest, the first of equals (the order --rerank keeps for ties).
std::vector<int64_t> BestOfEachGroup(const std::vector<double>& scores, int64_t group);

}  // namespace duet::training
