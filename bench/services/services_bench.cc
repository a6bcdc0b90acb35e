// Service benchmark (not in ctest): latency p50/p99 and images/s through the gateway for 1, 8 and
// 32 concurrent clients, and one 64-draft GenerateImages call against 64 one-draft calls.
// Runs the four servers in process on a tiny random model (tests/services/test_cluster.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "tests/services/test_cluster.h"

namespace duet::services::testing {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One GenerateImages call; returns its wall time in seconds, or -1 on error.
double GenerateOnce(v1::Duet::Stub& stub, int count, uint64_t seed) {
  v1::GenerateImagesRequest request;
  request.set_prompt("a red sports car");  // fits the tiny model's 16 tokens
  request.set_count(count);
  request.set_seed(seed);
  grpc::ClientContext context;
  const auto start = Clock::now();
  auto reader = stub.GenerateImages(&context, request);
  std::vector<v1::GenerateImagesResponse> out;
  if (!ReadAll(reader, &out).ok()) return -1;
  return Seconds(Clock::now() - start);
}

void Concurrency(Cluster& cluster, int clients, int calls_each) {
  std::vector<std::vector<double>> latencies(clients);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = cluster.Gateway();
      for (int i = 0; i < calls_each; ++i) latencies[c].push_back(GenerateOnce(*stub, 1, c * 1000 + i));
    });
  }
  for (auto& t : threads) t.join();
  const double wall = Seconds(Clock::now() - start);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) { return all[std::min(all.size() - 1, size_t(p * all.size()))]; };
  std::printf("clients %2d: %3zu images, p50 %7.1f ms, p99 %7.1f ms, %6.1f images/s\n", clients,
              all.size(), 1000 * pct(0.50), 1000 * pct(0.99), all.size() / wall);
}

}  // namespace
}  // namespace duet::services::testing

int main() {
  using namespace duet::services::testing;
  Cluster cluster;
  auto stub = cluster.Gateway();
  GenerateOnce(*stub, 1, 0);  // warm up
  for (int clients : {1, 8, 32}) Concurrency(cluster, clients, clients == 1 ? 16 : 4);
  const double batched = GenerateOnce(*stub, 64, 0);
  double sequential = 0;
  for (int i = 0; i < 64; ++i) sequential += GenerateOnce(*stub, 1, i);
  std::printf("64 drafts: one call %.3f s, 64 calls one after another %.3f s, speedup %.1fx\n",
              batched, sequential, sequential / batched);
  return 0;
}
