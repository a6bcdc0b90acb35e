// Test fixtures for the service tests: a tiny random model saved to a temp dir, and the four
// servers started in process on loopback ports picked at run time.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "duet/v1/gateway.grpc.pb.h"
#include "duet/v1/image_codec.grpc.pb.h"
#include "duet/v1/text_encoder.grpc.pb.h"
#include "duet/v1/transformer.grpc.pb.h"
#include "model/duet_model.h"
#include "services/common/server_runner.h"
#include "services/common/work_queue.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/orchestrator.h"
#include "services/image_codec/image_codec_service.h"
#include "services/text_encoder/text_encoder_service.h"
#include "services/transformer/scheduler.h"
#include "services/transformer/transformer_service.h"

namespace duet::services::testing {

// A tiny model (grid 8: 64 decoding steps per image) saved once per test binary.
const std::string& TinyModelDir();

// A binary of this build (DUET_BIN_DIR: the servers, duet, duet_client_cli).
std::string Bin(const std::string& name);
// Runs argv to completion, stderr passing through; returns its exit code and stdout.
std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv);
// The same model loaded once per test binary (its pipelines are shared by in-process servers).
model::DuetModel& TinyModel();
// A valid PNG of `side` x `side` pixels with a colour pattern picked by `seed`.
std::string TestPng(int side = 32, int seed = 0);

// Reads messages until the stream ends; returns the final status.
template <typename Reader, typename Message>
grpc::Status ReadAll(Reader& reader, std::vector<Message>* messages) {
  Message message;
  while (reader->Read(&message)) messages->push_back(message);
  return reader->Finish();
}

// The four servers in this process, each on its own loopback port.
class Cluster {
 public:
  explicit Cluster(SchedulerOptions scheduler_options = {}, int max_message_bytes = 4 << 20);
  ~Cluster();

  // Shuts the text encoder down (the port stays reserved for RestartTextEncoder).
  void StopTextEncoder();
  void RestartTextEncoder();

  std::shared_ptr<grpc::Channel> Channel(const std::string& address) const;
  std::unique_ptr<v1::Duet::Stub> Gateway() const;
  std::unique_ptr<v1::TextEncoder::Stub> TextEncoder() const;
  std::unique_ptr<v1::ImageCodec::Stub> ImageCodec() const;
  std::unique_ptr<v1::MultimodalTransformer::Stub> Transformer() const;
  Scheduler& scheduler() { return *scheduler_; }
  const std::string& text_encoder_address() const { return text_address_; }

 private:
  void StartTextEncoder(const std::string& listen);

  int max_message_bytes_;
  std::unique_ptr<WorkQueue> text_queue_, image_queue_, gateway_queue_;
  std::unique_ptr<TextEncoderService> text_service_;
  std::unique_ptr<ImageCodecService> image_service_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<TransformerService> transformer_service_;
  std::unique_ptr<Orchestrator> orchestrator_;
  std::unique_ptr<GatewayService> gateway_service_;
  std::unique_ptr<ServerRunner> text_server_, image_server_, transformer_server_, gateway_server_;
  std::string text_address_;
};

}  // namespace duet::services::testing
