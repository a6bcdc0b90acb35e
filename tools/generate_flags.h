// The flags `duet generate` shares between its in-process (--model) and remote (--server) forms:
// draft count, seed, output directory and sampling settings, parsed in one place.
#pragma once

#include <vector>

#include "model/duet_model.h"
#include "tools/flags.h"

namespace duet::tools {

// count, seed, out, temperature, top-k, top-p, guidance, rerank.
const std::vector<FlagSpec>& GenerateFlagSpecs();

// The sampling flags given (temperature, top-k, top-p, guidance) and the seed; InvalidArgument
// names the flag and its limit. Unset flags stay unset: the model's config.json decides them.
StatusOr<model::SamplingOverrides> ReadSamplingOverrides(const Flags& flags);

// Reads the flags above, filling unset sampling flags from `defaults` (the model's config.json).
StatusOr<model::GenerateOptions> ReadGenerateOptions(const Flags& flags,
                                                     const model::SamplingDefaults& defaults);

}  // namespace duet::tools
