// Implementation of common/file.h on top of stdio, with errno turned into Status.
#include "common/file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace duet {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

Status ErrnoStatus(const std::string& what, const std::string& path) {
  const int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

}  // namespace

StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) return ErrnoStatus("cannot open", path);
  if (std::fseek(file.get(), 0, SEEK_END) != 0) return ErrnoStatus("cannot seek", path);
  const long size = std::ftell(file.get());
  if (size < 0) return ErrnoStatus("cannot size", path);
  if (static_cast<size_t>(size) > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, " is ", size, " bytes, over the limit of ", max_bytes));
  }
  std::rewind(file.get());
  std::string data(static_cast<size_t>(size), '\0');
  if (size > 0 && std::fread(data.data(), 1, data.size(), file.get()) != data.size()) {
    return ErrnoStatus("cannot read", path);
  }
  return data;
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    FilePtr file(std::fopen(tmp.c_str(), "wb"));
    if (!file) return ErrnoStatus("cannot create", tmp);
    if (!data.empty() && std::fwrite(data.data(), 1, data.size(), file.get()) != data.size()) {
      return ErrnoStatus("cannot write", tmp);
    }
    if (std::fflush(file.get()) != 0) return ErrnoStatus("cannot flush", tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("cannot rename to", path);
  return absl::OkStatus();
}

StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  DUET_ASSIGN_OR_RETURN(std::string text, ReadFile(path, size_t{64} << 20));
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return absl::InvalidArgumentError(path + " is not valid JSON");
  return value;
}

Status WriteJsonFile(const std::string& path, const nlohmann::json& value) {
  return WriteFileAtomic(path, value.dump(2) + "\n");
}

}  // namespace duet
