// Implementation of common/safetensors.h: strict validation, so a hostile file is an error value.
#include "common/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/file.h"
#include "nlohmann/json.hpp"

namespace duet {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4},  {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},     {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeInfo& Info(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  return kDTypes[1];
}

Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError("safetensors: " + what);
}

uint64_t ReadLittleEndian64(const char* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

// numel * element size, or an error when a dimension is negative or the product, taken left to
// right, passes int64 at any step. int64, not uint64: RawTensor::numel() multiplies the same way
// in int64, and a later 0 dimension (a [3, 2^62, 0] tensor has 0 bytes) must not let it overflow.
StatusOr<uint64_t> ByteSize(const std::string& name, const std::vector<int64_t>& shape,
                            DType dtype) {
  int64_t bytes = static_cast<int64_t>(DTypeSize(dtype));
  for (int64_t dim : shape) {
    if (dim < 0) return Invalid(absl::StrCat("tensor ", name, " has a negative dimension"));
    if (dim != 0 && bytes > std::numeric_limits<int64_t>::max() / dim) {
      return Invalid(absl::StrCat("tensor ", name, " is too large"));
    }
    bytes *= dim;
  }
  return static_cast<uint64_t>(bytes);
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

StatusOr<Entry> ParseEntry(const std::string& name, const nlohmann::json& value,
                           uint64_t data_size) {
  if (!value.is_object()) return Invalid("entry " + name + " is not an object");
  const auto dtype_it = value.find("dtype");
  const auto shape_it = value.find("shape");
  const auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || !dtype_it->is_string() || shape_it == value.end() ||
      !shape_it->is_array() || offsets_it == value.end() || !offsets_it->is_array() ||
      offsets_it->size() != 2) {
    return Invalid("entry " + name + " needs dtype, shape and two data_offsets");
  }
  Entry entry{name, DType::kF32, {}, 0, 0};
  DUET_ASSIGN_OR_RETURN(entry.dtype, ParseDType(dtype_it->get<std::string>()));
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_integer()) return Invalid("shape of " + name + " must be integers");
    entry.shape.push_back(dim.get<int64_t>());
  }
  for (const auto& offset : *offsets_it) {
    if (!offset.is_number_unsigned()) return Invalid("data_offsets of " + name + " must be >= 0");
  }
  entry.begin = (*offsets_it)[0].get<uint64_t>();
  entry.end = (*offsets_it)[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_size) {
    return Invalid(absl::StrCat("data_offsets of ", name, " [", entry.begin, ", ", entry.end,
                                ") are outside the ", data_size, "-byte data section"));
  }
  DUET_ASSIGN_OR_RETURN(uint64_t bytes, ByteSize(name, entry.shape, entry.dtype));
  if (bytes != entry.end - entry.begin) {
    return Invalid(absl::StrCat("tensor ", name, " needs ", bytes, " bytes but its offsets span ",
                                entry.end - entry.begin));
  }
  return entry;
}

}  // namespace

size_t DTypeSize(DType dtype) { return Info(dtype).size; }
const char* DTypeName(DType dtype) { return Info(dtype).name; }

StatusOr<DType> ParseDType(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (name == info.name) return info.dtype;
  }
  return Invalid(absl::StrCat("unknown dtype \"", std::string(name), "\""));
}

int64_t RawTensor::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

StatusOr<SafetensorsFile> ParseSafetensors(std::string_view bytes) {
  if (bytes.size() < 8) return Invalid("file is shorter than the 8-byte header length");
  const uint64_t header_size = ReadLittleEndian64(bytes.data());
  if (header_size > kSafetensorsMaxHeaderBytes || header_size > bytes.size() - 8) {
    return Invalid(absl::StrCat("header length ", header_size, " exceeds the file (",
                                bytes.size() - 8, " bytes after the length)"));
  }
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_size), nullptr,
                                                      /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return Invalid("header is not a JSON object");
  const std::string_view data = bytes.substr(8 + header_size);

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) return Invalid("__metadata__ must be an object");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string()) return Invalid("__metadata__ value " + key + " is not a string");
        file.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    DUET_ASSIGN_OR_RETURN(Entry entry, ParseEntry(name, value, data.size()));
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  uint64_t covered = 0;
  for (const Entry& entry : entries) {
    if (entry.begin < covered) return Invalid("tensor " + entry.name + " overlaps another");
    if (entry.begin > covered) return Invalid("gap before tensor " + entry.name);
    covered = entry.end;
  }
  if (covered != data.size()) return Invalid("data section has trailing bytes");
  for (Entry& entry : entries) {
    RawTensor& tensor = file.tensors[entry.name];
    tensor.dtype = entry.dtype;
    tensor.shape = std::move(entry.shape);
    tensor.data.assign(data.substr(entry.begin, entry.end - entry.begin));
  }
  return file;
}

std::string SerializeSafetensors(const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    header[name] = {{"dtype", DTypeName(tensor.dtype)},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + tensor.data.size()}}};
    offset += tensor.data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // Keeps the data section 8-byte aligned.
  std::string out(8, '\0');
  const uint64_t header_size = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header_size >> (8 * i)) & 0xff);
  out += text;
  out.reserve(out.size() + offset);
  for (const auto& [name, tensor] : file.tensors) out += tensor.data;
  return out;
}

StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  DUET_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  StatusOr<SafetensorsFile> file = ParseSafetensors(bytes);
  if (!file.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", file.status().message()));
  return file;
}

Status WriteSafetensors(const std::string& path, const SafetensorsFile& file) {
  return WriteFileAtomic(path, SerializeSafetensors(file));
}

}  // namespace duet
