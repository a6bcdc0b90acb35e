// The draft and caption pipeline over scripted parts: order, chunking, metadata, the rerank
// prompt, validation before any part runs, and errors from parts and from the caller.
#include "pipeline/draft_pipeline.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace duet::pipeline {
namespace {

model::ModelConfig Config() {
  model::ModelConfig config;
  config.name = "fake-model";
  config.Derive();
  return config;
}

std::string Value(const PngText& text, const std::string& key) {
  for (const auto& [k, v] : text) {
    if (k == key) return v;
  }
  return "<none>";
}

// Grid i is filled with its seed; a "PNG" is "seed=<first code> <metadata seed>".
class ScriptedParts : public Parts {
 public:
  explicit ScriptedParts(const model::ModelConfig& config) : grid_(config.transformer.image_grid) {}

  StatusOr<EncodedPrompt> EncodePrompt(const std::string& prompt) override {
    ++calls;
    encoded_texts.push_back(prompt);
    if (!encode_error.ok()) return encode_error;
    if (refuse_over_bytes > 0 && prompt.size() > refuse_over_bytes) {
      return absl::InvalidArgumentError("prompt is too long");
    }
    EncodedPrompt out;
    for (int64_t i = 0; i < prompt_tokens; ++i) out.ids.push_back(100 + i);
    out.width = 4;
    out.embeddings.assign(out.ids.size() * 4, 0.5f);
    return out;
  }
  StatusOr<std::vector<std::string>> Detokenize(
      const std::vector<std::vector<int64_t>>& ids) override {
    ++calls;
    std::vector<std::string> texts;
    for (const auto& row : ids) {
      const std::string id = std::to_string(row.at(0));
      texts.push_back(bilingual ? "hat " + id + " | 모자 " + id : "text of " + id);
    }
    return texts;
  }
  StatusOr<CodeGrids> GenerateCodes(const EncodedPrompt& prompt, int count,
                                    const fusion::SamplingParams& sampling,
                                    const ProgressFn& progress) override {
    ++calls;
    EXPECT_EQ(prompt.embeddings.size(), prompt.ids.size() * prompt.width);
    if (progress) progress(count, count);
    CodeGrids out{count - short_codes, grid_, {}};
    for (int i = 0; i < out.count; ++i) {
      out.codes.insert(out.codes.end(), out.cells(), static_cast<int64_t>(sampling.seed + i));
    }
    return out;
  }
  StatusOr<std::vector<std::vector<int64_t>>> GenerateCaptions(
      const CodeGrids& codes, const fusion::SamplingParams& sampling, int max_tokens) override {
    ++calls;
    caption_max_tokens = max_tokens;
    caption_seed = sampling.seed;
    std::vector<std::vector<int64_t>> ids;
    for (int64_t i = 0; i < codes.count; ++i) ids.push_back({codes.codes[i * codes.cells()], 7});
    return ids;
  }
  StatusOr<std::vector<double>> ScoreText(const CodeGrids& codes,
                                          const std::vector<std::vector<int64_t>>& texts) override {
    ++calls;
    scored_texts = texts;
    std::vector<double> scores;
    for (int64_t i = 0; i < codes.count; ++i) {
      const int64_t seed = codes.codes[i * codes.cells()];
      scores.push_back(score_of.count(seed) ? score_of.at(seed) : 0.0);
    }
    return scores;
  }
  StatusOr<std::vector<std::string>> DecodePngs(const CodeGrids& codes,
                                                const std::vector<PngText>& metadata) override {
    ++calls;
    chunk_sizes.push_back(codes.count);
    if (!decode_error.ok()) return decode_error;
    std::vector<std::string> pngs;
    for (int64_t i = 0; i < codes.count; ++i) {
      pngs.push_back("seed=" + std::to_string(codes.codes[i * codes.cells()]) + " " +
                     Value(metadata.at(i), "seed") + " score=" + Value(metadata.at(i), "score"));
    }
    return pngs;
  }
  int DecodeChunk() const override { return decode_chunk; }
  StatusOr<CodeGrids> EncodeImages(const std::vector<std::string>& images) override {
    ++calls;
    CodeGrids out{static_cast<int64_t>(images.size()), grid_, {}};
    for (const std::string& image : images) {
      out.codes.insert(out.codes.end(), out.cells(), static_cast<int64_t>(image.size()));
    }
    return out;
  }

  int calls = 0;
  int decode_chunk = 16;
  int64_t prompt_tokens = 3;
  int short_codes = 0;  // GenerateCodes returns this many grids too few
  bool bilingual = false;  // Detokenize writes "hat <id> | 모자 <id>"
  size_t refuse_over_bytes = 0;  // > 0: EncodePrompt refuses longer texts, as over its limit
  std::vector<std::string> encoded_texts;  // every EncodePrompt, in order
  Status encode_error, decode_error;
  std::map<int64_t, double> score_of;  // by seed
  std::vector<std::vector<int64_t>> scored_texts;
  std::vector<int64_t> chunk_sizes;
  int caption_max_tokens = 0;
  uint64_t caption_seed = 0;

