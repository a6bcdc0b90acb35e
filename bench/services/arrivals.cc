// Continuous-batching benchmark against a running gateway (bench/services/arrivals.sh starts one
// with `duet up`): COUNT one-draft GenerateImages calls started GAP ms apart, against the ideal,
// the longer of (a) one COUNT-draft call and (b) the arrival span plus one one-draft call; then
// latency p50/p99 for 1, 8 and 32 closed-loop clients. Prints one line per measurement.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/flags.h"
#include "duet/v1/gateway.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One GenerateImages call to its end; its wall time in seconds, or -1 on an error.
double Generate(duet::v1::Duet::Stub& stub, const std::string& prompt, int count, uint64_t seed) {
  duet::v1::GenerateImagesRequest request;
  request.set_prompt(prompt);
  request.set_count(count);
  request.set_seed(seed);
  grpc::ClientContext context;
  const auto start = Clock::now();
  auto reader = stub.GenerateImages(&context, request);
  duet::v1::GenerateImagesResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish().ok() ? Seconds(Clock::now() - start) : -1;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

// COUNT one-draft calls, call i started at i * gap; the span from the first start to the last end.
void Arrivals(duet::v1::Duet::Stub& stub, const std::string& prompt, int count, int gap_ms,
              double single, double batch) {
  std::vector<double> latency(count);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(i * gap_ms));
      latency[i] = Generate(stub, prompt, 1, 1000 + i);
    });
  }
  for (auto& t : threads) t.join();
  const double span = Seconds(Clock::now() - start);
  const double ideal = std::max(batch, (count - 1) * gap_ms / 1000.0 + single);
  const bool failed = std::any_of(latency.begin(), latency.end(), [](double s) { return s < 0; });
  std::printf("arrivals: %d one-draft calls %d ms apart: %.2f s, ideal %.2f s, %.2fx; "
              "latency p50 %.2f s, p99 %.2f s%s\n",
              count, gap_ms, span, ideal, span / ideal, Percentile(latency, 0.5),
              Percentile(latency, 0.99), failed ? " (SOME CALLS FAILED)" : "");
}

void ClosedLoop(duet::v1::Duet::Stub& stub, const std::string& prompt, int clients, int calls) {
  std::vector<std::vector<double>> latency(clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < calls; ++i) latency[c].push_back(Generate(stub, prompt, 1, c * 100 + i));
    });
  }
  for (auto& t : threads) t.join();
  const double wall = Seconds(Clock::now() - start);
  std::vector<double> all;
  for (const auto& l : latency) all.insert(all.end(), l.begin(), l.end());
  std::printf("clients %2d: %3zu drafts, latency p50 %.2f s, p99 %.2f s, %.1f drafts/s\n", clients,
              all.size(), Percentile(all, 0.5), Percentile(all, 0.99), all.size() / wall);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<duet::FlagSpec> specs = {
      {"target", "", "gateway address host:port", ""},
      {"prompt", "", "the prompt of every call", "jack-o-lantern"},
      {"count", "", "one-draft calls in the arrival run", "32"},
      {"gaps", "", "comma-separated gaps between arrivals, ms", "50,100"},
  };
  auto flags = duet::Flags::Parse(specs, argc, argv, 1);
  if (!flags.ok() || flags->Get("target").empty()) {
    std::fprintf(stderr, "usage: arrivals --target HOST:PORT [--count N] [--gaps 50,100]\n");
    return 2;
  }
  auto channel = grpc::CreateChannel(flags->Get("target"), grpc::InsecureChannelCredentials());
  auto stub = duet::v1::Duet::NewStub(channel);
  const std::string prompt = flags->Get("prompt");
  const int count = std::stoi(flags->Get("count"));
  Generate(*stub, prompt, 1, 0);  // warm up
  std::vector<double> singles;
  for (int i = 0; i < 3; ++i) singles.push_back(Generate(*stub, prompt, 1, 1 + i));
  const double single = Percentile(singles, 0.5);
  const double batch = Generate(*stub, prompt, count, 500);
  std::printf("one one-draft call %.2f s; one %d-draft call %.2f s\n", single, count, batch);
  std::string gaps = flags->Get("gaps");
  for (size_t at = 0; at < gaps.size();) {
    const size_t comma = std::min(gaps.find(',', at), gaps.size());
    Arrivals(*stub, prompt, count, std::stoi(gaps.substr(at, comma - at)), single, batch);
    at = comma + 1;
  }
  for (int clients : {1, 8, 32}) ClosedLoop(*stub, prompt, clients, clients == 1 ? 8 : 4);
  return 0;
}
