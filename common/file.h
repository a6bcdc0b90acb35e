// Whole-file I/O and JSON files, returning Status instead of throwing.
// All functions are thread-safe as long as callers do not write the same path concurrently.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace duet {

// Reads a whole file. NotFound when it does not exist; ResourceExhausted when it is over max_bytes.
StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes = size_t{1} << 32);

// Writes `data` to `path` atomically (temporary file in the same folder, then rename).
Status WriteFileAtomic(const std::string& path, std::string_view data);

// Parses a JSON file; InvalidArgument names the file and the parse error.
StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

// Writes pretty-printed JSON (2-space indent) atomically.
Status WriteJsonFile(const std::string& path, const nlohmann::json& value);

}  // namespace duet
