// Implementation of language/sentencepiece_bridge.h: dlopen of the module (searched in a fixed
// order, never unloaded) and thin Status wrappers over its function table.
#include "language/sentencepiece_bridge.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define DUET_BRIDGE_UNDER_ASAN
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DUET_BRIDGE_UNDER_ASAN
#endif
#endif

namespace duet::language::internal {
namespace {

// AddressSanitizer aborts a process that dlopens with RTLD_DEEPBIND, so ASan builds (the fuzz
// targets in tests/fuzz/) open the module without it; such a process must not also load
// LibTorch's protobuf (see sentencepiece_api.h).
#ifdef DUET_BRIDGE_UNDER_ASAN
constexpr int kDeepBind = 0;
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif

// Folder of the running executable, or "" when /proc is unavailable.
std::string ExecutableDir() {
  char buffer[PATH_MAX];
  const ssize_t size = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (size <= 0) return "";
  const std::string path(buffer, static_cast<size_t>(size));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::vector<std::string> CandidatePaths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv(kSentencePieceModuleEnv); env != nullptr && *env != '\0') {
    paths.push_back(env);
  }
  if (const std::string dir = ExecutableDir(); !dir.empty()) {
    paths.push_back(absl::StrCat(dir, "/", kSentencePieceModuleName));
    paths.push_back(absl::StrCat(dir, "/../lib/", kSentencePieceModuleName));
  }
#ifdef DUET_SENTENCEPIECE_MODULE_PATH
  paths.push_back(DUET_SENTENCEPIECE_MODULE_PATH);
#endif
  return paths;
}

StatusOr<const SentencePieceApi*> LoadApi() {
  std::string tried;
  for (const std::string& path : CandidatePaths()) {
    // RTLD_LOCAL keeps the bundled protobuf-lite out of the global scope; RTLD_DEEPBIND makes
    // the module and libsentencepiece resolve their own symbols before libtorch's protobuf.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
    if (handle == nullptr) {
      const char* error = dlerror();
      absl::StrAppend(&tried, "\n  ", path, ": ", error != nullptr ? error : "unknown error");
      continue;
    }
    using GetApi = const SentencePieceApi* (*)();
    auto get_api = reinterpret_cast<GetApi>(dlsym(handle, kSentencePieceApiSymbol));
    const SentencePieceApi* api = get_api != nullptr ? get_api() : nullptr;
    if (api != nullptr && api->version == kSentencePieceApiVersion) return api;  // never dlclosed
    absl::StrAppend(&tried, "\n  ", path, ": not a Duet SentencePiece module of version ",
                    kSentencePieceApiVersion);
    dlclose(handle);
  }
  return absl::FailedPreconditionError(absl::StrCat("cannot load ", kSentencePieceModuleName,
                                                    " (set ", kSentencePieceModuleEnv,
                                                    "); tried:", tried));
}

}  // namespace

StatusOr<const SentencePieceApi*> GetSentencePieceApi() {
  static const StatusOr<const SentencePieceApi*>* const api =
      new StatusOr<const SentencePieceApi*>(LoadApi());
  return *api;
}

Status TrainSentencePiece(const std::vector<std::string>& texts, int vocab_size,
                          std::string* model_proto) {
  DUET_ASSIGN_OR_RETURN(const SentencePieceApi* api, GetSentencePieceApi());
  const std::string error = api->train(texts, vocab_size, model_proto);
  if (error.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer training with vocab_size ", vocab_size, " failed: ", error));
}

StatusOr<std::shared_ptr<const SentencePieceModel>> SentencePieceModel::FromSerialized(
    const std::string& model_proto) {
  DUET_ASSIGN_OR_RETURN(const SentencePieceApi* api, GetSentencePieceApi());
  void* model = nullptr;
  const std::string error = api->load_model(model_proto, &model);
  if (!error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("not a SentencePiece model: ", error));
  }
  return std::shared_ptr<const SentencePieceModel>(new SentencePieceModel(api, model));
}

SentencePieceModel::~SentencePieceModel() { api_->free_model(model_); }

std::string SentencePieceModel::Serialized() const { return api_->serialize(model_); }

int SentencePieceModel::piece_count() const { return api_->piece_count(model_); }

SentencePieceModel::SpecialIds SentencePieceModel::special_ids() const {
  int ids[4];
  api_->special_ids(model_, ids);
  return {ids[0], ids[1], ids[2], ids[3]};
}

Status SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids) const {
  const std::string error = api_->encode(model_, text, ids);
  if (error.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("SentencePiece encode: ", error));
}

Status SentencePieceModel::Decode(const std::vector<int>& ids, std::string* text) const {
  const std::string error = api_->decode(model_, ids, text);
  if (error.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("SentencePiece decode: ", error));
}

}  // namespace duet::language::internal
