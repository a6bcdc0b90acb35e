// libFuzzer target: ParseSafetensors on arbitrary bytes. Whatever parses must serialise and parse
// back to the same tensors and metadata (a differential check of the writer against the reader).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/safetensors.h"

namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

bool SameFile(const duet::SafetensorsFile& a, const duet::SafetensorsFile& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, tensor] : a.tensors) {
    const auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.dtype != tensor.dtype ||
        it->second.shape != tensor.shape || it->second.data != tensor.data) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto file = duet::ParseSafetensors(bytes);
  if (!file.ok()) {
    Require(absl::IsInvalidArgument(file.status()));
    return 0;
  }
  for (const auto& [name, tensor] : file->tensors) {
    Require(tensor.data.size() == static_cast<size_t>(tensor.numel()) * DTypeSize(tensor.dtype));
  }
  const auto again = duet::ParseSafetensors(duet::SerializeSafetensors(*file));
  Require(again.ok() && SameFile(*file, *again));
  return 0;
}
