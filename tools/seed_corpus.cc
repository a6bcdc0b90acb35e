// The built-in tokenizer corpus, assets/corpus/seed_captions.txt, compiled into the binary (the
// build turns it into seed_corpus_data.cc) so `duet init-model` needs no files at run time.
#include "tools/seed_corpus.h"

#include <sstream>

namespace duet::tools {

extern const char kSeedCaptions[];

std::vector<std::string> SeedCorpus() {
  std::vector<std::string> lines;
  std::istringstream text(kSeedCaptions);
  for (std::string line; std::getline(text, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace duet::tools
