// The built-in bilingual (English/Korean) caption corpus, assets/corpus/seed_captions.txt, so
// `duet init-model` can train a tokenizer without data files. A trained model brings its own.
#pragma once

#include <string>
#include <vector>

namespace duet::tools {

std::vector<std::string> SeedCorpus();

}  // namespace duet::tools
