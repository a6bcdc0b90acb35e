// Tokenizer: bilingual round trips, byte fallback for unseen characters, strict UTF-8 checks,
// save/load, deterministic training, and Decode's id checks.
#include "language/tokenizer.h"

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/language/test_corpus.h"

namespace duet::language {
namespace {

using testing::BilingualCorpus;
using testing::CorpusTokenizer;
using testing::kCorpusVocabSize;

// Byte pieces <0x00>..<0xFF> follow the four special pieces.
constexpr int kFirstByteId = 4;
constexpr int kByteCount = 256;
bool IsByteId(int id) { return id >= kFirstByteId && id < kFirstByteId + kByteCount; }

std::vector<int> EncodeOrDie(const Tokenizer& tokenizer, const std::string& text) {
  auto ids = tokenizer.Encode(text);
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.ok() ? *ids : std::vector<int>{};
}

void ExpectRoundTrip(const Tokenizer& tokenizer, const std::string& text) {
  const std::vector<int> ids = EncodeOrDie(tokenizer, text);
  for (int id : ids) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, tokenizer.vocab_size());
    EXPECT_NE(id, kUnkId) << text;
    EXPECT_NE(id, kBosId) << text;
    EXPECT_NE(id, kEosId) << text;
  }
  auto decoded = tokenizer.Decode(ids);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, text);
}

TEST(Tokenizer, VocabularyHoldsSpecialsBytesAndCorpusPieces) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  EXPECT_GT(tokenizer.vocab_size(), kFirstByteId + kByteCount);
  EXPECT_LE(tokenizer.vocab_size(), kCorpusVocabSize);
}

TEST(Tokenizer, RoundTripsEnglishAndKorean) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  for (const std::string& text : BilingualCorpus()) ExpectRoundTrip(tokenizer, text);
  for (const std::string text : {"a pumpkin hat for a robot", "고양이 모양의 로봇 청소기",
                                 "  two  spaces and a trailing one ", "tab\tand\nnewline",
                                 "Mixed 한국어 and English, 2024!", "x"}) {
    ExpectRoundTrip(tokenizer, text);
  }
}

TEST(Tokenizer, KoreanFromTheCorpusNeedsNoByteFallback) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  for (const std::string text : {"호박", "마술사 모자", "로봇 얼굴", "빨간 스포츠카"}) {
    const std::vector<int> ids = EncodeOrDie(tokenizer, text);
    EXPECT_FALSE(ids.empty());
    for (int id : ids) EXPECT_FALSE(IsByteId(id)) << text << " uses byte piece " << id;
  }
}

TEST(Tokenizer, UnseenCharactersUseByteFallbackAndRoundTrip) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  // Emoji, a rare Hanja, control characters, and a 4-byte code point at the top of the range.
  for (const std::string text : {"🎃", "龘", "호박🎃 hat", "\x01\x7f", "\xF4\x8F\xBF\xBF"}) {
    const std::vector<int> ids = EncodeOrDie(tokenizer, text);
    int byte_ids = 0;
    for (int id : ids) byte_ids += IsByteId(id) ? 1 : 0;
    EXPECT_GE(byte_ids, 1) << text;
    ExpectRoundTrip(tokenizer, text);
  }
  const std::vector<int> pumpkin = EncodeOrDie(tokenizer, "🎃");  // F0 9F 8E 83
  const std::vector<int> expected_tail = {kFirstByteId + 0xF0, kFirstByteId + 0x9F,
                                          kFirstByteId + 0x8E, kFirstByteId + 0x83};
  ASSERT_GE(pumpkin.size(), expected_tail.size());
  EXPECT_EQ(std::vector<int>(pumpkin.end() - 4, pumpkin.end()), expected_tail);
}

TEST(Tokenizer, EncodeAddsNoBosOrEosAndEmptyTextHasNoIds) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  EXPECT_TRUE(EncodeOrDie(tokenizer, "").empty());
  const std::vector<int> ids = EncodeOrDie(tokenizer, "robot face");
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(ids.front(), kBosId);
  EXPECT_NE(ids.back(), kEosId);
}

TEST(Tokenizer, RejectsInvalidUtf8) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  for (const std::string bad : {"ok\x80", "\xC0\xAF", "\xED\xA0\x80", "호\xEB\xB0"}) {
    const auto ids = tokenizer.Encode(bad);
    ASSERT_FALSE(ids.ok());
    EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ids.status().message().find("not valid UTF-8 at byte"), std::string::npos)
        << ids.status();
  }
}

