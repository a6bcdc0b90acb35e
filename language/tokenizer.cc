// Implementation of language/tokenizer.h: argument checks (vocabulary size, UTF-8, id ranges,
// special ids) around the SentencePiece module bridge.
#include "language/tokenizer.h"

#include <utility>

#include "common/file.h"
#include "language/utf8.h"

namespace duet::language {

Tokenizer::Tokenizer(std::shared_ptr<const internal::SentencePieceModel> model, int vocab_size)
    : model_(std::move(model)), vocab_size_(vocab_size) {}

StatusOr<Tokenizer> Tokenizer::Train(const std::vector<std::string>& texts, int vocab_size) {
  DUET_RETURN_IF_ERROR(CheckRange("vocab_size", vocab_size, kMinVocabSize, kMaxVocabSize));
  if (texts.empty()) return absl::InvalidArgumentError("cannot train a tokenizer on no texts");
  for (size_t i = 0; i < texts.size(); ++i) {
    const Status valid = ValidateUtf8(texts[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("training text ", i, ": ", valid.message()));
    }
  }
  std::string model_proto;
  DUET_RETURN_IF_ERROR(internal::TrainSentencePiece(texts, vocab_size, &model_proto));
  return FromSerialized(model_proto);
}

StatusOr<Tokenizer> Tokenizer::Load(const std::string& model_path) {
  DUET_ASSIGN_OR_RETURN(const std::string model_proto, ReadFile(model_path));
  auto tokenizer = FromSerialized(model_proto);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat(model_path, ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

StatusOr<Tokenizer> Tokenizer::FromSerialized(const std::string& model_proto) {
  DUET_ASSIGN_OR_RETURN(std::shared_ptr<const internal::SentencePieceModel> model,
                        internal::SentencePieceModel::FromSerialized(model_proto));
  const internal::SentencePieceModel::SpecialIds ids = model->special_ids();
  if (ids.pad != kPadId || ids.unk != kUnkId || ids.bos != kBosId || ids.eos != kEosId) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer special ids must be pad=", kPadId, " unk=", kUnkId, " bos=", kBosId,
                     " eos=", kEosId, ", the model has pad=", ids.pad, " unk=", ids.unk,
                     " bos=", ids.bos, " eos=", ids.eos));
  }
  const int vocab_size = model->piece_count();
  return Tokenizer(std::move(model), vocab_size);
}

Status Tokenizer::Save(const std::string& path) const {
  return WriteFileAtomic(path, Serialized());
}

std::string Tokenizer::Serialized() const { return model_->Serialized(); }

StatusOr<std::vector<int>> Tokenizer::Encode(std::string_view text) const {
  DUET_RETURN_IF_ERROR(ValidateUtf8(text));
  std::vector<int> ids;
  DUET_RETURN_IF_ERROR(model_->Encode(text, &ids));
  return ids;
}

StatusOr<std::string> Tokenizer::Decode(const std::vector<int>& ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    if (id < 0 || id >= vocab_size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " at position ", i, " is outside [0, ", vocab_size_, ")"));
    }
    if (id != kPadId && id != kBosId && id != kEosId) kept.push_back(id);
  }
  std::string text;
  DUET_RETURN_IF_ERROR(model_->Decode(kept, &text));
  return text;
}

}  // namespace duet::language
