// The function table that the SentencePiece module (libduet_sentencepiece.so) exports to Duet.
// Debian's libsentencepiece exports a bundled protobuf-lite 3.14 that breaks libtorch's protobuf.
//
// Why a module: linked into a process that also loads libprotobuf.so.32 (libtorch does), one copy
// of the protobuf symbols interposes on the other and the process crashes at start-up. So
// libsentencepiece is never linked into Duet's libraries or binaries: sentencepiece_module.cc links
// it into a separate shared object that sentencepiece_bridge.cc opens with RTLD_LOCAL |
// RTLD_DEEPBIND, which keeps both protobuf copies apart. Both sides are built by this project with
// one compiler, so the table may use std types. Std-only header: it must not include Abseil (the
// SentencePiece headers define an absl::string_view alias that clashes with Debian's Abseil).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace duet::language::internal {

// Bumped whenever the table changes; the bridge refuses a module with another version.
inline constexpr int kSentencePieceApiVersion = 1;
// The one symbol the module exports: `extern "C" const SentencePieceApi* <this name>()`.
inline constexpr const char kSentencePieceApiSymbol[] = "DuetSentencePieceApi";

// Functions returning std::string return an error message, empty on success. `model` is an opaque
// SentencePieceProcessor made by load_model and released by free_model. Every function is
// thread-safe; the const-model ones may run concurrently on one model.
struct SentencePieceApi {
  int version;
  // Trains with Duet's fixed settings (see tokenizer.h); stores the serialized ModelProto.
  std::string (*train)(const std::vector<std::string>& texts, int vocab_size,
                       std::string* model_proto);
  std::string (*load_model)(const std::string& model_proto, void** model);
  void (*free_model)(void* model);
  std::string (*serialize)(const void* model);
  int (*piece_count)(const void* model);
  // pad, unk, bos, eos ids (-1 when disabled), in that order.
  void (*special_ids)(const void* model, int ids[4]);
  std::string (*encode)(const void* model, std::string_view text, std::vector<int>* ids);
  std::string (*decode)(const void* model, const std::vector<int>& ids, std::string* text);
};

}  // namespace duet::language::internal
