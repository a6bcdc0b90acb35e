// The flags `duet generate` shares between its in-process (--model) and remote (--server) forms:
// draft count, seed, output directory and sampling settings, parsed in one place.
#pragma once

#include <vector>

#include "common/flags.h"
#include "model/duet_model.h"

namespace duet::tools {

// count, seed, out, temperature, top-k, top-p, guidance, rerank.
const std::vector<FlagSpec>& GenerateFlagSpecs();

// The sampling flags given (temperature, top-k, top-p, guidance) and the seed; InvalidArgument
// names the flag and its limit. Unset flags stay unset: the model's config.json decides them.
StatusOr<model::SamplingOverrides> ReadSamplingOverrides(const Flags& flags);

// The flags above as given: sampling flags not given stay unset.
struct GenerateFlags {
  int count = 1;
  model::SamplingOverrides sampling;
  bool rerank = false;

  // The request, unset sampling flags filled from `defaults` (the model's config.json).
  model::GenerateOptions Options(const model::SamplingDefaults& defaults) const {
    return {count, sampling.Resolve(defaults), rerank};
  }
};

// Reads the flags above; InvalidArgument names the flag and its limit.
StatusOr<GenerateFlags> ReadGenerateFlags(const Flags& flags);

}  // namespace duet::tools
