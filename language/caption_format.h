// How Duet's captions are written: a model names an image in both of its languages,
// "<English> | <Korean>", so one greedy caption serves both. training/batches.h writes caption
// targets this way; pipeline::CompleteCaption (the rerank) and `duet eval` read them.
#pragma once

namespace duet::language {

inline constexpr char kCaptionSeparator[] = " | ";

}  // namespace duet::language
