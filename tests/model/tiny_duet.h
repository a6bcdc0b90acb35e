// A tiny whole model (tokenizer, text encoder, image tokenizer, transformer) for engine, CLI and
// service tests: initialised at random in milliseconds and saved to a fresh temporary directory.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "model/duet_model.h"
#include "tests/language/test_corpus.h"

namespace duet::model::testing {

inline ModelConfig TinyModelConfig() {
  ModelConfig c;
  c.name = "duet-test-tiny";
  c.text_encoder.vocab_size = language::testing::kCorpusVocabSize;
  c.text_encoder.max_len = 12;
  c.text_encoder.d_model = 16;
  c.text_encoder.n_layers = 1;
  c.text_encoder.n_heads = 2;
  c.text_encoder.d_ff = 32;
  c.image_tokenizer.resolution = 16;
  c.image_tokenizer.patch = 4;
  c.image_tokenizer.channels = 8;
  c.image_tokenizer.res_blocks = 1;
  c.image_tokenizer.fsq_levels = {4, 4};
  c.transformer.d_model = 32;
  c.transformer.n_layers = 2;
  c.transformer.n_heads = 2;
  c.transformer.d_ff = 64;
  c.transformer.window = 3;
  c.transformer.global_every = 2;
  c.transformer.max_caption_len = 10;
  c.Derive();
  return c;
}

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "duet-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `count` drafts from `seed` with guidance on, as the engine tests ask for them.
inline GenerateOptions DraftOptions(int count, uint64_t seed, float guidance = 2.0f) {
  GenerateOptions options;
  options.count = count;
  options.sampling.seed = seed;
  options.sampling.guidance_scale = guidance;
  return options;
}

// Initialises the tiny model with `seed` and saves it into `dir`.
inline void WriteTinyModel(const std::string& dir, uint64_t seed = 1) {
  auto model = DuetModel::InitRandom(TinyModelConfig(), language::testing::BilingualCorpus(), seed);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE((*model)->Save(dir).ok());
}

}  // namespace duet::model::testing
