// One soak client: a loop body that draws a scenario by weight (good calls of every Duet RPC and
// health, cancels, short deadlines, bad inputs), runs it and records each outcome with its verdict.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/services/soak_shared.h"
#include "bench/services/soak_tally.h"
#include "duet/v1/gateway.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace duet::bench {

struct ClientOptions {
  std::chrono::milliseconds call_timeout{300'000};  // deadline of calls that should succeed
  int image_tokens = 0;   // codes per draft (GetModelInfo image_grid^2), for progress checks
  int max_drafts = 256;   // GetModelInfo max_drafts
  int codebook_size = 0;  // GetModelInfo codebook_size
  std::set<std::string> scenarios;  // run only these (ScenarioNames()); empty = all
};

// The scenario names, in table order: "generate", "generate.rerank", ..., "health.watch".
std::vector<std::string> ScenarioNames();

// Not thread-safe: one per client thread. `shared` and `tally` are not owned, must outlive it.
class SoakClient {
 public:
  SoakClient(std::shared_ptr<grpc::Channel> channel, uint64_t seed, const ClientOptions& options,
             SharedState* shared, Tally* tally);

  // Runs one scenario and records its outcomes. Returns false when the server said it is busy
  // (RESOURCE_EXHAUSTED), so the caller can back off.
  bool RunOne();

 private:
  // Scenarios (soak_client.cc, soak_generate.cc). Each returns its outcome's verdict.
  Verdict Generate(const char* scenario, const v1::GenerateImagesRequest& request);
  Verdict GenerateCancel();
  Verdict GenerateDeadline();
  Verdict GenerateBad();
  Verdict Caption();
  Verdict CaptionDeadline();
  Verdict CaptionBad();
  Verdict CaptionStream(bool cancel);
  Verdict ModelInfo();
  Verdict Health();
  Verdict HealthWatch();

  // Records the outcome of a call that should end with one of `expected` (and, when it is OK,
  // with an empty `content_error`); RESOURCE_EXHAUSTED from a full queue is kBusy.
  Verdict Record(const char* scenario, const char* rpc, const grpc::Status& status, double seconds,
                 std::initializer_list<grpc::StatusCode> expected,
                 const std::string& content_error = "");
  // English or Korean prompt, 1..4 drafts, a seed in a small range, default or explicit sampling.
  v1::GenerateImagesRequest GoodGenerateRequest(bool rerank);
  std::string SamplingKey(const v1::GenerateImagesRequest& request) const;
  std::string CheckDrafts(const v1::GenerateImagesRequest& request,
                          const std::vector<v1::Draft>& drafts);
  void SetDeadline(grpc::ClientContext* context, std::chrono::milliseconds timeout) const;
  int Uniform(int lo, int hi);  // in [lo, hi]

  std::unique_ptr<v1::Duet::Stub> duet_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;  // index into the scenario table
  ClientOptions options_;
  SharedState* shared_;
  Tally* tally_;
};

// Seconds since `start`.
double SecondsSince(std::chrono::steady_clock::time_point start);

}  // namespace duet::bench
