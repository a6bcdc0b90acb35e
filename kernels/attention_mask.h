// The attention mask rule and the key ranges it implies, shared by the CPU and CUDA kernels.
// Free of absl and torch so .cu files can include it; every function runs on host and device.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DUET_HOST_DEVICE __host__ __device__
#else
#define DUET_HOST_DEVICE
#endif

namespace duet::kernels {

// Which keys a query may attend to. Positions are absolute in the sequence layout: the prefix
// (the condition, padded to prefix_len) comes first, then the target.
struct AttentionMask {
  int64_t prefix_len = 0;  // P: positions [0, P) are the prefix, bidirectional among themselves.
  int64_t window = 0;      // 0: global layer; w > 0: only keys with |q_pos - k_pos| < w.
  // true: the window limits target keys only, so every query sees the whole valid prefix (the
  // condition stays in view in sliding-window layers, at the cost of P more keys per query).
  bool global_prefix = false;
};

// The single definition of the mask. `prefix_valid` is the number of real (non-padding) prefix
// positions of the sequence: prefix keys in [prefix_valid, P) are padding and never visible.
// Target queries see the valid prefix and target keys up to and including themselves.
DUET_HOST_DEVICE inline bool MaskAllows(const AttentionMask& mask, int64_t prefix_valid,
                                        int64_t q_pos, int64_t k_pos) {
  const bool in_prefix = k_pos < mask.prefix_len;
  const bool visible = in_prefix ? k_pos < prefix_valid : k_pos <= q_pos;
  if (!visible) return false;
  if (mask.window <= 0 || (in_prefix && mask.global_prefix)) return true;
  const int64_t distance = q_pos > k_pos ? q_pos - k_pos : k_pos - q_pos;
  return distance < mask.window;
}

// Half-open key interval [begin, end); empty when end <= begin.
struct KeyRange {
  int64_t begin = 0;
  int64_t end = 0;
  DUET_HOST_DEVICE int64_t size() const { return end > begin ? end - begin : 0; }
};

// The keys that queries q_first..q_last (inclusive) may see, as two disjoint ranges: valid prefix
// keys, then target keys. Every key MaskAllows for some query of the block lies in one of them, so
// kernels never visit (or load) keys outside; keys inside may still be masked for some queries.
// For a single query (q_first == q_last) the ranges are exact: every key inside is visible.
struct VisibleKeys {
  KeyRange prefix;  // within [0, min(prefix_valid, P))
  KeyRange target;  // within [P, q_last]
};

DUET_HOST_DEVICE inline VisibleKeys VisibleKeyRanges(const AttentionMask& mask,
                                                     int64_t prefix_valid, int64_t q_first,
                                                     int64_t q_last, int64_t kv_len) {
  auto min = [](int64_t a, int64_t b) { return a < b ? a : b; };
  auto max = [](int64_t a, int64_t b) { return a > b ? a : b; };
  const int64_t window_begin = mask.window > 0 ? max(0, q_first - mask.window + 1) : 0;
  const int64_t window_end = mask.window > 0 ? q_last + mask.window : kv_len;
  const int64_t valid = max(0, min(prefix_valid, min(mask.prefix_len, kv_len)));
  VisibleKeys keys;
  keys.prefix = mask.global_prefix ? KeyRange{0, valid}
                                   : KeyRange{window_begin, min(valid, window_end)};
  keys.target = {max(mask.prefix_len, window_begin), min(min(q_last + 1, kv_len), window_end)};
  return keys;
}

// True when MaskAllows every (query, key) pair of the block q_first..q_last x k_first..k_last, so a
// kernel may skip evaluating the mask. Corners suffice: inside the valid prefix visibility does not
// depend on the query, among target keys k <= q is worst at (q_first, k_last), and the window
// distance is largest at a corner. A block straddling the prefix/target boundary is never full.
DUET_HOST_DEVICE inline bool BlockFullyVisible(const AttentionMask& mask, int64_t prefix_valid,
                                               int64_t q_first, int64_t q_last, int64_t k_first,
                                               int64_t k_last) {
  const bool in_prefix = k_last < mask.prefix_len;
  const bool in_target = k_first >= mask.prefix_len;
  if (!in_prefix && !in_target) return false;
  return MaskAllows(mask, prefix_valid, q_first, k_first) &&
         MaskAllows(mask, prefix_valid, q_first, k_last) &&
         MaskAllows(mask, prefix_valid, q_last, k_first) &&
         MaskAllows(mask, prefix_valid, q_last, k_last);
}

}  // namespace duet::kernels
