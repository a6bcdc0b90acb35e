// Duet's text tokenizer: a SentencePiece unigram model shared by English and Korean captions.
// Byte fallback is on, so every valid UTF-8 string encodes, and decoding gives it back exactly.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "language/sentencepiece_bridge.h"

namespace duet::language {

// Special token ids, identical in every Duet tokenizer model (Load rejects models that differ).
inline constexpr int kPadId = 0;  // "<pad>": fills batches past a text's length
inline constexpr int kUnkId = 1;  // "<unk>": never produced with byte fallback on
inline constexpr int kBosId = 2;  // "<s>"
inline constexpr int kEosId = 3;  // "</s>"

// A trained SentencePiece model.
//
// Normalization is "identity" with whitespace kept as written (no NFKC, no collapsing of spaces),
// so Decode(Encode(s)) == s for every valid UTF-8 string s that does not contain U+2581
// ("▁", SentencePiece's space marker, which decodes to an ASCII space). Characters not in the
// vocabulary (emoji, rare Hanja, control characters) are encoded as their UTF-8 bytes.
//
// Thread safety: all const methods may be called concurrently. Copies are cheap and share one
// immutable SentencePieceProcessor (held through internal::SentencePieceModel, which lives in the
// separately loaded SentencePiece module; see sentencepiece_api.h). Every factory returns
// FailedPrecondition when that module (libduet_sentencepiece.so) cannot be found.
class Tokenizer {
 public:
  // Smallest accepted vocabulary: 4 special pieces + 256 byte pieces + room for real pieces.
  static constexpr int kMinVocabSize = 300;
  static constexpr int kMaxVocabSize = 1 << 20;

  // Trains a unigram model on `texts` (one caption each) in memory. Deterministic: the same texts
  // and vocab_size give the same Serialized() bytes. The resulting vocab_size() may be smaller than
  // asked for when the corpus is too small to support that many pieces.
  // InvalidArgument: vocab_size outside [kMinVocabSize, kMaxVocabSize], no texts, a text that is
  // not valid UTF-8 (naming its index), or a vocabulary too small for the corpus's characters
  // (every distinct character needs its own piece).
  static StatusOr<Tokenizer> Train(const std::vector<std::string>& texts, int vocab_size);

  // Reads a model file written by Save (a serialized SentencePiece ModelProto).
  // NotFound when the file is missing; InvalidArgument when it is not a valid model or its special
  // ids differ from kPadId/kUnkId/kBosId/kEosId.
  static StatusOr<Tokenizer> Load(const std::string& model_path);
  // As Load, from the bytes of a model.
  static StatusOr<Tokenizer> FromSerialized(const std::string& model_proto);

  // Writes the model atomically to `path`.
  Status Save(const std::string& path) const;
  // The serialized ModelProto (the bytes Save writes).
  std::string Serialized() const;

  // Token ids of `text`, without BOS/EOS. The empty text gives no ids.
  // InvalidArgument "text is not valid UTF-8 at byte N" for ill-formed input (see utf8.h).
  StatusOr<std::vector<int>> Encode(std::string_view text) const;

  // The text of `ids`; pad, BOS and EOS ids are skipped.
  // InvalidArgument when an id is outside [0, vocab_size()), naming the id and the limit.
  StatusOr<std::string> Decode(const std::vector<int>& ids) const;

  // Number of pieces, special and byte pieces included. Every id is in [0, vocab_size()).
  int vocab_size() const { return vocab_size_; }

 private:
  Tokenizer(std::shared_ptr<const internal::SentencePieceModel> model, int vocab_size);

  std::shared_ptr<const internal::SentencePieceModel> model_;  // never null
  int vocab_size_ = 0;
};

}  // namespace duet::language
