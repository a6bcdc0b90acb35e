// The flags `duet generate` shares between its in-process (--model) and remote (--server) forms:
// draft count, seed, output directory and sampling settings, parsed in one place.
#pragma once

#include <vector>

#include "model/duet_model.h"
#include "tools/flags.h"

namespace duet::tools {

// count, seed, out, temperature, top-k, top-p, guidance, rerank.
const std::vector<FlagSpec>& GenerateFlagSpecs();

// Reads the flags above; InvalidArgument names the flag and its limit.
StatusOr<model::GenerateOptions> ReadGenerateOptions(const Flags& flags);

}  // namespace duet::tools
