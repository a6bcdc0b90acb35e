// TokenizeBatch: padded ids and lengths match per-text encoding; empty, too long and
// ill-formed texts are rejected with the text's index.
#include "language/text_batch.h"

#include "gtest/gtest.h"
#include "tests/language/test_corpus.h"

namespace duet::language {
namespace {

using testing::CorpusTokenizer;

TEST(TextBatch, PadsEveryTextToMaxLen) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  const std::vector<std::string> texts = {"a pumpkin-shaped hat", "호박", "로봇 얼굴 🎃"};
  constexpr int kMaxLen = 24;
  auto batch = TokenizeBatch(tokenizer, texts, kMaxLen);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const auto& [ids, lengths] = *batch;
  ASSERT_EQ(ids.sizes(), (std::vector<int64_t>{3, kMaxLen}));
  ASSERT_EQ(lengths.sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(ids.scalar_type(), torch::kInt64);
  EXPECT_EQ(lengths.scalar_type(), torch::kInt64);
  for (int b = 0; b < 3; ++b) {
    const std::vector<int> expected = *tokenizer.Encode(texts[b]);
    ASSERT_EQ(lengths[b].item<int64_t>(), static_cast<int64_t>(expected.size()));
    for (int t = 0; t < kMaxLen; ++t) {
      const int64_t want = t < static_cast<int>(expected.size()) ? expected[t] : kPadId;
      EXPECT_EQ(ids[b][t].item<int64_t>(), want) << "text " << b << " position " << t;
    }
  }
}

TEST(TextBatch, RejectsTooLongTextNamingIndexAndLimit) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  const std::string long_text = "🎃🎃🎃🎃";  // 16 byte pieces at least
  const size_t tokens = tokenizer.Encode(long_text)->size();
  ASSERT_GT(tokens, 8u);
  const auto batch = TokenizeBatch(tokenizer, {"호박", "robot face", "hat", long_text}, 8);
  ASSERT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batch.status().message(),
            "text 3 has " + std::to_string(tokens) + " tokens, the limit is 8");
  // Exactly at the limit is fine.
  EXPECT_TRUE(TokenizeBatch(tokenizer, {long_text}, static_cast<int>(tokens)).ok());
}

TEST(TextBatch, RejectsEmptyInvalidAndNoTexts) {
  const Tokenizer& tokenizer = CorpusTokenizer();
  const auto empty = TokenizeBatch(tokenizer, {"hat", "호박", ""}, 16);
  ASSERT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "text 2 is empty");
  const auto invalid = TokenizeBatch(tokenizer, {"hat", "bad\xED\xA0\x80"}, 16);
  ASSERT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(invalid.status().message(), "text 1: text is not valid UTF-8 at byte 3");
  EXPECT_EQ(TokenizeBatch(tokenizer, {}, 16).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TokenizeBatch(tokenizer, {"hat"}, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace duet::language
