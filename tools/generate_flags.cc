// Implementation of tools/generate_flags.h.
#include "tools/generate_flags.h"

namespace duet::tools {

const std::vector<FlagSpec>& GenerateFlagSpecs() {
  static const std::vector<FlagSpec> specs = {
      {"count", "n", "number of drafts, 1..256", "4"},
      {"seed", "s", "seed of draft 0; draft i uses seed + i", "0"},
      {"out", "o", "output directory", "out"},
      {"temperature", "", "sampling temperature, 0 = greedy (default: the model's config.json)", ""},
      {"top-k", "", "keep the k most likely codes, 0 = all (default: the model's config.json)", ""},
      {"top-p", "", "nucleus probability in (0, 1] (default: the model's config.json)", ""},
      {"guidance", "", "classifier-free guidance scale, 1 = off (default: the model's config.json)", ""},
      {"rerank", "", "order drafts by how well their own captions fit the prompt", "", true},
  };
  return specs;
}

StatusOr<model::SamplingOverrides> ReadSamplingOverrides(const Flags& flags) {
  model::SamplingOverrides o;
  DUET_ASSIGN_OR_RETURN(o.seed, flags.GetUint64("seed"));
  if (flags.Has("temperature")) {
    DUET_ASSIGN_OR_RETURN(const double v, flags.GetDouble("temperature", 0, 10));
    o.temperature = static_cast<float>(v);
  }
  if (flags.Has("top-k")) {
    DUET_ASSIGN_OR_RETURN(const int64_t v, flags.GetInt("top-k", 0, 1 << 20));
    o.top_k = static_cast<int>(v);
  }
  if (flags.Has("top-p")) {
    DUET_ASSIGN_OR_RETURN(const double v, flags.GetDouble("top-p", 1e-6, 1));
    o.top_p = static_cast<float>(v);
  }
  if (flags.Has("guidance")) {
    DUET_ASSIGN_OR_RETURN(const double v, flags.GetDouble("guidance", 0, 50));
    o.guidance_scale = static_cast<float>(v);
  }
  return o;
}

StatusOr<GenerateFlags> ReadGenerateFlags(const Flags& flags) {
  GenerateFlags out;
  DUET_ASSIGN_OR_RETURN(const int64_t count, flags.GetInt("count", 1, model::kMaxDrafts));
  out.count = static_cast<int>(count);
  DUET_ASSIGN_OR_RETURN(out.sampling, ReadSamplingOverrides(flags));
  out.rerank = flags.Has("rerank");
  return out;
}

}  // namespace duet::tools
