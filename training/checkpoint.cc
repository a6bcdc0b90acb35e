// Implementation of training/checkpoint.h.
#include "training/checkpoint.h"

#include <cstdio>
#include <filesystem>

#include "common/tensor_io.h"

namespace duet::training {
namespace {

// Steps of the checkpoints in `dir`, ascending.
std::vector<int64_t> CheckpointSteps(const std::string& dir) {
  std::vector<int64_t> steps;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    long long step = 0;
    char tail[32] = {0};
    if (std::sscanf(name.c_str(), "step-%lld.%31s", &step, tail) == 2 &&
        std::string(tail) == "safetensors") {
      steps.push_back(step);
    }
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> NamedParameters(
    const std::vector<NamedModule>& modules) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const NamedModule& m : modules) {
    for (const auto& item : m.module->named_parameters(/*recurse=*/true)) {
      out.emplace_back(m.prefix + item.key(), item.value());
    }
  }
  return out;
}

std::string CheckpointPath(const std::string& dir, int64_t step) {
  char name[48];
  std::snprintf(name, sizeof(name), "step-%08lld.safetensors", static_cast<long long>(step));
  return dir + "/" + name;
}

int64_t LatestCheckpointStep(const std::string& dir) {
  const std::vector<int64_t> steps = CheckpointSteps(dir);
  return steps.empty() ? 0 : steps.back();
}

Status SaveCheckpoint(const std::string& dir, int64_t step, const std::vector<NamedModule>& modules,
                      const AdamW* optimizer, const std::map<std::string, std::string>& metadata,
                      int keep) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  SafetensorsFile file;
  file.metadata = metadata;
  file.metadata["step"] = std::to_string(step);
  for (const NamedModule& m : modules) {
    DUET_RETURN_IF_ERROR(SaveModule(*m.module, m.prefix, &file));
  }
  if (optimizer != nullptr) DUET_RETURN_IF_ERROR(optimizer->Save(&file));
  DUET_RETURN_IF_ERROR(WriteSafetensors(CheckpointPath(dir, step), file));
  const std::vector<int64_t> steps = CheckpointSteps(dir);
  for (size_t i = 0; i + keep < steps.size(); ++i) {
    std::filesystem::remove(CheckpointPath(dir, steps[i]), error);
  }
  return absl::OkStatus();
}

StatusOr<int64_t> LoadCheckpoint(const std::string& path, const std::vector<NamedModule>& modules,
                                 AdamW* optimizer) {
  DUET_ASSIGN_OR_RETURN(const SafetensorsFile file, ReadSafetensors(path));
  const auto step = file.metadata.find("step");
  if (step == file.metadata.end()) return absl::InvalidArgumentError(path + " has no step");
  for (const NamedModule& m : modules) {
    const Status status = LoadModule(file, m.prefix, m.module);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", status.message()));
  }
  if (optimizer != nullptr) DUET_RETURN_IF_ERROR(optimizer->Load(file));
  return static_cast<int64_t>(std::stoll(step->second));
}

}  // namespace duet::training
