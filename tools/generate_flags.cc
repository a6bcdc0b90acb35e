// Implementation of tools/generate_flags.h.
#include "tools/generate_flags.h"

namespace duet::tools {

const std::vector<FlagSpec>& GenerateFlagSpecs() {
  static const std::vector<FlagSpec> specs = {
      {"count", "n", "number of drafts, 1..256", "4"},
      {"seed", "s", "seed of draft 0; draft i uses seed + i", "0"},
      {"out", "o", "output directory", "out"},
      {"temperature", "", "sampling temperature, 0 = greedy", "1"},
      {"top-k", "", "keep the k most likely codes, 0 = all", "0"},
      {"top-p", "", "nucleus probability in (0, 1]", "1"},
      {"guidance", "", "classifier-free guidance scale, 1 = off", "3"},
      {"rerank", "", "order drafts by log p(prompt | image)", "", true},
  };
  return specs;
}

StatusOr<model::GenerateOptions> ReadGenerateOptions(const Flags& flags) {
  model::GenerateOptions options;
  DUET_ASSIGN_OR_RETURN(const int64_t count, flags.GetInt("count", 1, model::kMaxDrafts));
  options.count = static_cast<int>(count);
  DUET_ASSIGN_OR_RETURN(options.sampling.seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(const double temperature, flags.GetDouble("temperature", 0, 10));
  DUET_ASSIGN_OR_RETURN(const int64_t top_k, flags.GetInt("top-k", 0, 1 << 20));
  DUET_ASSIGN_OR_RETURN(const double top_p, flags.GetDouble("top-p", 1e-6, 1));
  DUET_ASSIGN_OR_RETURN(const double guidance, flags.GetDouble("guidance", 0, 50));
  options.sampling.temperature = static_cast<float>(temperature);
  options.sampling.top_k = static_cast<int>(top_k);
  options.sampling.top_p = static_cast<float>(top_p);
  options.sampling.guidance_scale = static_cast<float>(guidance);
  options.rerank = flags.Has("rerank");
  return options;
}

}  // namespace duet::tools