TEST(Tokenizer, DecodeSkipsPadBosEos) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  std::vector<int> ids = EncodeOrDie(tokenizer, "호박 모양 모자");
  ids.insert(ids.begin(), kBosId);
  ids.push_back(kEosId);
  ids.push_back(kPadId);
  ids.push_back(kPadId);
  auto decoded = tokenizer.Decode(ids);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, "호박 모양 모자");
}

TEST(Tokenizer, DecodeRejectsOutOfRangeIds) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  const int limit = tokenizer.vocab_size();
  for (const int bad : {limit, limit + 100, -1}) {
    const auto text = tokenizer.Decode({5, bad, 6});
    ASSERT_FALSE(text.ok()) << bad;
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(text.status().message().find("token id " + std::to_string(bad)), std::string::npos)
        << text.status();
    EXPECT_NE(text.status().message().find(std::to_string(limit)), std::string::npos)
        << text.status();
  }
  EXPECT_TRUE(tokenizer.Decode({limit - 1}).ok());
}

TEST(Tokenizer, SaveLoadAndFromSerializedGiveIdenticalIds) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  const std::string path = ::testing::TempDir() + "/duet_tokenizer_test.model";
  ASSERT_TRUE(tokenizer.Save(path).ok());
  auto loaded = Tokenizer::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto copied = Tokenizer::FromSerialized(tokenizer.Serialized());
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(loaded->Serialized(), tokenizer.Serialized());
  EXPECT_EQ(loaded->vocab_size(), tokenizer.vocab_size());
  for (const std::string text : {"마술사 모자", "jack-o-lantern 🎃", "design draft 42"}) {
    EXPECT_EQ(EncodeOrDie(*loaded, text), EncodeOrDie(tokenizer, text)) << text;
    EXPECT_EQ(EncodeOrDie(*copied, text), EncodeOrDie(tokenizer, text)) << text;
  }
  std::remove(path.c_str());
}

TEST(Tokenizer, LoadRejectsMissingAndCorruptModels) {
  EXPECT_EQ(Tokenizer::Load(::testing::TempDir() + "/no_such.model").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Tokenizer::FromSerialized("not a model").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Tokenizer, ConcurrentEncodeAndDecodeMatchSequential) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  const std::vector<std::string>& corpus = BilingualCorpus();
  std::vector<std::vector<int>> expected;
  for (const std::string& text : corpus) expected.push_back(EncodeOrDie(tokenizer, text));
  constexpr int kThreads = 4;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Tokenizer copy = tokenizer;  // copies share one model
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < corpus.size(); ++i) {
          const auto ids = copy.Encode(corpus[i]);
          const auto text = copy.Decode(expected[i]);
          if (!ids.ok() || *ids != expected[i] || !text.ok() || *text != corpus[i]) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(kThreads, 0));
}

TEST(Tokenizer, TrainingIsDeterministic) {
  auto again = Tokenizer::Train(BilingualCorpus(), kCorpusVocabSize);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->Serialized(), CorpusTokenizer().Serialized());
}

TEST(Tokenizer, TrainsOnSmallAndLargeVocabularies) {
  std::vector<std::string> english;
  for (const std::string& text : BilingualCorpus()) {
    if (static_cast<unsigned char>(text[0]) < 0x80) english.push_back(text);
  }
  auto small = Tokenizer::Train(english, Tokenizer::kMinVocabSize);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_LE(small->vocab_size(), Tokenizer::kMinVocabSize);
  ExpectRoundTrip(*small, "호박 robot 🎃");  // Korean is all bytes here, and still round-trips.
  auto large = Tokenizer::Train(BilingualCorpus(), 4000);
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_LE(large->vocab_size(), 4000);
  ExpectRoundTrip(*large, "빨간 로봇 hat");
}

TEST(Tokenizer, TrainRejectsBadArguments) {
  const auto too_small = Tokenizer::Train(BilingualCorpus(), Tokenizer::kMinVocabSize - 1);
  EXPECT_EQ(too_small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_small.status().message().find("vocab_size must be in [300"), std::string::npos)
      << too_small.status();
  EXPECT_EQ(Tokenizer::Train({}, 400).status().code(), absl::StatusCode::kInvalidArgument);
  const auto bad_text = Tokenizer::Train({"fine", "bad \xC0\xAF"}, 400);
  EXPECT_EQ(bad_text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_text.status().message().find("training text 1"), std::string::npos)
      << bad_text.status();
  // Every distinct character of the corpus needs a piece: 300 cannot hold this corpus's Hangul.
  EXPECT_EQ(Tokenizer::Train(BilingualCorpus(), Tokenizer::kMinVocabSize).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace duet::language
