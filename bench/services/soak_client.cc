// Implementation of bench/services/soak_client.h: the scenario table, verdicts, and the Caption,
// CaptionStream, GetModelInfo and health scenarios (GenerateImages is in soak_generate.cc).
#include "bench/services/soak_client.h"

#include <cmath>
#include <thread>

#include "bench/services/soak_png.h"

namespace duet::bench {
namespace {

using Code = grpc::StatusCode;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

constexpr int kMaxShortDeadlineMs = 100;
constexpr size_t kOverLimitImageBytes = (size_t{32} << 20) + 1;  // the gateway's --max_image_mb
constexpr int kOverLimitEvery = 40;    // 1 in 40 bad captions is over the size limit
constexpr int kImageSideLimit = 4096;  // ImageCodec --max_image_side
constexpr int kLargeCountLo = 17, kLargeCountHi = 20;  // drafts of generate.large

// The scenarios, their names (--scenarios) and weights (percent of calls).
enum class Scenario {
  kGenerate,
  kGenerateRerank,
  kGenerateLarge,
  kGenerateCancel,
  kGenerateDeadline,
  kGenerateBad,
  kCaption,
  kCaptionDeadline,
  kCaptionBad,
  kCaptionStream,
  kCaptionStreamCancel,
  kModelInfo,
  kHealth,
  kHealthWatch,
};
struct ScenarioWeight {
  Scenario scenario;
  const char* name;
  double weight;
};
constexpr ScenarioWeight kWeights[] = {
    {Scenario::kGenerate, "generate", 25},
    {Scenario::kGenerateRerank, "generate.rerank", 6},
    {Scenario::kGenerateLarge, "generate.large", 1},
    {Scenario::kGenerateCancel, "generate.cancel", 5},
    {Scenario::kGenerateDeadline, "generate.deadline", 4},
    {Scenario::kGenerateBad, "generate.bad", 10},
    {Scenario::kCaption, "caption", 20},
    {Scenario::kCaptionDeadline, "caption.deadline", 2},
    {Scenario::kCaptionBad, "caption.bad", 6},
    {Scenario::kCaptionStream, "caption_stream", 8},
    {Scenario::kCaptionStreamCancel, "caption_stream.cancel", 2},
    {Scenario::kModelInfo, "model_info", 5},
    {Scenario::kHealth, "health", 4},  // 1 in 4 of them asks for an unknown service
    {Scenario::kHealthWatch, "health.watch", 2},
};

bool IsQueueFull(const grpc::Status& status) {
  return status.error_code() == Code::RESOURCE_EXHAUSTED &&
         status.error_message().find("retry after") != std::string::npos;
}

// A caption must have a finite log-probability <= 0.
std::string CheckScore(double score) {
  if (std::isfinite(score) && score <= 1e-6) return "";
  return "caption score " + std::to_string(score) + " is not a log-probability";
}

}  // namespace

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

SoakClient::SoakClient(std::shared_ptr<grpc::Channel> channel, uint64_t seed,
                       const ClientOptions& options, SharedState* shared, Tally* tally)
    : duet_(v1::Duet::NewStub(channel)),
      health_(grpc::health::v1::Health::NewStub(channel)),
      rng_(seed),
      options_(options),
      shared_(shared),
      tally_(tally) {
  std::vector<double> weights;
  for (const ScenarioWeight& w : kWeights) {
    const bool on = options.scenarios.empty() || options.scenarios.count(w.name) > 0;
    weights.push_back(on ? w.weight : 0);
  }
  pick_ = std::discrete_distribution<int>(weights.begin(), weights.end());
}

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const ScenarioWeight& w : kWeights) names.push_back(w.name);
  return names;
}

int SoakClient::Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

void SoakClient::SetDeadline(grpc::ClientContext* context,
                             std::chrono::milliseconds timeout) const {
  context->set_deadline(std::chrono::system_clock::now() + timeout);
}

bool SoakClient::RunOne() {
  Verdict verdict = Verdict::kExpected;
  switch (kWeights[pick_(rng_)].scenario) {
    case Scenario::kGenerate:
      verdict = Generate("generate", GoodGenerateRequest(false));
      break;
    case Scenario::kGenerateRerank:
      verdict = Generate("generate.rerank", GoodGenerateRequest(true));
      break;
    case Scenario::kGenerateLarge: {  // more drafts than one ImageCodec.Decode chunk of 16
      v1::GenerateImagesRequest request = GoodGenerateRequest(Uniform(0, 1) == 0);
      request.set_count(Uniform(kLargeCountLo, kLargeCountHi));
      verdict = Generate("generate.large", request);
      break;
    }
    case Scenario::kGenerateCancel:
      verdict = GenerateCancel();
      break;
    case Scenario::kGenerateDeadline:
      verdict = GenerateDeadline();
      break;
    case Scenario::kGenerateBad:
      verdict = GenerateBad();
      break;
    case Scenario::kCaption:
      verdict = Caption();
      break;
    case Scenario::kCaptionDeadline:
      verdict = CaptionDeadline();
      break;
    case Scenario::kCaptionBad:
      verdict = CaptionBad();
      break;
    case Scenario::kCaptionStream:
      verdict = CaptionStream(false);
      break;
    case Scenario::kCaptionStreamCancel:
      verdict = CaptionStream(true);
      break;
    case Scenario::kModelInfo:
      verdict = ModelInfo();
      break;
    case Scenario::kHealth:
      verdict = Health();
      break;
    case Scenario::kHealthWatch:
      verdict = HealthWatch();
      break;
  }
  return verdict != Verdict::kBusy;
}

