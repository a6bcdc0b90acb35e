// A small built-in bilingual (English/Korean) caption corpus, so `duet init-model` can train a
// tokenizer without any data files. A trained model brings its own tokenizer instead.
#pragma once

#include <string>
#include <vector>

namespace duet::tools {

std::vector<std::string> SeedCorpus();

}  // namespace duet::tools
