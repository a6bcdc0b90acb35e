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

}  // namespace duet::language
