// The training dataset on disk: safetensors shards of uint8 RGB images plus captions and a split.
// The trainer and the evaluator read only this format, so they never decode PNG (docs/training.md).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace duet::training {

// File names inside a dataset directory.
inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kCaptionsFile[] = "captions.jsonl";
inline constexpr char kSplitFile[] = "split.json";
inline constexpr char kDatasetFormat[] = "duet-image-shards";
inline constexpr int kDatasetVersion = 1;
inline constexpr int64_t kDefaultShardSize = 1024;  // images per shard (12 MiB at 64x64)

// Split of one image, stored per image in the shards (tensor "split").
enum class Split : uint8_t { kTrain = 0, kVal = 1 };

// One concept (an emoji): the class every image of it belongs to, with captions per language.
// The first caption of each language is the reference name (captioning targets, eval prompts).
struct Concept {
  std::string key;              // stable key, e.g. the code point sequence "1F383"
  std::string category;         // free text, e.g. "Activities"
  std::vector<std::string> en;  // English: name first, then short names and tags
  std::vector<std::string> ko;  // Korean: label first, then tags
};

// A whole dataset in memory. Image i shows concept ids[i] in style styles[i].
struct Dataset {
  int resolution = 64;                   // square side R of every image
  std::vector<std::string> style_names;  // by style index, e.g. {"google", "twitter"}
  std::vector<Concept> concepts;         // index = concept id
  torch::Tensor images;                  // [N, R, R, 3] uint8 RGB (alpha composited over white)
  torch::Tensor ids;                     // [N] int64 concept id
  torch::Tensor styles;                  // [N] uint8 style index
  torch::Tensor split;                   // [N] uint8 Split

  int64_t size() const { return ids.defined() ? ids.size(0) : 0; }
  // Image indices of one split, ascending.
  std::vector<int64_t> Indices(Split which) const;
};

// InvalidArgument naming the first inconsistency: shapes, dtypes, ids or styles out of range,
// a concept without captions in either language, an empty caption.
Status CheckDataset(const Dataset& dataset);

// Held-out split (docs/training.md): every concept with images in at least two styles is held
// out with probability `holdout_fraction`, decided by a hash of (seed, concept id); a held-out
// concept keeps one style (chosen by the same hash) in training and puts the others in
// validation. All other images are training images. Deterministic; overwrites dataset->split.
void AssignSplit(Dataset* dataset, double holdout_fraction, uint64_t seed);

// Writes manifest.json, captions.jsonl, split.json and shard-NNNNN.safetensors into `dir`
// (created if needed; existing shards of the same names are replaced). Checks the dataset first.
Status WriteDataset(const std::string& dir, const Dataset& dataset,
                    int64_t shard_size = kDefaultShardSize);

// Reads a directory written by WriteDataset. NotFound for a missing file; InvalidArgument for
// another format or version, or shards that disagree with the manifest.
StatusOr<Dataset> ReadDataset(const std::string& dir);

// Every caption of every concept, in id order, English then Korean.
std::vector<std::string> AllCaptions(const Dataset& dataset);

// Images [n, R, R, 3] uint8 -> [n, 3, R, R] float32 in [-1, 1] (vision/image_tensor.h scale).
torch::Tensor ImagesToFloat(const torch::Tensor& images);

}  // namespace duet::training
