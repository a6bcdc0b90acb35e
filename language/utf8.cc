// Implementation of language/utf8.h: the well-formed byte sequences of Unicode 15, table 3-7.
// Each lead byte fixes the sequence length and the allowed range of the second byte.
#include "language/utf8.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace duet::language {
namespace {

// Continuation bytes are 10xxxxxx.
constexpr uint8_t kContinuationLo = 0x80;
constexpr uint8_t kContinuationHi = 0xBF;

// The shape of a well-formed sequence that starts with a given lead byte.
struct SequenceRule {
  int length;         // total bytes, 0 when the lead byte can never start a sequence
  uint8_t second_lo;  // allowed range of the second byte (narrower than 80..BF for E0, ED, F0, F4)
  uint8_t second_hi;
};

SequenceRule RuleFor(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead < 0xC2) return {0, 0, 0};  // stray continuation, or overlong C0/C1
  if (lead < 0xE0) return {2, kContinuationLo, kContinuationHi};
  if (lead == 0xE0) return {3, 0xA0, kContinuationHi};  // excludes overlong 3-byte forms
  if (lead == 0xED) return {3, kContinuationLo, 0x9F};  // excludes surrogates D800..DFFF
  if (lead < 0xF0) return {3, kContinuationLo, kContinuationHi};
  if (lead == 0xF0) return {4, 0x90, kContinuationHi};  // excludes overlong 4-byte forms
  if (lead < 0xF4) return {4, kContinuationLo, kContinuationHi};
  if (lead == 0xF4) return {4, kContinuationLo, 0x8F};  // excludes code points > U+10FFFF
  return {0, 0, 0};                                     // F5..FF
}

}  // namespace

absl::Status ValidateUtf8(std::string_view text) {
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const SequenceRule rule = RuleFor(static_cast<uint8_t>(text[i]));
    bool ok = rule.length > 0 && i + rule.length <= size;
    for (int k = 1; ok && k < rule.length; ++k) {
      const uint8_t byte = static_cast<uint8_t>(text[i + k]);
      const uint8_t lo = k == 1 ? rule.second_lo : kContinuationLo;
      const uint8_t hi = k == 1 ? rule.second_hi : kContinuationHi;
      ok = byte >= lo && byte <= hi;
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("text is not valid UTF-8 at byte ", i));
    i += rule.length;
  }
  return absl::OkStatus();
}

bool HasHangul(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const uint8_t lead = static_cast<uint8_t>(text[i]);
    const int length = std::max(1, RuleFor(lead).length);
    if (length == 3 && i + 2 < text.size()) {
      const uint32_t cp = (lead & 0x0Fu) << 12 | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu) << 6 |
                          (static_cast<uint8_t>(text[i + 2]) & 0x3Fu);
      if ((cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF) ||
          (cp >= 0x3131 && cp <= 0x318E)) {
        return true;
      }
    }
    i += static_cast<size_t>(length);
  }
  return false;
}

}  // namespace duet::language
