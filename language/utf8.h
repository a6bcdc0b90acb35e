// Strict UTF-8 validation (RFC 3629): the gate every text passes before it reaches SentencePiece.
// Written by hand so the rules are explicit: no overlongs, no surrogates, nothing above U+10FFFF.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace duet::language {

// OK when `text` is well-formed UTF-8. Otherwise InvalidArgument
// "text is not valid UTF-8 at byte N", where N is the 0-based offset of the first byte of the
// first ill-formed sequence (a stray continuation byte, an invalid lead byte such as 0xC0/0xC1/
// 0xF5..0xFF, an overlong form, a UTF-16 surrogate U+D800..U+DFFF, a code point above U+10FFFF,
// or a sequence truncated by the end of the text or by a non-continuation byte).
// The empty string is valid. Pure function; thread-safe.
absl::Status ValidateUtf8(std::string_view text);

// True when well-formed UTF-8 `text` holds a Hangul letter: a syllable (U+AC00..U+D7A3) or a
// jamo (U+1100..U+11FF, U+3131..U+318E). Which half of a caption a prompt names. Thread-safe.
bool HasHangul(std::string_view text);

}  // namespace duet::language