 private:
  int64_t grid_;
};

DraftOptions Options(int count, uint64_t seed, bool rerank = false) {
  DraftOptions options;
  options.count = count;
  options.sampling.seed = seed;
  options.rerank = rerank;
  return options;
}

std::vector<Draft> RunDrafts(Parts& parts, const std::string& prompt, const DraftOptions& options,
                             Status* status) {
  std::vector<Draft> drafts;
  *status = GenerateDrafts(parts, Config(), prompt, options, nullptr, [&](Draft draft) {
    drafts.push_back(std::move(draft));
    return absl::OkStatus();
  });
  return drafts;
}

TEST(DraftPipelineTest, DraftsComeInIndexOrderDecodedAChunkAtATime) {
  ScriptedParts parts(Config());
  Status status;
  const auto drafts = RunDrafts(parts, "hat", Options(40, 1000), &status);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(drafts.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(drafts[i].index, i);
    EXPECT_EQ(drafts[i].seed, 1000u + i);
    EXPECT_EQ(drafts[i].score, 0.0);
    // The grid decoded for draft i is draft i's, and its metadata carries its seed and no score.
    EXPECT_EQ(drafts[i].png, "seed=" + std::to_string(1000 + i) + " " +
                                 std::to_string(1000 + i) + " score=<none>");
  }
  EXPECT_EQ(parts.chunk_sizes, (std::vector<int64_t>{16, 16, 8}));
  EXPECT_TRUE(parts.scored_texts.empty());  // no rerank, no scoring

  // The parts choose the chunk; the drafts are the same.
  ScriptedParts wide(Config());
  wide.decode_chunk = 64;
  const auto same = RunDrafts(wide, "hat", Options(40, 1000), &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(wide.chunk_sizes, (std::vector<int64_t>{40}));
  for (int i = 0; i < 40; ++i) EXPECT_EQ(same[i].png, drafts[i].png);
}

TEST(DraftPipelineTest, RerankPutsTheBestFirstKeepsTiesInIndexOrderAndCutsThePrompt) {
  ScriptedParts parts(Config());
  parts.prompt_tokens = 40;  // longer than a caption
  parts.score_of = {{5, -1.0}, {7, -0.5}, {8, -1.0}};  // seeds 5..9; 6 and 9 score 0
  Status status;
  const auto drafts = RunDrafts(parts, "hat", Options(5, 5, /*rerank=*/true), &status);
  ASSERT_TRUE(status.ok()) << status;
  std::vector<int> order;
  for (const Draft& d : drafts) order.push_back(d.index);
  EXPECT_EQ(order, (std::vector<int>{1, 4, 2, 0, 3}));
  EXPECT_EQ(drafts[2].score, -0.5);
  EXPECT_EQ(drafts[2].png, "seed=7 7 score=-0.5");
  EXPECT_EQ(parts.caption_seed, 0u);  // the drafts' own captions are greedy
  const int caption_ids = Config().transformer.max_caption_len - 1;
  EXPECT_EQ(parts.caption_max_tokens, caption_ids);
  ASSERT_EQ(parts.scored_texts.size(), 5u);
  for (const auto& text : parts.scored_texts) {
    ASSERT_EQ(static_cast<int>(text.size()), caption_ids);
    EXPECT_EQ(text.front(), 100);
  }
}

// The rerank scores a whole caption: the prompt in its language's half, the draft's own caption
// in the other. Each distinct caption is tokenized once.
TEST(DraftPipelineTest, RerankScoresThePromptCompletedByEachDraftsOwnCaption) {
  ScriptedParts parts(Config());
  parts.bilingual = true;
  Status status;
  RunDrafts(parts, "마술사 모자", Options(2, 40, /*rerank=*/true), &status);
  ASSERT_TRUE(status.ok()) << status;
  // The prompt, then one completed caption per distinct draft caption (drafts 40 and 41).
  EXPECT_EQ(parts.encoded_texts,
            (std::vector<std::string>{"마술사 모자", "hat 40 | 마술사 모자", "hat 41 | 마술사 모자"}));
  ASSERT_EQ(parts.scored_texts.size(), 2u);
  parts.encoded_texts.clear();
  RunDrafts(parts, "top hat", Options(3, 7, /*rerank=*/true), &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(parts.encoded_texts, (std::vector<std::string>{"top hat", "top hat | 모자 7",
                                                           "top hat | 모자 8", "top hat | 모자 9"}));
}

// A prompt the text encoder takes, but not with the other half beside it, is scored alone.
TEST(DraftPipelineTest, RerankScoresAPromptAloneWhenItsCompletionIsTooLong) {
  ScriptedParts parts(Config());
  parts.bilingual = true;
  parts.prompt_tokens = 2;
  parts.refuse_over_bytes = 8;
  parts.score_of = {{8, -1.0}};
  Status status;
  const auto drafts = RunDrafts(parts, "top hat", Options(2, 7, /*rerank=*/true), &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(parts.scored_texts, (std::vector<std::vector<int64_t>>{{100, 101}, {100, 101}}));
  ASSERT_EQ(drafts.size(), 2u);
  EXPECT_EQ(drafts[0].index, 0);
}

TEST(CompleteCaptionTest, FillsTheOtherHalfFromTheDraftsCaption) {
  EXPECT_EQ(CompleteCaption("top hat", /*korean=*/false, "robot | 로봇 얼굴"), "top hat | 로봇 얼굴");
  EXPECT_EQ(CompleteCaption("마술사 모자", /*korean=*/true, "robot | 로봇 얼굴"), "robot | 마술사 모자");
  // A caption without a separator is all English half.
  EXPECT_EQ(CompleteCaption("top hat", false, "robot"), "top hat | ");
  EXPECT_EQ(CompleteCaption("마술사 모자", true, "robot"), "robot | 마술사 모자");
  // Only the first separator splits.
  EXPECT_EQ(CompleteCaption("x", false, "a | b | c"), "x | b | c");
}

TEST(DraftPipelineTest, BadRequestsAreNamedBeforeAnyPartRuns) {
  const std::map<std::string, std::pair<std::string, DraftOptions>> cases = {
      {"prompt must not be empty", {"", Options(1, 0)}},
      {"the limit is 2048", {std::string(2049, 'x'), Options(1, 0)}},
      {"UTF-8", {"\xC0\xAF", Options(1, 0)}},
      {"NUL byte at offset 3", {std::string("hat\0x", 5), Options(1, 0)}},
      {"count must be in [1, 256]", {"hat", Options(0, 0)}},
      {"count must be in [1, 256], got 257", {"hat", Options(257, 0)}},
  };
  for (const auto& [message, request] : cases) {
    ScriptedParts parts(Config());
    Status status;
    RunDrafts(parts, request.first, request.second, &status);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_NE(status.message().find(message), std::string::npos) << status;
    EXPECT_EQ(parts.calls, 0) << message;
  }
  DraftOptions hot = Options(1, 0);
  hot.sampling.temperature = 11;
  EXPECT_NE(ValidateDrafts(Config(), "hat", hot).message().find("temperature"),
            std::string::npos);
}

TEST(DraftPipelineTest, PartAndCallerErrorsStopTheRun) {
  {
    ScriptedParts parts(Config());
    parts.encode_error = absl::InvalidArgumentError("prompt: too many tokens");
    Status status;
    RunDrafts(parts, "hat", Options(3, 0), &status);
    EXPECT_EQ(status, parts.encode_error);
    EXPECT_EQ(parts.calls, 1);
  }
  {
    ScriptedParts parts(Config());
    parts.short_codes = 1;
    Status status;
    RunDrafts(parts, "hat", Options(3, 0), &status);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
    EXPECT_TRUE(parts.chunk_sizes.empty());
  }
  {
    // The caller refuses the first draft: no second chunk is decoded.
    ScriptedParts parts(Config());
    int seen = 0;
    const Status status = GenerateDrafts(parts, Config(), "hat", Options(40, 0), nullptr,
                                         [&](Draft) {
                                           ++seen;
                                           return absl::CancelledError("client went away");
                                         });
    EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
    EXPECT_EQ(seen, 1);
    EXPECT_EQ(parts.chunk_sizes, (std::vector<int64_t>{16}));
  }
}

TEST(DraftPipelineTest, CaptionsAreGeneratedScoredAndDetokenizedPerImage) {
  ScriptedParts parts(Config());
  parts.score_of = {{3, -2.0}, {5, -4.0}};  // grids are filled with the image's byte count
  fusion::SamplingParams greedy;
  greedy.temperature = 0;
  greedy.seed = 11;
  const auto captions = CaptionImages(parts, Config(), {"abc", "abcde"}, greedy);
  ASSERT_TRUE(captions.ok()) << captions.status();
  ASSERT_EQ(captions->size(), 2u);
  EXPECT_EQ((*captions)[0].text, "text of 3");
  EXPECT_EQ((*captions)[0].score, -2.0);
  EXPECT_EQ((*captions)[1].text, "text of 5");
  EXPECT_EQ((*captions)[1].score, -4.0);
  EXPECT_EQ(parts.caption_max_tokens, Config().transformer.max_caption_len - 1);
  EXPECT_EQ(parts.caption_seed, 11u);
  // The score is of the caption generated, not of the prompt.
  EXPECT_EQ(parts.scored_texts, (std::vector<std::vector<int64_t>>{{3, 7}, {5, 7}}));

  EXPECT_NE(CaptionImages(parts, Config(), {"abc", ""}, greedy).status().message().find(
                "image 1 must not be empty"),
            std::string::npos);
  EXPECT_NE(CaptionImages(parts, Config(), {}, greedy).status().message().find("images"),
            std::string::npos);
}

}  // namespace
}  // namespace duet::pipeline
