// Implementation of language/text_batch.h: encode every text first (all errors are found before
// any tensor is allocated), then copy the ids into one padded int64 matrix.
#include "language/text_batch.h"

#include <cstdint>

#include "common/tensor_io.h"

namespace duet::language {

StatusOr<std::pair<torch::Tensor, torch::Tensor>> TokenizeBatch(
    const Tokenizer& tokenizer, const std::vector<std::string>& texts, int max_len) {
  if (texts.empty()) return absl::InvalidArgumentError("texts must not be empty");
  DUET_RETURN_IF_ERROR(CheckRange("max_len", max_len, 1, 1 << 16));
  std::vector<std::vector<int>> encoded(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) return absl::InvalidArgumentError(absl::StrCat("text ", i, " is empty"));
    auto ids = tokenizer.Encode(texts[i]);
    if (!ids.ok()) {
      return absl::Status(ids.status().code(),
                          absl::StrCat("text ", i, ": ", ids.status().message()));
    }
    if (ids->empty()) return absl::InvalidArgumentError(absl::StrCat("text ", i, " has no tokens"));
    if (ids->size() > static_cast<size_t>(max_len)) {
      return absl::InvalidArgumentError(
          absl::StrCat("text ", i, " has ", ids->size(), " tokens, the limit is ", max_len));
    }
    encoded[i] = *std::move(ids);
  }
  const int64_t batch = static_cast<int64_t>(texts.size());
  torch::Tensor ids, lengths;
  DUET_RETURN_IF_ERROR(CatchTorch("tokenize batch", [&] {
    ids = torch::full({batch, max_len}, kPadId, torch::kInt64);
    lengths = torch::empty({batch}, torch::kInt64);
    auto ids_view = ids.accessor<int64_t, 2>();
    auto lengths_view = lengths.accessor<int64_t, 1>();
    for (int64_t b = 0; b < batch; ++b) {
      lengths_view[b] = static_cast<int64_t>(encoded[b].size());
      for (size_t t = 0; t < encoded[b].size(); ++t) ids_view[b][t] = encoded[b][t];
    }
  }));
  return std::make_pair(ids, lengths);
}

}  // namespace duet::language
