// Implementation of training/emoji_sources.h.
#include "training/emoji_sources.h"

#include <filesystem>
#include <map>

#include "common/file.h"
#include "vision/image_io.h"

namespace duet::training {
namespace {

struct Labels {
  std::string label;
  std::vector<std::string> tags;
};

// One emoji or skin-tone variant as emoji-datasource lists it.
struct Variant {
  std::string unified, image, name, category;
  std::vector<std::string> short_names;
  bool has_google = false, has_twitter = false;
};

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

void AddUnique(std::vector<std::string>* list, const std::string& text) {
  if (text.empty()) return;
  if (std::find(list->begin(), list->end(), text) == list->end()) list->push_back(text);
}

// hexcode -> labels, skins included (a skin inherits its emoji's tags).
StatusOr<std::map<std::string, Labels>> ReadEmojibase(const std::string& path) {
  DUET_ASSIGN_OR_RETURN(const nlohmann::json json, ReadJsonFile(path));
  if (!json.is_array()) return absl::InvalidArgumentError(path + " must hold a JSON array");
  std::map<std::string, Labels> out;
  for (const nlohmann::json& e : json) {
    Labels labels{e.value("label", ""), e.value("tags", std::vector<std::string>{})};
    out[NormalizeHexcode(e.value("hexcode", ""))] = labels;
    for (const nlohmann::json& skin : e.value("skins", nlohmann::json::array())) {
      out[NormalizeHexcode(skin.value("hexcode", ""))] = {skin.value("label", ""), labels.tags};
    }
  }
  return out;
}

StatusOr<std::vector<Variant>> ReadDatasource(const std::string& path, bool skin_tones) {
  DUET_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(path));
  if (!json.is_array()) return absl::InvalidArgumentError(path + " must hold a JSON array");
  std::stable_sort(json.begin(), json.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("sort_order", 0) < b.value("sort_order", 0);
  });
  std::vector<Variant> out;
  for (const nlohmann::json& e : json) {
    Variant base{e.value("unified", ""),
                 e.value("image", ""),
                 Lower(e.value("name", "")),
                 e.value("category", ""),
                 e.value("short_names", std::vector<std::string>{}),
                 e.value("has_img_google", false),
                 e.value("has_img_twitter", false)};
    out.push_back(base);
    if (!skin_tones || !e.contains("skin_variations")) continue;
    for (const auto& item : e["skin_variations"].items()) {
      const nlohmann::json& s = item.value();
      Variant skin = base;
      skin.unified = s.value("unified", "");
      skin.image = s.value("image", "");
      skin.has_google = s.value("has_img_google", false);
      skin.has_twitter = s.value("has_img_twitter", false);
      out.push_back(skin);
    }
  }
  return out;
}

Concept MakeConcept(const Variant& v, const Labels* en, const Labels& ko) {
  Concept c;
  c.key = NormalizeHexcode(v.unified);
  c.category = v.category;
  AddUnique(&c.en, en != nullptr && !en->label.empty() ? en->label : v.name);
  AddUnique(&c.en, v.name);
  for (std::string name : v.short_names) {
    std::replace(name.begin(), name.end(), '_', ' ');
    AddUnique(&c.en, name);
  }
  if (en != nullptr)
    for (const std::string& tag : en->tags) AddUnique(&c.en, tag);
  AddUnique(&c.ko, ko.label);
  for (const std::string& tag : ko.tags) AddUnique(&c.ko, tag);
  return c;
}

// The RGB pixels of one PNG at `resolution`, or NotFound when the file is absent.
StatusOr<vision::Image> LoadPng(const std::string& path, int resolution) {
  if (!std::filesystem::exists(path)) return absl::NotFoundError(path);
  DUET_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path, size_t{16} << 20));
  StatusOr<vision::Image> image = vision::DecodeImage(bytes);
  if (!image.ok())
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", image.status().message()));
  if (image->width == resolution && image->height == resolution) return image;
  return vision::ResizeImage(vision::CenterCropSquare(*image), resolution, resolution);
}

}  // namespace

std::string NormalizeHexcode(const std::string& hexcode) {
  std::string out;
  size_t start = 0;
  while (start <= hexcode.size()) {
    size_t end = hexcode.find('-', start);
    if (end == std::string::npos) end = hexcode.size();
    std::string part = hexcode.substr(start, end - start);
    for (char& c : part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!part.empty() && part != "FE0F") out += (out.empty() ? "" : "-") + part;
    start = end + 1;
  }
  return out;
}

StatusOr<Dataset> BuildEmojiDataset(const EmojiSourceOptions& options, EmojiBuildReport* report) {
  const std::string root = options.sources_dir + "/";
  DUET_ASSIGN_OR_RETURN(const auto en, ReadEmojibase(root + kEmojibaseEn));
  DUET_ASSIGN_OR_RETURN(const auto ko, ReadEmojibase(root + kEmojibaseKo));
  DUET_ASSIGN_OR_RETURN(const auto variants, ReadDatasource(root + kEmojiJson, options.skin_tones));
  Dataset d;
  d.resolution = options.resolution;
  d.style_names = {"google", "twitter"};
  const std::string style_dirs[] = {root + kGoogleImages, root + kTwitterImages};
  std::vector<uint8_t> pixels, styles;
  std::vector<int64_t> ids;
  *report = {};
  for (const Variant& v : variants) {
    const std::string key = NormalizeHexcode(v.unified);
    const auto ko_it = ko.find(key);
    if (ko_it == ko.end() || ko_it->second.label.empty()) {
      ++report->skipped_no_korean;
      continue;
    }
    const auto en_it = en.find(key);
    const int64_t id = static_cast<int64_t>(d.concepts.size());
    bool any = false;
    for (uint8_t style = 0; style < 2; ++style) {
      StatusOr<vision::Image> image =
          LoadPng(style_dirs[style] + "/" + v.image, options.resolution);
      if (absl::IsNotFound(image.status())) {
        ++report->missing_images;
        continue;
      }
      if (!image.ok()) return image.status();
      pixels.insert(pixels.end(), image->rgb.begin(), image->rgb.end());
      ids.push_back(id);
      styles.push_back(style);
      any = true;
    }
    if (any)
      d.concepts.push_back(
          MakeConcept(v, en_it == en.end() ? nullptr : &en_it->second, ko_it->second));
  }
  const int64_t n = static_cast<int64_t>(ids.size()), r = options.resolution;
  d.images = torch::from_blob(pixels.data(), {n, r, r, 3}, torch::kUInt8).clone();
  d.ids = torch::tensor(ids, torch::kInt64);
  d.styles = torch::from_blob(styles.data(), {n}, torch::kUInt8).clone();
  d.split = torch::zeros({n}, torch::kUInt8);
  report->concepts = static_cast<int64_t>(d.concepts.size());
  report->images = n;
  return d;
}

}  // namespace duet::training
