// Implementation of bench/services/soak_shared.h.
#include "bench/services/soak_shared.h"

#include "bench/services/soak_png.h"

namespace duet::bench {

SharedState::SharedState(uint64_t seed) : synthetic_(SyntheticPngs(seed)) {}

std::string SharedState::PickImage(std::mt19937_64& rng) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t n = synthetic_.size() + drafts_.size();
  const size_t i = rng() % n;
  return i < synthetic_.size() ? synthetic_[i] : drafts_[i - synthetic_.size()];
}

void SharedState::AddDraft(std::string png) {
  std::lock_guard<std::mutex> lock(mu_);
  drafts_.push_back(std::move(png));
  if (drafts_.size() > kDraftPool) drafts_.pop_front();
}

std::string SharedState::CheckCaption(const std::string& image, const std::string& caption) {
  const uint64_t key = BytesHash(image);
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = captions_.find(key);
  if (it == captions_.end()) {
    if (captions_.size() < kRememberedAnswers) captions_.emplace(key, caption);
    return "";
  }
  if (it->second == caption) return "";
  return "caption \"" + caption + "\" differs from the earlier \"" + it->second +
         "\" for the same image (" + std::to_string(image.size()) + " bytes)";
}

std::string SharedState::CheckDraft(const std::string& key, uint64_t pixel_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = draft_pixels_.find(key);
  if (it == draft_pixels_.end()) {
    if (draft_pixels_.size() < kRememberedAnswers) draft_pixels_.emplace(key, pixel_hash);
    return "";
  }
  if (it->second == pixel_hash) return "";
  return "draft pixels differ from an earlier draft of the same " + key;
}

}  // namespace duet::bench
