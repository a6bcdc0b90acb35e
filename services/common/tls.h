// TLS for Duet's servers and channels, from PEM files: server credentials (mutual TLS when a
// client CA is given) and channel credentials (with a client certificate for mutual TLS).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace duet::services {

struct TlsFiles {
  std::string cert;  // PEM certificate chain; empty: plaintext
  std::string key;   // PEM private key of `cert`
  std::string ca;    // server: CA that client certificates must chain to (mutual TLS);
                     // channel: CA that the server's certificate must chain to
};

// Insecure credentials when files.cert is empty, else TLS; InvalidArgument naming the flag when a
// file is missing or unreadable, or when cert and key are not given together.
StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files);

// Insecure when files.ca is empty, else TLS verifying the server against files.ca, presenting
// files.cert/files.key when given.
StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files);

}  // namespace duet::services
