// Bearer-token auth for the public API: a call must carry "authorization: Bearer <token>" with a
// token from the gateway's --tokens-file. Health and reflection are other services: they stay open.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace duet::services {

// Thread-safe after construction. Only SHA-256 digests of the tokens are kept, and a presented
// token is compared against every one in constant time; tokens are never logged.
class TokenAuth {
 public:
  // One token per line; blank lines and lines starting with '#' are skipped; spaces around a
  // token are trimmed. InvalidArgument naming the flag when the file is unreadable or has none.
  static StatusOr<TokenAuth> FromFile(const std::string& path);
  static TokenAuth FromTokens(const std::vector<std::string>& tokens);

  // OK for an accepted token; Unauthenticated when the call has no bearer token,
  // PermissionDenied when it has one that is not accepted.
  Status Check(const grpc::CallbackServerContext& context) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Hash(const std::string& token);
  std::vector<Digest> digests_;
};

}  // namespace duet::services