Verdict SoakClient::Record(const char* scenario, const char* rpc, const grpc::Status& status,
                           double seconds, std::initializer_list<grpc::StatusCode> expected,
                           const std::string& content_error) {
  Outcome outcome{scenario, rpc, status.error_code(), Verdict::kUnexpected, seconds, ""};
  bool code_expected = false;
  for (grpc::StatusCode code : expected)
    code_expected = code_expected || code == status.error_code();
  if (IsQueueFull(status)) {
    outcome.verdict = Verdict::kBusy;
  } else if (code_expected && content_error.empty()) {
    outcome.verdict = Verdict::kExpected;
  } else {
    outcome.detail = content_error.empty() ? status.error_message() : content_error;
  }
  tally_->Record(outcome);
  return outcome.verdict;
}

Verdict SoakClient::Caption() {
  const std::string image = shared_->PickImage(rng_);
  v1::CaptionRequest request;
  request.set_image(image);
  v1::CaptionResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = duet_->Caption(&context, request, &response);
  std::string error;
  if (status.ok()) error = CheckScore(response.score());
  if (status.ok() && error.empty()) error = shared_->CheckCaption(image, response.caption());
  return Record("caption", "Caption", status, SecondsSince(start), {Code::OK}, error);
}

Verdict SoakClient::CaptionDeadline() {
  v1::CaptionRequest request;
  request.set_image(shared_->PickImage(rng_));
  v1::CaptionResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, std::chrono::milliseconds(Uniform(1, kMaxShortDeadlineMs)));
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = duet_->Caption(&context, request, &response);
  return Record("caption.deadline", "Caption", status, SecondsSince(start),
                {Code::DEADLINE_EXCEEDED, Code::OK});
}

Verdict SoakClient::CaptionBad() {
  const std::string good = shared_->PickImage(rng_);
  std::string image;
  switch (Uniform(0, 7)) {
    case 0:
      break;  // empty
    case 1:
      image = good.substr(0, good.size() / 2);
      break;
    case 2:
      image = "BM not a png";
      break;
    case 3:
      image = "\xFF\xD8\xFF\xE0 not a jpeg either";
      break;
    case 4:  // the PNG signature, then noise
      image = good.substr(0, 8) + std::string(2000, '\0');
      for (size_t i = 8; i < image.size(); ++i) image[i] = static_cast<char>(rng_());
      break;
    case 5:
      image = PngDeclaringSize(kImageSideLimit + 1, 1);
      break;
    case 6:
      image = PngDeclaringSize(100000, 100000);
      break;
    default:
      image = Uniform(1, kOverLimitEvery) == 1 ? std::string(kOverLimitImageBytes, 'x')
                                               : std::string(5000, static_cast<char>(rng_()));
  }
  v1::CaptionRequest request;
  request.set_image(image);
  v1::CaptionResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = duet_->Caption(&context, request, &response);
  std::string error;
  if (status.error_code() == Code::INVALID_ARGUMENT &&
      status.error_message().find("image") == std::string::npos) {
    error = "message does not name the image: " + status.error_message();
  }
  return Record("caption.bad", "Caption", status, SecondsSince(start), {Code::INVALID_ARGUMENT},
                error);
}

Verdict SoakClient::ModelInfo() {
  v1::ModelInfo info;
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = duet_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  std::string error;
  if (status.ok() && (info.name().empty() || info.compute_dtype().empty() ||
                      info.image_grid() * info.image_grid() != options_.image_tokens ||
                      info.max_drafts() != options_.max_drafts)) {
    error = "model info changed or incomplete: " + info.ShortDebugString().substr(0, 300);
  }
  return Record("model_info", "GetModelInfo", status, SecondsSince(start), {Code::OK}, error);
}

Verdict SoakClient::Health() {
  const bool unknown = Uniform(0, 3) == 0;  // a service nobody registered: NOT_FOUND
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(unknown ? "no.such.Service" : "");
  HealthStatus response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = health_->Check(&context, request, &response);
  std::string error;
  if (status.ok() && response.status() != HealthStatus::SERVING) {
    error = "health status " + std::to_string(response.status());
  }
  if (unknown) {
    return Record("health.unknown", "Health.Check", status, SecondsSince(start), {Code::NOT_FOUND});
  }
  return Record("health", "Health.Check", status, SecondsSince(start), {Code::OK}, error);
}

Verdict SoakClient::HealthWatch() {
  grpc::health::v1::HealthCheckRequest request;
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto start = std::chrono::steady_clock::now();
  auto reader = health_->Watch(&context, request);
  HealthStatus response;
  std::string error;
  if (!reader->Read(&response)) {
    error = "Watch ended before the first status";
  } else if (response.status() != HealthStatus::SERVING) {
    error = "health status " + std::to_string(response.status());
  }
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  const grpc::Status status = reader->Finish();
  return Record("health.watch", "Health.Watch", status, SecondsSince(start), {Code::CANCELLED},
                error);
}

}  // namespace duet::bench
