// ValidateUtf8: every class of ill-formed sequence is rejected at the right byte offset,
// and the boundaries of the valid ranges are accepted.
#include "language/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace duet::language {
namespace {

TEST(Utf8, AcceptsWellFormedText) {
  for (const std::string text : {
           std::string(), std::string("plain ascii\t\n"), std::string("\0 nul", 5),
           std::string("호박 모자"), std::string("🎃🤖"), std::string("龘"),
           std::string("\xC2\x80"),          // U+0080, smallest 2-byte
           std::string("\xE0\xA0\x80"),      // U+0800, smallest 3-byte
           std::string("\xED\x9F\xBF"),      // U+D7FF, just below the surrogates
           std::string("\xEE\x80\x80"),      // U+E000, just above them
           std::string("\xF0\x90\x80\x80"),  // U+10000, smallest 4-byte
           std::string("\xF4\x8F\xBF\xBF"),  // U+10FFFF, the largest code point
       }) {
    EXPECT_TRUE(ValidateUtf8(text).ok()) << ValidateUtf8(text);
  }
}

struct BadCase {
  const char* name;
  std::string text;
  int byte;  // offset the error must name
};

TEST(Utf8, RejectsIllFormedSequencesAtTheirFirstByte) {
  const BadCase cases[] = {
      {"lone continuation", "ab\x80", 2},
      {"overlong 2-byte", "\xC0\xAF", 0},
      {"overlong C1", "x\xC1\xBF", 1},
      {"overlong 3-byte", "\xE0\x80\xAF", 0},
      {"overlong 4-byte", "\xF0\x8F\xBF\xBF", 0},
      {"high surrogate", "\xED\xA0\x80", 0},
      {"low surrogate", "ok\xED\xBF\xBF", 2},
      {"above U+10FFFF", "\xF4\x90\x80\x80", 0},
      {"lead byte F5", "\xF5\x80\x80\x80", 0},
      {"byte FF", "\xFF", 0},
      {"truncated at end", "호\xEB\xB0", 3},
      {"truncated by ascii",
       "\xE1\x80"
       "a",
       0},
      {"truncated 4-byte", "\xF0\x9F\x8E", 0},
  };
  for (const BadCase& c : cases) {
    const absl::Status status = ValidateUtf8(c.text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(status.message(), "text is not valid UTF-8 at byte " + std::to_string(c.byte))
        << c.name;
  }
}

}  // namespace
TEST(Utf8, HasHangulFindsSyllablesAndJamoOnly) {
  EXPECT_TRUE(HasHangul("마술사 모자"));
  EXPECT_TRUE(HasHangul("robot 얼굴"));
  EXPECT_TRUE(HasHangul("\xe3\x84\xb1"));      // U+3131, compatibility jamo
  EXPECT_TRUE(HasHangul("\xe1\x84\x80"));      // U+1100, a leading consonant
  EXPECT_TRUE(HasHangul("\xed\x9e\xa3"));      // U+D7A3, the last syllable
  EXPECT_FALSE(HasHangul("\xed\x9e\xa4"));     // U+D7A4, just past it
  EXPECT_FALSE(HasHangul("jack-o-lantern"));
  EXPECT_FALSE(HasHangul("日本語 café ✨"));  // other scripts, other 3-byte letters
  EXPECT_FALSE(HasHangul(""));
}

}  // namespace duet::language
