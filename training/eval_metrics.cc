// Implementation of training/eval_metrics.h.
#include "training/eval_metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace duet::training {

double MeanPsnr(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor mse =
      (a.to(torch::kFloat64) - b.to(torch::kFloat64)).pow(2).flatten(1).mean(1);
  const torch::Tensor psnr = (10 * torch::log10(1.0 / mse)).clamp_max(kMaxPsnr);
  return psnr.mean().item<double>();
}

double MeanSsim(const torch::Tensor& a, const torch::Tensor& b) {
  constexpr int64_t kWindow = 7;
  constexpr double kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;
  const torch::Tensor x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
  auto mean = [&](const torch::Tensor& t) { return torch::avg_pool2d(t, kWindow, 1); };
  // Sample (co)variances with the n / (n - 1) correction, as scikit-image does.
  const double n = kWindow * kWindow, correction = n / (n - 1);
  const torch::Tensor mx = mean(x), my = mean(y);
  const torch::Tensor vx = (mean(x * x) - mx * mx) * correction;
  const torch::Tensor vy = (mean(y * y) - my * my) * correction;
  const torch::Tensor cxy = (mean(x * y) - mx * my) * correction;
  const torch::Tensor ssim =
      ((2 * mx * my + kC1) * (2 * cxy + kC2)) / ((mx * mx + my * my + kC1) * (vx + vy + kC2));
  return ssim.mean().item<double>();
}

double MeanPairwiseDistance(const torch::Tensor& images) {
  const int64_t d = images.size(0);
  if (d < 2) return 0;
  const torch::Tensor flat = images.to(torch::kFloat64).flatten(1);
  double sum = 0;
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = i + 1; j < d; ++j)
      sum += (flat[i] - flat[j]).pow(2).mean().sqrt().item<double>();
  }
  return sum / static_cast<double>(d * (d - 1) / 2);
}

std::vector<std::string> WhitespaceTokens(const std::string& text) {
  std::string lowered = text;
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::vector<std::string> tokens;
  std::istringstream stream(lowered);
  for (std::string token; stream >> token;) tokens.push_back(token);
  return tokens;
}

double TokenF1(const std::string& prediction, const std::string& reference) {
  const std::vector<std::string> p = WhitespaceTokens(prediction), r = WhitespaceTokens(reference);
  if (p.empty() && r.empty()) return 1.0;
  if (p.empty() || r.empty()) return 0.0;
  std::map<std::string, int> counts;
  for (const std::string& t : r) ++counts[t];
  int common = 0;
  for (const std::string& t : p) {
    if (counts[t] > 0) {
      --counts[t];
      ++common;
    }
  }
  if (common == 0) return 0.0;
  const double precision = static_cast<double>(common) / static_cast<double>(p.size());
  const double recall = static_cast<double>(common) / static_cast<double>(r.size());
  return 2 * precision * recall / (precision + recall);
}

bool ExactMatch(const std::string& prediction, const std::string& reference) {
  return WhitespaceTokens(prediction) == WhitespaceTokens(reference);
}

double TopKAccuracy(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k) {
  if (logits.size(0) == 0) return 0;
  const torch::Tensor top = std::get<1>(logits.topk(std::min(k, logits.size(1)), 1));  // [B, k]
  const torch::Tensor hit = (top == labels.view({-1, 1}).to(top.device())).any(1);
  return hit.to(torch::kFloat64).mean().item<double>();
}

std::vector<int64_t> BestOfEachGroup(const std::vector<double>& scores, int64_t group) {
  std::vector<int64_t> best;
  const int64_t n = static_cast<int64_t>(scores.size());
  for (int64_t first = 0; first < n; first += group) {
    int64_t pick = first;
    for (int64_t i = first + 1; i < std::min(first + group, n); ++i) {
      if (scores[i] > scores[pick]) pick = i;
    }
    best.push_back(pick);
  }
  return best;
}

}  // namespace duet::training
