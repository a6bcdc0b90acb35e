// TLS and bearer tokens, as real processes with certificates from a CA this test makes: the
// gateway serves TLS and checks tokens (health stays open), and talks to backends that require
// its client certificate (mutual TLS). Tokens never reach the gateway's log.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "gtest/gtest.h"
#include "services/common/tls.h"
#include "services/common/wire.h"
#include "tests/services/test_cluster.h"
#include "tools/client/child_process.h"
#include "tools/client/health.h"

namespace duet::services::testing {
namespace {

using client::ChildProcess;
using std::chrono::milliseconds;

// What a call that must succeed may take. Generous, because ctest runs this beside other suites
// that start servers on the same two cores, and a TLS handshake to a server still loading can
// then take seconds; a call that must fail is refused at once and keeps its short deadline.
constexpr milliseconds kMustAnswer(60000);

constexpr char kToken[] = "s3cret-token-for-the-test";
constexpr char kWrongToken[] = "not-the-token-at-all";


class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("duet_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    MakeCertificates();
    std::ofstream(dir_ / "tokens") << "# gateway tokens\n" << kToken << "\n\n";
    const std::vector<std::string> tls = {"--tls-cert", Path("server.pem"), "--tls-key",
                                          Path("server.key"), "--tls-client-ca", Path("ca.pem")};
    for (const char* name : {"duet-text-encoder", "duet-image-codec", "duet-transformer"}) {
      std::vector<std::string> argv = {Bin(name), "--model", TinyModelDir(), "--listen",
                                       "127.0.0.1:0"};
      argv.insert(argv.end(), tls.begin(), tls.end());
      backends_.push_back(Start(argv));
    }
    const std::string gateway =
        "exec '" + Bin("duet-gateway") + "' --model '" + TinyModelDir() +
        "' --listen 127.0.0.1:0 --tls-cert '" + Path("server.pem") + "' --tls-key '" +
        Path("server.key") + "' --tokens-file '" + Path("tokens") + "' --backend-ca '" +
        Path("ca.pem") + "' --backend-cert '" + Path("client.pem") + "' --backend-key '" +
        Path("client.key") + "' --text-encoder " + addresses_[0] + " --image-codec " +
        addresses_[1] + " --transformer " + addresses_[2] + " 2> '" + Path("gateway.log") + "'";
    gateway_ = Start({"/bin/sh", "-c", gateway});
  }

  void TearDown() override {
    for (auto* p : {gateway_.get(), backends_[0].get(), backends_[1].get(), backends_[2].get()}) {
      if (p != nullptr) p->Signal(SIGTERM);
    }
    gateway_.reset();
    backends_.clear();
    std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A P-256 CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it.
  void MakeCertificates() {
    const std::string d = "'" + dir_.string() + "'";
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "cd " + d + " && set -e && exec 2>openssl.log"
        " && openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 1 -subj /CN=duet-ca"
        " && openssl req " + key + " -keyout server.key -out server.csr -subj /CN=localhost"
        " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        "    -out server.pem -days 1 -extfile san.ext"
        " && openssl req " + key + " -keyout client.key -out client.csr -subj /CN=duet-gateway"
        " && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
        "    -out client.pem -days 1";
    ASSERT_EQ(std::system(script.c_str()), 0) << ReadFile(Path("openssl.log")).value_or("");
  }

  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& argv) {
    auto process = *ChildProcess::Spawn(argv);
    StatusOr<std::string> address = process->WaitForAddress(milliseconds(60000));
    EXPECT_TRUE(address.ok()) << address.status();
    addresses_.push_back(address.value_or(""));
    return process;
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& address, bool client_cert = false) {
    TlsFiles files{"", "", Path("ca.pem")};
    if (client_cert) files.cert = Path("client.pem"), files.key = Path("client.key");
    return MakeChannel(address, kDefaultMaxMessageBytes, *MakeChannelCredentials(files));
  }

  grpc::Status ModelInfo(const std::string& token) {
    auto stub = v1::Duet::NewStub(Channel(addresses_[3]));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kMustAnswer);
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ModelInfo info;
    return stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<ChildProcess>> backends_;
  std::unique_ptr<ChildProcess> gateway_;
  std::vector<std::string> addresses_;  // text encoder, image codec, transformer, gateway
};

TEST_F(SecurityTest, TokensAreCheckedOverTlsAndBackendsRequireTheGatewaysCertificate) {
  ASSERT_EQ(addresses_.size(), 4u);
  EXPECT_EQ(ModelInfo("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ModelInfo(kWrongToken).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status ok = ModelInfo(kToken);
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  {  // A whole generate: gateway -> three backends over mutual TLS.
    auto stub = v1::Duet::NewStub(Channel(addresses_[3]));
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    context.set_deadline(std::chrono::system_clock::now() + kMustAnswer);
    v1::GenerateImagesRequest request;
    request.set_prompt("a red apple");
    request.set_count(1);
    auto reader = stub->GenerateImages(&context, request);
    std::vector<v1::GenerateImagesResponse> out;
    const grpc::Status generated = ReadAll(reader, &out);
    EXPECT_TRUE(generated.ok()) << generated.error_message();
  }
  {  // CaptionStream is refused before it starts.
    auto stub = v1::Duet::NewStub(Channel(addresses_[3]));
    grpc::ClientContext context;
    auto stream = stub->CaptionStream(&context);
    stream->WritesDone();
    v1::CaptionStreamResponse response;
    while (stream->Read(&response)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {  // The CLI: --tls-ca and --token-file.
    std::ofstream(Path("client-token")) << kToken << "\n";
    const std::string command = "'" + Bin("duet_client_cli") + "' generate --server " +
                                addresses_[3] + " --tls-ca '" + Path("ca.pem") +
                                "' --token-file '" + Path("client-token") + "' -n 1 -o '" +
                                Path("out") + "' 'a red apple' > /dev/null 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0);
    EXPECT_TRUE(std::filesystem::exists(Path("out") + "/contact_sheet.png"));
  }
  // Health stays open; plaintext is not served.
  EXPECT_TRUE(client::CheckServing(Channel(addresses_[3]), kMustAnswer).ok());
  EXPECT_FALSE(client::CheckServing(MakeChannel(addresses_[3]), milliseconds(2000)).ok());
  // A backend answers only a client with the CA's certificate.
  EXPECT_FALSE(client::CheckServing(Channel(addresses_[2]), milliseconds(2000)).ok());
  EXPECT_TRUE(client::CheckServing(Channel(addresses_[2], true), kMustAnswer).ok());

  gateway_->Signal(SIGTERM);
  ASSERT_TRUE(gateway_->Wait(milliseconds(30000)).ok());
  const std::string log = ReadFile(Path("gateway.log")).value_or("");
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_EQ(log.find(kWrongToken), std::string::npos);
}

TEST(TlsFlagsTest, MismatchedOrMissingFilesAreNamed) {
  EXPECT_NE(MakeServerCredentials({"cert.pem", "", ""}).status().message().find("--tls-key"),
            std::string::npos);
  EXPECT_NE(MakeServerCredentials({"/nonexistent.pem", "/nonexistent.key", ""})
                .status().message().find("--tls-"),
            std::string::npos);
  EXPECT_NE(MakeChannelCredentials({"c.pem", "c.key", ""}).status().message().find("--backend-ca"),
            std::string::npos);
  EXPECT_TRUE(MakeServerCredentials({}).ok());  // plaintext
}

}  // namespace
}  // namespace duet::services::testing
