// Implementation of training/dataset.h: shards are safetensors, captions JSONL, manifest JSON.
#include "training/dataset.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "common/file.h"
#include "common/safetensors.h"
#include "common/tensor_io.h"
#include "training/rng.h"

namespace duet::training {
namespace {

std::string ShardName(int64_t index) {
  char name[32];
  std::snprintf(name, sizeof(name), "shard-%05lld.safetensors", static_cast<long long>(index));
  return name;
}

Status CheckTensor(const char* name, const torch::Tensor& t, torch::ScalarType dtype,
                   std::vector<int64_t> shape) {
  if (!t.defined() || t.scalar_type() != dtype || t.sizes() != c10::IntArrayRef(shape)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset ", name, " must be ", c10::toString(dtype), " ", c10::str(c10::IntArrayRef(shape)),
        t.defined()
            ? absl::StrCat(", got ", c10::toString(t.scalar_type()), " ", c10::str(t.sizes()))
            : ", got nothing"));
  }
  return absl::OkStatus();
}

nlohmann::json ConceptJson(int64_t id, const Concept& c) {
  return {{"id", id}, {"key", c.key}, {"category", c.category}, {"en", c.en}, {"ko", c.ko}};
}

StatusOr<std::vector<Concept>> ParseCaptions(const std::string& text) {
  std::vector<Concept> concepts;
  std::istringstream stream(text);
  int line_no = 0;
  for (std::string line; std::getline(stream, line);) {
    ++line_no;
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer() ||
        j["id"].get<int64_t>() != static_cast<int64_t>(concepts.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat(kCaptionsFile, " line ", line_no, ": expected id ", concepts.size()));
    }
    Concept c;
    c.key = j.value("key", "");
    c.category = j.value("category", "");
    c.en = j.value("en", std::vector<std::string>{});
    c.ko = j.value("ko", std::vector<std::string>{});
    concepts.push_back(std::move(c));
  }
  return concepts;
}

nlohmann::json SplitJson(const Dataset& d) {
  nlohmann::json heldout = nlohmann::json::array();
  const auto ids = d.ids.accessor<int64_t, 1>();
  const auto styles = d.styles.accessor<uint8_t, 1>();
  const auto split = d.split.accessor<uint8_t, 1>();
  std::vector<nlohmann::json> entries(d.concepts.size());
  int64_t train = 0, val = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const bool is_val = split[i] == static_cast<uint8_t>(Split::kVal);
    (is_val ? val : train) += 1;
    nlohmann::json& e = entries[ids[i]];
    e[is_val ? "val_styles" : "train_styles"].push_back(d.style_names[styles[i]]);
  }
  for (size_t id = 0; id < entries.size(); ++id) {
    if (!entries[id].contains("val_styles")) continue;
    entries[id]["id"] = id;
    entries[id]["key"] = d.concepts[id].key;
    heldout.push_back(entries[id]);
  }
  return {{"train_images", train}, {"val_images", val}, {"heldout_concepts", heldout}};
}

}  // namespace

std::vector<int64_t> Dataset::Indices(Split which) const {
  std::vector<int64_t> out;
  const auto s = split.accessor<uint8_t, 1>();
  for (int64_t i = 0; i < size(); ++i) {
    if (s[i] == static_cast<uint8_t>(which)) out.push_back(i);
  }
  return out;
}

Status CheckDataset(const Dataset& d) {
  const int64_t n = d.size(), r = d.resolution;
  if (n < 1) return absl::InvalidArgumentError("dataset has no images");
  DUET_RETURN_IF_ERROR(CheckRange("dataset resolution", d.resolution, 8, 1024));
  DUET_RETURN_IF_ERROR(CheckTensor("images", d.images, torch::kUInt8, {n, r, r, 3}));
  DUET_RETURN_IF_ERROR(CheckTensor("ids", d.ids, torch::kInt64, {n}));
  DUET_RETURN_IF_ERROR(CheckTensor("styles", d.styles, torch::kUInt8, {n}));
  DUET_RETURN_IF_ERROR(CheckTensor("split", d.split, torch::kUInt8, {n}));
  const int64_t concepts = static_cast<int64_t>(d.concepts.size());
  if (d.ids.min().item<int64_t>() < 0 || d.ids.max().item<int64_t>() >= concepts) {
    return absl::InvalidArgumentError(absl::StrCat("dataset ids must be in [0, ", concepts, ")"));
  }
  if (d.styles.max().item<int64_t>() >= static_cast<int64_t>(d.style_names.size())) {
    return absl::InvalidArgumentError("dataset styles must index style_names");
  }
  if (d.split.max().item<int64_t>() > 1) return absl::InvalidArgumentError("split must be 0 or 1");
  for (size_t id = 0; id < d.concepts.size(); ++id) {
    const Concept& c = d.concepts[id];
    if (c.en.empty() || c.ko.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("concept ", id, " (", c.key, ") needs English and Korean captions"));
    }
    for (const auto* list : {&c.en, &c.ko}) {
      for (const std::string& caption : *list) {
        if (caption.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("concept ", id, " has an empty caption"));
        }
      }
    }
  }
  return absl::OkStatus();
}

