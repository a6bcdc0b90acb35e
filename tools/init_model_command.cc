// `duet init-model`: writes a randomly initialised model directory (config, tokenizer, weights)
// so tests and the demo have a model before a trained one exists.
#include <cstdio>
#include <sstream>

#include "common/file.h"
#include "model/duet_model.h"
#include "tools/command.h"
#include "tools/commands.h"
#include "tools/seed_corpus.h"

namespace duet::tools {
namespace {

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"config", "c", "model config JSON (missing keys take defaults)", ""},
      {"out", "o", "output model directory", ""},
      {"seed", "s", "initialisation seed", "0"},
      {"corpus", "", "text file, one caption per line, for the tokenizer (default: built in)", ""},
  };
  return specs;
}

StatusOr<std::vector<std::string>> ReadCorpus(const std::string& path) {
  if (path.empty()) return SeedCorpus();
  DUET_ASSIGN_OR_RETURN(std::string text, ReadFile(path, size_t{256} << 20));
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) return absl::InvalidArgumentError("--corpus " + path + " has no lines");
  return lines;
}

Status InitModel(const Flags& flags) {
  DUET_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(flags.Get("config")));
  if (json.is_object() && json.contains("transformer")) {
    // Shared sizes always come from the text encoder and image tokenizer.
    for (const char* key : {"text_vocab", "text_dim", "text_prefix_len", "image_grid",
                            "image_codebook"}) {
      json["transformer"].erase(key);
    }
  }
  model::ModelConfig config;
  if (json.contains("transformer")) {
    DUET_ASSIGN_OR_RETURN(config.transformer, fusion::TransformerConfig::FromJson(json["transformer"]));
    json.erase("transformer");
  }
  DUET_ASSIGN_OR_RETURN(model::ModelConfig rest, model::ModelConfig::FromJson(json));
  rest.transformer = config.transformer;
  rest.Derive();
  DUET_ASSIGN_OR_RETURN(std::vector<std::string> corpus, ReadCorpus(flags.Get("corpus")));
  DUET_ASSIGN_OR_RETURN(const uint64_t seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(auto engine, model::DuetModel::InitRandom(rest, corpus, seed));
  DUET_RETURN_IF_ERROR(engine->Save(flags.Get("out")));
  std::printf("wrote %s (model %s)\n", flags.Get("out").c_str(), rest.name.c_str());
  return absl::OkStatus();
}

}  // namespace

int RunInitModel(int argc, char** argv) {
  return RunCommand({"init-model", "--config FILE -o DIR",
                     "Writes a randomly initialised model directory.", Specs(), {"config", "out"}},
                    argc, argv, ExitZeroWhenOk(InitModel));
}

}  // namespace duet::tools
