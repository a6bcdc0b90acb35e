// Implementation of tests/services/test_cluster.h.
#include "tests/services/test_cluster.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/model/tiny_duet.h"
#include "vision/png_codec.h"

namespace duet::services::testing {
namespace {

std::vector<std::string> Corpus() {
  return {"a carved pumpkin with a candle inside", "촛불이 켜진 호박 등", "a pumpkin-shaped hat",
          "호박 모양 모자", "a robot vacuum that looks like a supercar", "슈퍼카처럼 생긴 로봇 청소기",
          "a red sports car", "빨간 스포츠카", "a cat sitting on a chair", "의자에 앉아 있는 고양이",
          "a dog running in the park", "공원에서 뛰는 강아지", "a bowl of kimchi", "김치 한 그릇",
          "a cup of coffee", "커피 한 잔", "a green apple", "초록색 사과", "a snowy mountain",
          "눈 덮인 산", "the sea at sunset", "해질녘의 바다", "a yellow umbrella", "노란 우산",
          "a white rabbit", "하얀 토끼", "a star in the night sky", "밤하늘의 별",
          "a house with a red roof", "빨간 지붕의 집", "a lamp on a desk", "책상 위의 램프"};
}

// The shared tiny model (tests/model/tiny_duet.h) at 64 px, so a draft takes 64 decoding steps
// (patch 4 -> 16, stride 2 -> grid 8) and cancellation has time to land mid-generation.
model::ModelConfig TinyConfig() {
  model::ModelConfig c = model::testing::TinyModelConfig();
  c.name = "duet-services-test";
  c.text_encoder.vocab_size = 512;
  c.text_encoder.max_len = 16;
  c.image_tokenizer.resolution = 64;
  c.transformer.window = 4;
  c.transformer.max_caption_len = fusion::TransformerConfig().max_caption_len;
  c.Derive();
  c.sampling = {0.9f, 12, 0.95f, 2.5f};  // what requests that leave sampling unset get
  return c;
}

std::unique_ptr<model::DuetModel> MakeModel() {
  auto model = model::DuetModel::InitRandom(TinyConfig(), Corpus(), /*seed=*/11);
  if (!model.ok()) {
    ADD_FAILURE() << model.status();
    std::abort();
  }
  return *std::move(model);
}

}  // namespace

const std::string& TinyModelDir() {
  static const std::string* dir = [] {
    std::string path = std::filesystem::temp_directory_path() /
                       ("duet_services_test_" + std::to_string(::getpid()));
    Status saved = MakeModel()->Save(path);
    if (!saved.ok()) {
      ADD_FAILURE() << saved;
      std::abort();
    }
    std::atexit([] { std::filesystem::remove_all(*dir); });
    return new std::string(path);
  }();
  return *dir;
}

model::DuetModel& TinyModel() {
  static model::DuetModel* model = [] {
    auto loaded = model::DuetModel::Load(TinyModelDir());
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status();
      std::abort();
    }
    return loaded->release();
  }();
  return *model;
}

std::string TestPng(int side, int seed) {
  vision::Image image;
  image.width = image.height = side;
  image.rgb.resize(static_cast<size_t>(side) * side * 3);
  for (size_t i = 0; i < image.rgb.size(); ++i) {
    image.rgb[i] = static_cast<uint8_t>((i * (7 + seed) + seed * 31) % 256);
  }
  return *vision::EncodePng(image);
}

Cluster::Cluster(SchedulerOptions scheduler_options, int max_message_bytes)
    : max_message_bytes_(max_message_bytes) {
  model::DuetModel& model = TinyModel();
  ServerOptions options;
  options.max_message_bytes = max_message_bytes;
  StartTextEncoder("127.0.0.1:0");
  image_queue_ = std::make_unique<WorkQueue>("image-codec", 2, 64);
  image_service_ = std::make_unique<ImageCodecService>(&model.image(), image_queue_.get());
  image_server_ = *ServerRunner::Start(options, {image_service_.get()});
  scheduler_ = std::make_unique<Scheduler>(model.transformer(), scheduler_options);
  transformer_service_ =
      std::make_unique<TransformerService>(scheduler_.get(), model.config().sampling.Params());
  transformer_server_ = *ServerRunner::Start(options, {transformer_service_.get()});
  orchestrator_ = std::make_unique<Orchestrator>(
      model.config(),
      BackendAddresses{text_address_, image_server_->address(), transformer_server_->address()},
      max_message_bytes);
  gateway_queue_ = std::make_unique<WorkQueue>("gateway", 48, 256);
  gateway_service_ = std::make_unique<GatewayService>(orchestrator_.get(), gateway_queue_.get());
  gateway_server_ = *ServerRunner::Start(options, {gateway_service_.get()});
}

Cluster::~Cluster() {
  const std::chrono::milliseconds drain(2000);
  gateway_server_->Shutdown(drain);
  gateway_queue_->Shutdown();
  if (text_server_) text_server_->Shutdown(drain);
  image_server_->Shutdown(drain);
  transformer_server_->Shutdown(drain);
  scheduler_->Shutdown();
  text_queue_->Shutdown();
  image_queue_->Shutdown();
}

void Cluster::StartTextEncoder(const std::string& listen) {
  if (!text_queue_) text_queue_ = std::make_unique<WorkQueue>("text-encoder", 2, 64);
  if (!text_service_) {
    text_service_ = std::make_unique<TextEncoderService>(&TinyModel().text(), text_queue_.get());
  }
  ServerOptions options;
  options.listen = listen;
  options.max_message_bytes = max_message_bytes_;
  auto runner = ServerRunner::Start(options, {text_service_.get()});
  ASSERT_TRUE(runner.ok()) << runner.status();
  text_server_ = *std::move(runner);
  text_address_ = text_server_->address();
}

void Cluster::StopTextEncoder() {
  text_server_->Shutdown(std::chrono::milliseconds(0));
  text_server_.reset();
}

void Cluster::RestartTextEncoder() { StartTextEncoder(text_address_); }

std::shared_ptr<grpc::Channel> Cluster::Channel(const std::string& address) const {
  return MakeChannel(address, max_message_bytes_);
}
std::unique_ptr<v1::Duet::Stub> Cluster::Gateway() const {
  return v1::Duet::NewStub(Channel(gateway_server_->address()));
}
std::unique_ptr<v1::TextEncoder::Stub> Cluster::TextEncoder() const {
  return v1::TextEncoder::NewStub(Channel(text_address_));
}
std::unique_ptr<v1::ImageCodec::Stub> Cluster::ImageCodec() const {
  return v1::ImageCodec::NewStub(Channel(image_server_->address()));
}
std::unique_ptr<v1::MultimodalTransformer::Stub> Cluster::Transformer() const {
  return v1::MultimodalTransformer::NewStub(Channel(transformer_server_->address()));
}

std::string Bin(const std::string& name) { return std::string(DUET_BIN_DIR) + "/" + name; }

std::pair<int, std::string> RunCommand(const std::vector<std::string>& argv) {
  static std::atomic<int> calls{0};
  const std::string out = std::filesystem::temp_directory_path() /
                          ("duet_cmd_" + std::to_string(::getpid()) + "_" +
                           std::to_string(calls++) + ".out");
  std::string command;
  for (const auto& a : argv) command += "'" + a + "' ";
  const int code = std::system((command + "> '" + out + "'").c_str());
  std::string text = ReadFile(out).value_or("");
  std::filesystem::remove(out);
  return {WEXITSTATUS(code), text};
}

}  // namespace duet::services::testing