void AssignSplit(Dataset* d, double holdout_fraction, uint64_t seed) {
  const int64_t concepts = static_cast<int64_t>(d->concepts.size());
  const auto ids = d->ids.accessor<int64_t, 1>();
  const auto styles = d->styles.accessor<uint8_t, 1>();
  std::vector<std::vector<int>> styles_of(concepts);
  for (int64_t i = 0; i < d->size(); ++i) styles_of[ids[i]].push_back(styles[i]);
  std::vector<int> kept_style(concepts, -1);  // -1: not held out
  for (int64_t id = 0; id < concepts; ++id) {
    std::vector<int>& s = styles_of[id];
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    if (s.size() < 2) continue;
    StepRng rng(seed, RngStream::kSplit, static_cast<uint64_t>(id));
    if (rng.Uniform() < holdout_fraction) kept_style[id] = s[rng.Below(s.size())];
  }
  d->split = torch::zeros({d->size()}, torch::kUInt8);
  auto split = d->split.accessor<uint8_t, 1>();
  for (int64_t i = 0; i < d->size(); ++i) {
    const int kept = kept_style[ids[i]];
    if (kept >= 0 && styles[i] != kept) split[i] = static_cast<uint8_t>(Split::kVal);
  }
}

Status WriteDataset(const std::string& dir, const Dataset& d, int64_t shard_size) {
  DUET_RETURN_IF_ERROR(CheckDataset(d));
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>("shard_size", shard_size, 1, int64_t{1} << 20));
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  nlohmann::json shards = nlohmann::json::array();
  for (int64_t first = 0, index = 0; first < d.size(); first += shard_size, ++index) {
    const int64_t count = std::min(shard_size, d.size() - first);
    SafetensorsFile file;
    file.metadata = {{"format", kDatasetFormat}, {"first", std::to_string(first)}};
    const std::pair<const char*, const torch::Tensor*> parts[] = {
        {"images", &d.images}, {"ids", &d.ids}, {"styles", &d.styles}, {"split", &d.split}};
    for (const auto& [name, tensor] : parts) {
      DUET_ASSIGN_OR_RETURN(file.tensors[name], FromTorch(tensor->narrow(0, first, count)));
    }
    DUET_RETURN_IF_ERROR(WriteSafetensors(dir + "/" + ShardName(index), file));
    shards.push_back({{"file", ShardName(index)}, {"count", count}});
  }
  std::string captions;
  for (size_t id = 0; id < d.concepts.size(); ++id) {
    captions += ConceptJson(static_cast<int64_t>(id), d.concepts[id]).dump() + "\n";
  }
  DUET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/" + kCaptionsFile, captions));
  DUET_RETURN_IF_ERROR(WriteJsonFile(dir + "/" + kSplitFile, SplitJson(d)));
  const nlohmann::json manifest = {
      {"format", kDatasetFormat}, {"version", kDatasetVersion}, {"resolution", d.resolution},
      {"styles", d.style_names},  {"images", d.size()},         {"concepts", d.concepts.size()},
      {"shards", shards}};
  return WriteJsonFile(dir + "/" + kManifestFile, manifest);
}

StatusOr<Dataset> ReadDataset(const std::string& dir) {
  DUET_ASSIGN_OR_RETURN(const nlohmann::json manifest, ReadJsonFile(dir + "/" + kManifestFile));
  if (!manifest.is_object() || manifest.value("format", "") != kDatasetFormat ||
      manifest.value("version", 0) != kDatasetVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, "/", kManifestFile, " is not a ", kDatasetFormat, " v", kDatasetVersion, " manifest"));
  }
  Dataset d;
  d.resolution = manifest.value("resolution", 0);
  d.style_names = manifest.value("styles", std::vector<std::string>{});
  DUET_ASSIGN_OR_RETURN(const std::string captions, ReadFile(dir + "/" + kCaptionsFile));
  DUET_ASSIGN_OR_RETURN(d.concepts, ParseCaptions(captions));
  std::map<std::string, std::vector<torch::Tensor>> parts;
  for (const nlohmann::json& shard : manifest.value("shards", nlohmann::json::array())) {
    const std::string path = dir + "/" + shard.value("file", "");
    DUET_ASSIGN_OR_RETURN(const SafetensorsFile file, ReadSafetensors(path));
    for (const char* name : {"images", "ids", "styles", "split"}) {
      const auto it = file.tensors.find(name);
      if (it == file.tensors.end()) {
        return absl::InvalidArgumentError(absl::StrCat(path, " has no tensor ", name));
      }
      DUET_ASSIGN_OR_RETURN(torch::Tensor t, ToTorch(it->second));
      parts[name].push_back(t);
    }
  }
  if (parts.empty()) return absl::InvalidArgumentError(dir + " has no shards");
  d.images = torch::cat(parts["images"]);
  d.ids = torch::cat(parts["ids"]);
  d.styles = torch::cat(parts["styles"]);
  d.split = torch::cat(parts["split"]);
  if (d.size() != manifest.value("images", int64_t{-1})) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": shards hold ", d.size(),
                                                   " images, the manifest says ",
                                                   manifest.value("images", int64_t{-1})));
  }
  DUET_RETURN_IF_ERROR(CheckDataset(d));
  return d;
}

std::vector<std::string> AllCaptions(const Dataset& d) {
  std::vector<std::string> out;
  for (const Concept& c : d.concepts) {
    out.insert(out.end(), c.en.begin(), c.en.end());
    out.insert(out.end(), c.ko.begin(), c.ko.end());
  }
  return out;
}

torch::Tensor ImagesToFloat(const torch::Tensor& images) {
  return images.permute({0, 3, 1, 2}).to(torch::kFloat32).div(127.5).sub(1.0).contiguous();
}

}  // namespace duet::training
