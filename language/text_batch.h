// Turns a batch of texts into the padded id matrix and lengths the text encoder consumes.
// The one place where "too long" and "empty" prompts are rejected, with the text's index.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "language/tokenizer.h"

namespace duet::language {

// Encodes each text (no BOS/EOS) and returns {ids [B, max_len] int64 padded with kPadId,
// lengths [B] int64}, B = texts.size(), on the CPU.
// InvalidArgument: no texts; max_len < 1; text i empty ("text 2 is empty"), not valid UTF-8
// ("text 2: text is not valid UTF-8 at byte 5"), or longer than max_len tokens
// ("text 3 has 40 tokens, the limit is 32").
// Thread-safe (the tokenizer's const methods are).
StatusOr<std::pair<torch::Tensor, torch::Tensor>> TokenizeBatch(
    const Tokenizer& tokenizer, const std::vector<std::string>& texts, int max_len);

}  // namespace duet::language
