// The server binaries as real processes: SIGTERM drains in-flight work and exits 0, and
// `duet up` starts all four, serves generate and caption from the client library, and stops.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "common/file.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/common/wire.h"
#include "tests/services/test_cluster.h"
#include "tools/client/child_process.h"
#include "tools/client/health.h"
#include "vision/png_text.h"

namespace duet::services::testing {
namespace {

using client::ChildProcess;
using std::chrono::milliseconds;

// The shared libraries a binary asks the loader for (readelf -d), by name.
std::vector<std::string> NeededLibraries(const std::string& binary) {
  auto [code, dynamic] = RunCommand({"readelf", "-d", Bin(binary)});
  EXPECT_EQ(code, 0) << dynamic;
  std::vector<std::string> needed;
  std::istringstream lines(dynamic);
  for (std::string line; std::getline(lines, line);) {
    const size_t open = line.find("(NEEDED)");
    const size_t lib = line.find('[');
    if (open != std::string::npos && lib != std::string::npos) {
      needed.push_back(line.substr(lib + 1, line.find(']') - lib - 1));
    }
  }
  return needed;
}

bool Needs(const std::vector<std::string>& needed, const std::string& prefix) {
  return std::any_of(needed.begin(), needed.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

// The GPU node build has no OpenCV, libpng or SentencePiece: duet-transformer must not need them,
// in this build too.
TEST(ProcessTest, TransformerBinaryNeedsNoImageOrTextLibraries) {
  const std::vector<std::string> needed = NeededLibraries("duet-transformer");
  ASSERT_TRUE(Needs(needed, "libtorch")) << "the listing was read: the binary needs LibTorch";
  for (const std::string& lib : needed) {
    for (const char* banned : {"opencv", "png", "jpeg", "sentencepiece"}) {
      EXPECT_EQ(lib.find(banned), std::string::npos) << "duet-transformer needs " << lib;
    }
  }
}

// The gateway runs the draft pipeline over the backends and holds no tensors or pixels.
TEST(ProcessTest, GatewayBinaryNeedsNeitherTorchNorImageLibraries) {
  const std::vector<std::string> needed = NeededLibraries("duet-gateway");
  ASSERT_TRUE(Needs(needed, "libgrpc++")) << "the listing was read: the binary needs gRPC";
  for (const std::string& lib : needed) {
    for (const char* banned : {"torch", "c10", "opencv", "png", "jpeg", "sentencepiece", "gomp"}) {
      EXPECT_EQ(lib.find(banned), std::string::npos) << "duet-gateway needs " << lib;
    }
  }
}

// A GenerateImageCodes request for `count` guided drafts of one prompt of the tiny model.
v1::GenerateImageCodesRequest ImageCodesRequest(int count) {
  v1::GenerateImageCodesRequest request;
  model::EncodedTexts encoded = *TinyModel().text().Encode({"a yellow umbrella"});
  EXPECT_TRUE(TensorToProto(encoded.embeddings[0].narrow(0, 0, encoded.lengths[0].item<int64_t>()),
                            request.mutable_prefix()).ok());
  request.set_count(count);
  request.mutable_sampling()->set_guidance_scale(3.0f);
  return request;
}

// duet-transformer keeps its large CPU blocks for the next steps (common/cpu_allocator.h) and
// says how much it keeps: 256 guided drafts leave their KV cache storage behind, cached.
TEST(ProcessTest, TransformerReportsItsCpuBlockCache) {
  auto server = *ChildProcess::Spawn({Bin("duet-transformer"), "--model", TinyModelDir(),
                                      "--listen", "127.0.0.1:0", "--metrics-listen",
                                      "127.0.0.1:0"});
  StatusOr<std::string> address = server->WaitForAddress(milliseconds(60000));
  ASSERT_TRUE(address.ok()) << address.status();
  StatusOr<std::string> metrics = server->WaitForAddress(milliseconds(10000), " metrics on ");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  auto stub = v1::MultimodalTransformer::NewStub(MakeChannel(*address));
  grpc::ClientContext context;
  auto reader = stub->GenerateImageCodes(&context, ImageCodesRequest(256));
  v1::GenerateImageCodesResponse message;
  bool got_codes = false;
  while (reader->Read(&message)) got_codes = got_codes || message.has_codes();
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_TRUE(got_codes);

  const size_t colon = metrics->rfind(':');
  httplib::Client http(metrics->substr(0, colon), std::stoi(metrics->substr(colon + 1)));
  const auto response = http.Get("/metrics");
  ASSERT_TRUE(response && response->status == 200);
  const std::string cached = "\nduet_cpu_cache_bytes{state=\"cached\"} ";
  const size_t at = response->body.find(cached);
  ASSERT_NE(at, std::string::npos) << response->body;
  EXPECT_GT(std::stod(response->body.substr(at + cached.size())), 256 << 10);
  EXPECT_NE(response->body.find("\nduet_cpu_cache_bytes{state=\"in_use\"} "), std::string::npos);
  server->Signal(SIGTERM);
  EXPECT_EQ(*server->Wait(milliseconds(30000)), 0);
}

TEST(ProcessTest, SigtermDrainsInFlightRequestAndExitsZero) {
  auto server = *ChildProcess::Spawn({Bin("duet-transformer"), "--model", TinyModelDir(),
                                      "--listen", "127.0.0.1:0", "--drain-ms", "60000"});
  StatusOr<std::string> address = server->WaitForAddress(milliseconds(60000));
  ASSERT_TRUE(address.ok()) << address.status();
  auto channel = MakeChannel(*address);
  ASSERT_TRUE(client::CheckServing(channel, milliseconds(5000)).ok());

  auto stub = v1::MultimodalTransformer::NewStub(channel);
  grpc::ClientContext context;
  auto reader = stub->GenerateImageCodes(&context, ImageCodesRequest(256));
  v1::GenerateImageCodesResponse message;
  ASSERT_TRUE(reader->Read(&message));  // decoding has started
  ASSERT_TRUE(message.has_progress());
  ASSERT_LT(message.progress().done(), message.progress().total());

  server->Signal(SIGTERM);
  bool got_codes = false;
  while (reader->Read(&message)) got_codes = got_codes || message.has_codes();
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(got_codes);
  StatusOr<int> code = server->Wait(milliseconds(30000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_FALSE(client::CheckServing(channel, milliseconds(500)).ok());
}

// An idle connection that never answers (here: the HTTP/2 preface, then silence) must not hold
// SIGTERM for gRPC's 20 s GOAWAY timeout; the drain limit is far longer, so only closing idle
// connections once no call is left lets the server exit within the bound.
TEST(ProcessTest, IdleConnectionDoesNotDelaySigterm) {
  auto server = *ChildProcess::Spawn({Bin("duet-text-encoder"), "--model", TinyModelDir(),
                                      "--listen", "127.0.0.1:0", "--drain-ms", "60000"});
  StatusOr<std::string> address = server->WaitForAddress(milliseconds(60000));
  ASSERT_TRUE(address.ok()) << address.status();
  const int port = std::stoi(address->substr(address->rfind(':') + 1));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0", 33);
  ASSERT_EQ(write(fd, preface.data(), preface.size()), static_cast<ssize_t>(preface.size()));
  ASSERT_TRUE(client::CheckServing(MakeChannel(*address), milliseconds(5000)).ok());

  server->Signal(SIGTERM);
  StatusOr<int> code = server->Wait(milliseconds(10000));
  close(fd);
  ASSERT_TRUE(code.ok()) << "still running 10 s after SIGTERM with one idle connection";
  EXPECT_EQ(*code, 0);
}

TEST(ProcessTest, DuetUpServesGenerateAndCaptionThenStops) {
  auto up = *ChildProcess::Spawn({Bin("duet_client_cli"), "up", "--model", TinyModelDir(),
                                  "--listen", "127.0.0.1:0", "--bin-dir", DUET_BIN_DIR,
                                  "--drain-ms", "5000", "--dtype", "bfloat16"});
  std::string gateway;
  for (int i = 0; i < 4; ++i) {
    StatusOr<std::string> address = up->WaitForAddress(milliseconds(120000));
    ASSERT_TRUE(address.ok()) << address.status();
    gateway = *address;  // the gateway is announced last
  }
  {  // --dtype reached the transformer, and the gateway reports it.
    v1::ModelInfo info;
    grpc::ClientContext context;
    ASSERT_TRUE(v1::Duet::NewStub(MakeChannel(gateway))
                    ->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
    EXPECT_EQ(info.compute_dtype(), "bfloat16");
  }
  const std::string out = std::filesystem::temp_directory_path() /
                          ("duet_up_out_" + std::to_string(::getpid()));
  auto [gen_code, gen_stdout] = RunCommand({Bin("duet_client_cli"), "generate", "--server",
                                            gateway, "-n", "3", "--seed", "5", "-o", out,
                                            "a red sports car"});
  EXPECT_EQ(gen_code, 0) << gen_stdout;
  for (const char* file :
       {"/draft_000_seed_5.png", "/draft_002_seed_7.png", "/contact_sheet.png"}) {
    EXPECT_TRUE(std::filesystem::exists(out + file)) << file;
  }
  auto text = vision::ReadPngText(ReadFile(out + "/draft_001_seed_6.png").value_or(""));
  ASSERT_TRUE(text.ok());
  std::map<std::string, std::string> keys(text->begin(), text->end());
  EXPECT_EQ(keys["prompt"], "a red sports car");
  EXPECT_EQ(keys["seed"], "6");

  std::ofstream(out + "/bad.png") << "not an image";
  auto [cap_code, lines] = RunCommand({Bin("duet_client_cli"), "caption", "--server", gateway,
                                       out + "/draft_000_seed_5.png", out + "/missing.png",
                                       out + "/bad.png", out + "/contact_sheet.png"});
  EXPECT_EQ(cap_code, 1);  // two inputs failed; the others were captioned
  std::istringstream stream(lines);
  std::vector<nlohmann::json> json;
  for (std::string line; std::getline(stream, line);) json.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(json.size(), 4u) << lines;
  EXPECT_TRUE(json[0].contains("caption"));
  EXPECT_TRUE(json[1].contains("error"));
  EXPECT_TRUE(json[2].contains("error"));
  EXPECT_TRUE(json[3].contains("caption"));
  EXPECT_EQ(json[3]["path"], out + "/contact_sheet.png");
  std::filesystem::remove_all(out);

  auto [health_code, health_stdout] =
      RunCommand({Bin("duet_client_cli"), "health", "--server", gateway});
  EXPECT_EQ(health_code, 0);
  EXPECT_EQ(health_stdout, gateway + " SERVING\n");

  up->Signal(SIGTERM);
  StatusOr<int> code = up->Wait(milliseconds(60000));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_FALSE(client::CheckServing(MakeChannel(gateway), milliseconds(500)).ok());
  // Stopped: `duet health` says so with exit 1, and a missing --server is a usage error (2).
  EXPECT_EQ(RunCommand({Bin("duet_client_cli"), "health", "--server", gateway}).first, 1);
  EXPECT_EQ(RunCommand({Bin("duet_client_cli"), "health"}).first, 2);
}

}  // namespace
}  // namespace duet::services::testing
