// The safetensors checkpoint format, without any torch dependency:
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// optional "__metadata__" (string -> string), then the raw little-endian tensor bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace duet {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// Bytes per element of `dtype`.
size_t DTypeSize(DType dtype);
// The safetensors spelling ("F32", "BF16", ...).
const char* DTypeName(DType dtype);
// Inverse of DTypeName; InvalidArgument for an unknown name.
StatusOr<DType> ParseDType(std::string_view name);

// One tensor: dtype, shape and its raw bytes (size == numel * DTypeSize).
struct RawTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::string data;

  int64_t numel() const;
};

// A whole file. std::map keeps names sorted, so serialisation is deterministic.
struct SafetensorsFile {
  std::map<std::string, RawTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Header JSON larger than this is rejected before it is parsed.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = uint64_t{100} << 20;

// Parses and validates a whole file image. Rejected with InvalidArgument: a header length that
// exceeds the file or the limit, malformed JSON, unknown dtypes, negative shapes, offsets that are
// out of range, overlap, leave gaps, or disagree with dtype x shape.
StatusOr<SafetensorsFile> ParseSafetensors(std::string_view bytes);

// Serialises deterministically (sorted names, tensors packed in name order, 8-byte aligned header).
std::string SerializeSafetensors(const SafetensorsFile& file);

// File helpers around Parse/Serialize; writing is atomic.
StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);
Status WriteSafetensors(const std::string& path, const SafetensorsFile& file);

}  // namespace duet
