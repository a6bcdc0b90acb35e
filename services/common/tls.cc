// Implementation of services/common/tls.h.
#include "services/common/tls.h"

#include "common/file.h"

namespace duet::services {
namespace {

StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok() || pem->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", path,
                                                   "' cannot be read or is empty"));
  }
  return pem;
}

}  // namespace

StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (files.cert.empty()) {
    if (!files.ca.empty()) return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert");
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options(
      files.ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                       : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  DUET_ASSIGN_OR_RETURN(pair.private_key, ReadPem(files.key, "tls-key"));
  DUET_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(files.cert, "tls-cert"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!files.ca.empty()) {
    DUET_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(files.ca, "tls-client-ca"));
  }
  return grpc::SslServerCredentials(options);
}

StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files) {
  if (files.ca.empty()) {
    if (!files.cert.empty()) return absl::InvalidArgumentError("--backend-cert needs --backend-ca");
    return grpc::InsecureChannelCredentials();
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError("--backend-cert and --backend-key must be given together");
  }
  grpc::SslCredentialsOptions options;
  DUET_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(files.ca, "backend-ca"));
  if (!files.cert.empty()) {
    DUET_ASSIGN_OR_RETURN(options.pem_cert_chain, ReadPem(files.cert, "backend-cert"));
    DUET_ASSIGN_OR_RETURN(options.pem_private_key, ReadPem(files.key, "backend-key"));
  }
  return grpc::SslCredentials(options);
}

}  // namespace duet::services
