// State the soak driver's clients share: caption inputs (synthetic PNGs plus recent drafts) and
// the first answer seen for each repeatable input, so a later different answer is caught.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace duet::bench {

// Thread-safe.
class SharedState {
 public:
  static constexpr size_t kDraftPool = 64;              // recent drafts kept as caption inputs
  static constexpr size_t kRememberedAnswers = 200000;  // bound on each consistency map

  explicit SharedState(uint64_t seed);

  // A valid PNG: a synthetic one or a recent draft.
  std::string PickImage(std::mt19937_64& rng) const;
  // Offers a draft's PNG as a future caption input (keeps the last kDraftPool).
  void AddDraft(std::string png);

  // Greedy captioning is deterministic: "" when `caption` is the first or the same answer for
  // `image`, else what differs.
  std::string CheckCaption(const std::string& image, const std::string& caption);
  // A draft depends only on (prompt, sampling, seed): "" when `pixel_hash` is the first or the
  // same for `key`, else what differs.
  std::string CheckDraft(const std::string& key, uint64_t pixel_hash);

 private:
  mutable std::mutex mu_;
  std::vector<std::string> synthetic_;
  std::deque<std::string> drafts_;
  std::unordered_map<uint64_t, std::string> captions_;  // by BytesHash(image)
  std::unordered_map<std::string, uint64_t> draft_pixels_;
};

}  // namespace duet::bench
