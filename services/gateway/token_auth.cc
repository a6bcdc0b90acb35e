// Implementation of services/gateway/token_auth.h (SHA-256 from OpenSSL's libcrypto).
#include "services/gateway/token_auth.h"

#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/file.h"

namespace duet::services {
namespace {
constexpr size_t kMaxTokensFileBytes = 1 << 20;
constexpr char kBearer[] = "Bearer ";
}  // namespace

TokenAuth::Digest TokenAuth::Hash(const std::string& token) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

TokenAuth TokenAuth::FromTokens(const std::vector<std::string>& tokens) {
  TokenAuth auth;
  for (const std::string& token : tokens) auth.digests_.push_back(Hash(token));
  return auth;
}

StatusOr<TokenAuth> TokenAuth::FromFile(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path, kMaxTokensFileBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--tokens-file '", path, "' cannot be read: ",
                                                   text.status().message()));
  }
  std::vector<std::string> tokens;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line.front() != '#') tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--tokens-file '", path, "' has no tokens"));
  }
  return FromTokens(tokens);
}

Status TokenAuth::Check(const grpc::CallbackServerContext& context) const {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  const std::string value = it == metadata.end() ? "" : std::string(it->second.data(),
                                                                    it->second.size());
  if (value.rfind(kBearer, 0) != 0 || value.size() == sizeof(kBearer) - 1) {
    return absl::UnauthenticatedError(
        "missing bearer token: send metadata 'authorization: Bearer <token>'");
  }
  const Digest presented = Hash(value.substr(sizeof(kBearer) - 1));
  unsigned char any_equal = 0;
  for (const Digest& digest : digests_) {  // every digest, every byte: no early exit
    unsigned char diff = 0;
    for (size_t i = 0; i < digest.size(); ++i) diff |= digest[i] ^ presented[i];
    any_equal |= static_cast<unsigned char>(diff == 0);
  }
  if (any_equal == 0) return absl::PermissionDeniedError("bearer token not accepted");
  return absl::OkStatus();
}

}  // namespace duet::services
