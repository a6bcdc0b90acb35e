// Duet's side of the SentencePiece module (see sentencepiece_api.h for why it is a module):
// finds and opens libduet_sentencepiece.so once per process and wraps its table in Status APIs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "language/sentencepiece_api.h"

namespace duet::language::internal {

// File name of the module; CMake puts it next to Duet's binaries (build/bin/).
inline constexpr const char kSentencePieceModuleName[] = "libduet_sentencepiece.so";
// Environment variable that, when set, names the module's exact path (checked first).
inline constexpr const char kSentencePieceModuleEnv[] = "DUET_SENTENCEPIECE_MODULE";

// The module's function table, opened on first use with RTLD_LOCAL | RTLD_DEEPBIND from, in order:
// $DUET_SENTENCEPIECE_MODULE, the running executable's folder, its ../lib, and the build tree.
// FailedPrecondition listing every path tried when none loads. Thread-safe; the outcome (success
// or error) is cached for the life of the process.
StatusOr<const SentencePieceApi*> GetSentencePieceApi();

// Trains a model (the module's fixed settings); InvalidArgument carries the trainer's message.
Status TrainSentencePiece(const std::vector<std::string>& texts, int vocab_size,
                          std::string* model_proto);

// One loaded SentencePieceProcessor, released when the last shared_ptr goes away.
// Const methods are thread-safe and may run concurrently.
class SentencePieceModel {
 public:
  struct SpecialIds {
    int pad, unk, bos, eos;  // -1 when the model disables one
  };

  // InvalidArgument when `model_proto` is not a serialized ModelProto.
  static StatusOr<std::shared_ptr<const SentencePieceModel>> FromSerialized(
      const std::string& model_proto);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  std::string Serialized() const;
  int piece_count() const;
  SpecialIds special_ids() const;
  // The caller has validated `text` as UTF-8; errors here are Internal.
  Status Encode(std::string_view text, std::vector<int>* ids) const;
  // The caller has range-checked `ids`; errors here are Internal.
  Status Decode(const std::vector<int>& ids, std::string* text) const;

 private:
  SentencePieceModel(const SentencePieceApi* api, void* model) : api_(api), model_(model) {}

  const SentencePieceApi* api_;  // process-lifetime table
  void* model_;                  // owned SentencePieceProcessor
};

}  // namespace duet::language::internal
