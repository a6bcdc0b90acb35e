// A small bilingual caption corpus shared by the language tests, and a tokenizer trained on it.
// Small enough to train in milliseconds, varied enough to cover Hangul, digits and punctuation.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "language/tokenizer.h"

namespace duet::language::testing {

inline const std::vector<std::string>& BilingualCorpus() {
  static const auto* corpus = new std::vector<std::string>{
      // clang-format off
      "jack-o-lantern", "호박",
      "a carved pumpkin with a candle inside", "촛불이 켜진 호박 등",
      "a pumpkin-shaped hat", "호박 모양 모자",
      "make me a pumpkin-shaped hat", "호박 모양의 모자를 만들어 줘",
      "magician hat", "마술사 모자",
      "a black top hat", "검은 실크 모자",
      "robot face", "로봇 얼굴",
      "a friendly robot face", "친근한 로봇 얼굴",
      "a robot vacuum that looks like a supercar", "슈퍼카처럼 생긴 로봇 청소기",
      "a red sports car", "빨간 스포츠카",
      "a blue car on the road", "도로 위의 파란 자동차",
      "a cat sitting on a chair", "의자에 앉아 있는 고양이",
      "a dog running in the park", "공원에서 뛰는 강아지",
      "two dogs playing", "놀고 있는 강아지 두 마리",
      "a bowl of kimchi", "김치 한 그릇",
      "a cup of coffee", "커피 한 잔",
      "a green apple", "초록색 사과",
      "three red apples", "빨간 사과 세 개",
      "a house with a red roof", "빨간 지붕의 집",
      "a tall tree in winter", "겨울의 키 큰 나무",
      "a snowy mountain", "눈 덮인 산",
      "the sea at sunset", "해질녘의 바다",
      "a small boat on a lake", "호수 위의 작은 배",
      "a yellow umbrella", "노란 우산",
      "a girl holding a balloon", "풍선을 든 소녀",
      "an old man reading a book", "책을 읽는 할아버지",
      "a bicycle", "자전거",
      "a lamp on a desk", "책상 위의 램프",
      "a white rabbit", "하얀 토끼",
      "a smiling sun", "웃는 해",
      "a star in the night sky", "밤하늘의 별",
      "design draft 1", "디자인 시안 2",
      "draft 12 of 100", "시안 100개 중 12번",
      "a chair made of wood", "나무로 만든 의자",
      "a hat for a cat", "고양이를 위한 모자",
      // clang-format on
  };
  return *corpus;
}

// Vocabulary requested for the corpus: 260 special + byte pieces, one piece per distinct
// character, and room for merged pieces.
inline constexpr int kCorpusVocabSize = 600;

// Trains once per test binary; fails the calling test if training fails.
inline const Tokenizer& CorpusTokenizer() {
  static const Tokenizer* tokenizer = [] {
    auto trained = Tokenizer::Train(BilingualCorpus(), kCorpusVocabSize);
    EXPECT_TRUE(trained.ok()) << trained.status();
    return trained.ok() ? new Tokenizer(*trained) : nullptr;
  }();
  if (tokenizer == nullptr) throw std::runtime_error("corpus tokenizer failed to train");
  return *tokenizer;
}

}  // namespace duet::language::testing
