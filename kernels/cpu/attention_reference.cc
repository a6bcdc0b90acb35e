// The plain reference attention: every score of a row materialised, softmax, weighted sum.
// It is the yardstick the fused kernels are tested against, so it stays obvious.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/attention.h"

namespace duet::kernels {

absl::Status AttentionReference(const AttentionArgs& args) {
  if (absl::Status s = ValidateAttentionArgs(args); !s.ok()) return s;
  if (args.dtype != ElementType::kF32) {
    return absl::InvalidArgumentError("the reference attention supports float32 only");
  }
  const int64_t D = args.head_dim;
  const int64_t capacity = args.kv_capacity ? args.kv_capacity : args.kv_len;
  const auto* q = static_cast<const float*>(args.q);
  const auto* k = static_cast<const float*>(args.k);
  const auto* v = static_cast<const float*>(args.v);
  auto* out = static_cast<float*>(args.out);
  std::vector<float> scores(args.kv_len);
  for (int64_t b = 0; b < args.batch; ++b) {
    const int64_t valid = args.prefix_valid ? args.prefix_valid[b] : args.mask.prefix_len;
    const int64_t kv_len = args.kv_lens ? args.kv_lens[b] : args.kv_len;
    const int64_t q_start = args.kv_lens ? kv_len - args.q_len : args.q_start;
    for (int64_t h = 0; h < args.heads; ++h) {
      const int64_t bh = b * args.heads + h;
      const float* kh = k + bh * capacity * D;
      const float* vh = v + bh * capacity * D;
      for (int64_t i = 0; i < args.q_len; ++i) {
        const float* qi = q + (bh * args.q_len + i) * D;
        float* oi = out + (bh * args.q_len + i) * D;
        const int64_t q_pos = q_start + i;
        float row_max = -std::numeric_limits<float>::infinity();
        std::fill(scores.begin(), scores.end(), -std::numeric_limits<float>::infinity());
        for (int64_t j = 0; j < kv_len; ++j) {
          if (!MaskAllows(args.mask, valid, q_pos, j)) {
            scores[j] = -std::numeric_limits<float>::infinity();
            continue;
          }
          float dot = 0.f;
          for (int64_t d = 0; d < D; ++d) dot += qi[d] * kh[j * D + d];
          scores[j] = dot * args.scale;
          row_max = std::max(row_max, scores[j]);
        }
        std::fill(oi, oi + D, 0.f);
        if (row_max == -std::numeric_limits<float>::infinity()) continue;
        float sum = 0.f;
        for (int64_t j = 0; j < kv_len; ++j) {
          const float p = std::exp(scores[j] - row_max);  // exp(-inf) == 0 for masked keys.
          sum += p;
          if (p == 0.f) continue;
          for (int64_t d = 0; d < D; ++d) oi[d] += p * vh[j * D + d];
        }
        for (int64_t d = 0; d < D; ++d) oi[d] /= sum;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace duet::kernels
