// libFuzzer target: raw user text through ValidateUtf8 (checked against a reference decoder) and
// Tokenizer::Encode/Decode with the shipped model; the same bytes as token ids through Decode.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "language/tokenizer.h"
#include "language/utf8.h"

namespace {

using duet::language::Tokenizer;

// Overridden by scripts/fuzz.sh; the default is the model committed in the repository.
constexpr char kModelEnv[] = "DUET_FUZZ_TOKENIZER_MODEL";
constexpr char kDefaultModel[] = DUET_SOURCE_DIR "/assets/models/duet-emoji/tokenizer.model";
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, decodes to ' '

const Tokenizer* tokenizer = nullptr;

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

// Reference decoder, written from the definition (code point ranges) rather than from table 3-7:
// the offset of the first ill-formed sequence, or nullopt when `text` is well-formed UTF-8.
std::optional<size_t> FirstInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const int length = lead < 0x80 ? 1 : lead >> 5 == 6 ? 2 : lead >> 4 == 14 ? 3
                                   : lead >> 3 == 30 ? 4 : 0;
    if (length == 0 || text.size() - i < static_cast<size_t>(length)) return i;
    uint32_t code_point = length == 1 ? lead : lead & (0x7F >> length);
    for (int k = 1; k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if (next >> 6 != 2) return i;
      code_point = code_point << 6 | (next & 0x3F);
    }
    constexpr uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kShortest[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += length;
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv(kModelEnv);
  auto loaded = Tokenizer::Load(env != nullptr && *env != '\0' ? env : kDefaultModel);
  if (!loaded.ok()) {
    std::fprintf(stderr, "tokenizer_fuzzer: %s\n", std::string(loaded.status().message()).c_str());
    std::exit(1);
  }
  tokenizer = new Tokenizer(*std::move(loaded));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::Status valid = duet::language::ValidateUtf8(text);
  const std::optional<size_t> invalid_at = FirstInvalidUtf8(text);
  Require(valid.ok() == !invalid_at.has_value());
  if (invalid_at.has_value()) {
    Require(valid.message() == "text is not valid UTF-8 at byte " + std::to_string(*invalid_at));
  }

  const auto ids = tokenizer->Encode(text);
  Require(ids.ok() == valid.ok());
  if (ids.ok()) {
    for (const int id : *ids) Require(id >= 0 && id < tokenizer->vocab_size());
    const auto decoded = tokenizer->Decode(*ids);
    Require(decoded.ok());
    if (text.find(kSpaceMarker) == std::string_view::npos) Require(*decoded == text);
  }

  std::vector<int> raw_ids(size / sizeof(int));
  if (!raw_ids.empty()) std::memcpy(raw_ids.data(), data, raw_ids.size() * sizeof(int));
  const auto raw_text = tokenizer->Decode(raw_ids);
  Require(raw_text.ok() || absl::IsInvalidArgument(raw_text.status()));
  return 0;
}
