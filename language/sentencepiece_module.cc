// libduet_sentencepiece.so: the only code that includes or links SentencePiece. It exports one
// function table (sentencepiece_api.h) and is opened by sentencepiece_bridge.cc, never linked.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "language/sentencepiece_api.h"

namespace duet::language::internal {
namespace {

using sentencepiece::SentencePieceProcessor;

// Seed for SentencePiece's global random generator. Training is single-threaded and neither
// samples nor shuffles, so the model depends only on the corpus and the vocabulary size.
constexpr unsigned int kTrainingSeed = 20240601;

// Feeds the in-memory corpus to the trainer, one text per sentence.
class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& texts) : texts_(texts) {}
  bool done() const override { return index_ >= texts_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return texts_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& texts_;
  size_t index_ = 0;
};

std::unordered_map<std::string, std::string> TrainerFlags(int vocab_size) {
  return {
      {"model_type", "unigram"},
      {"vocab_size", std::to_string(vocab_size)},
      {"hard_vocab_limit", "false"},  // small corpora may support fewer pieces than asked for
      {"byte_fallback", "true"},      // 256 <0xNN> pieces: every UTF-8 string encodes
      {"character_coverage", "1.0"},  // every character of the corpus (all Hangul seen) is a piece
      {"split_digits", "true"},
      // Identity normalization: no NFKC, whitespace kept as written, so decode(encode(s)) == s.
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "true"},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "2"},
      {"eos_id", "3"},
      {"pad_piece", "<pad>"},
      {"unk_piece", "<unk>"},
      {"bos_piece", "<s>"},
      {"eos_piece", "</s>"},
      {"num_threads", "1"},
      {"input_sentence_size", "0"},  // use every sentence, no sampling
      {"shuffle_input_sentence", "false"},
      {"minloglevel", "2"},  // no progress logs; errors still come back as a status
  };
}

std::string ErrorOf(const sentencepiece::util::Status& status) {
  if (status.ok()) return "";
  const std::string message = status.message();
  return message.empty() ? status.ToString() : message;
}

const SentencePieceProcessor& Model(const void* model) {
  return *static_cast<const SentencePieceProcessor*>(model);
}

std::string Train(const std::vector<std::string>& texts, int vocab_size, std::string* model_proto) {
  sentencepiece::SetRandomGeneratorSeed(kTrainingSeed);
  VectorIterator iterator(texts);
  return ErrorOf(
      sentencepiece::SentencePieceTrainer::Train(TrainerFlags(vocab_size), &iterator, model_proto));
}

std::string LoadModel(const std::string& model_proto, void** model) {
  auto* processor = new SentencePieceProcessor();
  const std::string error = ErrorOf(processor->LoadFromSerializedProto(model_proto));
  if (!error.empty()) {
    delete processor;
    return error;
  }
  *model = processor;
  return "";
}

void FreeModel(void* model) { delete static_cast<SentencePieceProcessor*>(model); }

std::string Serialize(const void* model) { return Model(model).serialized_model_proto(); }

int PieceCount(const void* model) { return Model(model).GetPieceSize(); }

void SpecialIds(const void* model, int ids[4]) {
  const SentencePieceProcessor& processor = Model(model);
  ids[0] = processor.pad_id();
  ids[1] = processor.unk_id();
  ids[2] = processor.bos_id();
  ids[3] = processor.eos_id();
}

std::string Encode(const void* model, std::string_view text, std::vector<int>* ids) {
  ids->clear();
  return ErrorOf(Model(model).Encode(text, ids));
}

std::string Decode(const void* model, const std::vector<int>& ids, std::string* text) {
  text->clear();
  return ErrorOf(Model(model).Decode(ids, text));
}

constexpr SentencePieceApi kApi = {
    kSentencePieceApiVersion,
    &Train,
    &LoadModel,
    &FreeModel,
    &Serialize,
    &PieceCount,
    &SpecialIds,
    &Encode,
    &Decode,
};

}  // namespace
}  // namespace duet::language::internal

extern "C" __attribute__((visibility("default"))) const duet::language::internal::SentencePieceApi*
DuetSentencePieceApi() {
  return &duet::language::internal::kApi;
}
