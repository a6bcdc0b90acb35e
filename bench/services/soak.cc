// duet_soak: a soak load driver for a Duet gateway. N client threads loop over a weighted mix of
// every RPC, cancels, short deadlines and bad inputs for a fixed time; prints outcomes by code,
// latencies and server RSS (warm-up vs end), writes them as JSON. Run by bench/services/soak.sh.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/services/soak_client.h"
#include "bench/services/soak_rss.h"
#include "common/flags.h"
#include "duet/v1/transformer.grpc.pb.h"

namespace duet::bench {
namespace {

constexpr auto kTick = std::chrono::milliseconds(200);  // the main thread's clock
constexpr int kBusyBackoffMs = 200;                     // after RESOURCE_EXHAUSTED, up to this
constexpr auto kDrainWait = std::chrono::seconds(10);   // for the transformer to go idle

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec> specs = {
      {"target", "", "gateway address (host:port)", "127.0.0.1:50050"},
      {"clients", "", "client threads, one channel each", "32"},
      {"seconds", "", "load time in all, warm-up included", "600"},
      {"warmup-seconds", "", "first part of the load; RSS growth is measured from its end", "60"},
      {"seed", "", "seed of every client's choices", "1"},
      {"json", "", "write the summary here as JSON", ""},
      {"rss", "", "servers to watch: name=pid,name=pid,...", ""},
      {"rss-every", "", "seconds between RSS samples", "60"},
      {"max-rss-growth-mb", "", "fail when a server's RSS grows more after warm-up", "50"},
      {"call-timeout", "", "deadline of calls that should succeed, seconds", "300"},
      {"scenarios", "", "run only these, comma-separated (to find what grows); default all", ""},
      {"transformer", "", "the transformer's address: checked to be idle after the load", ""},
  };
  return specs;
}

struct Config {
  std::string target, json, transformer;
  int clients = 0;
  int64_t seconds = 0, warmup_seconds = 0, rss_every = 0, call_timeout = 0;
  uint64_t seed = 0;
  double max_growth_mb = 0;
  std::set<std::string> scenarios;
};

StatusOr<Config> ReadConfig(const Flags& flags) {
  Config c;
  c.target = flags.Get("target");
  c.json = flags.Get("json");
  c.transformer = flags.Get("transformer");
  DUET_ASSIGN_OR_RETURN(const int64_t clients, flags.GetInt("clients", 1, 1024));
  c.clients = static_cast<int>(clients);
  DUET_ASSIGN_OR_RETURN(c.seconds, flags.GetInt("seconds", 1, 7 * 86400));
  DUET_ASSIGN_OR_RETURN(c.warmup_seconds, flags.GetInt("warmup-seconds", 0, c.seconds - 1));
  DUET_ASSIGN_OR_RETURN(c.rss_every, flags.GetInt("rss-every", 1, 86400));
  DUET_ASSIGN_OR_RETURN(c.call_timeout, flags.GetInt("call-timeout", 1, 86400));
  DUET_ASSIGN_OR_RETURN(c.seed, flags.GetUint64("seed"));
  DUET_ASSIGN_OR_RETURN(c.max_growth_mb, flags.GetDouble("max-rss-growth-mb", 0, 1e6));
  const std::vector<std::string> known = ScenarioNames();
  std::stringstream names(flags.Get("scenarios"));
  for (std::string name; std::getline(names, name, ',');) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError("--scenarios: unknown scenario \"" + name + "\"");
    }
    c.scenarios.insert(name);
  }
  return c;
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// The model's limits, which the clients check answers against.
StatusOr<ClientOptions> FetchModel(const Config& config) {
  v1::ModelInfo info;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  context.set_wait_for_ready(true);
  const grpc::Status status = v1::Duet::NewStub(NewChannel(config.target))
                                  ->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) {
    return absl::UnavailableError("GetModelInfo at " + config.target + ": " +
                                  status.error_message());
  }
  ClientOptions options;
  options.call_timeout = std::chrono::seconds(config.call_timeout);
  options.scenarios = config.scenarios;
  options.image_tokens = info.image_grid() * info.image_grid();
  options.max_drafts = info.max_drafts();
  options.codebook_size = info.codebook_size();
  std::printf("model %s, %d codes per draft, compute dtype %s\n", info.name().c_str(),
              options.image_tokens, info.compute_dtype().c_str());
  return options;
}

void PrintMemory(const MemoryWatch& watch, double limit_mb) {
  const MemorySample* warmup = watch.Find("warmup");
  const MemorySample* end = watch.Find("end");
  const MemorySample* idle = watch.Find("idle");
  if (warmup == nullptr || end == nullptr || idle == nullptr) return;
  const auto growth = watch.GrowthMb(*warmup, *end);
  std::printf("\n%-14s %10s %10s %10s %10s %10s\n", "server RSS MB", "warm-up", "end", "idle",
              "peak", "growth");
  const auto mb = [](int64_t kb) { return kb * 1024 / 1e6; };
  for (const auto& [name, w] : warmup->servers) {
    std::printf("%-14s %10.1f %10.1f %10.1f %10.1f %+10.1f%s\n", name.c_str(), mb(w.rss_kb),
                mb(end->servers.at(name).rss_kb), mb(idle->servers.at(name).rss_kb),
                mb(idle->servers.at(name).hwm_kb), growth.at(name),
                growth.at(name) > limit_mb ? "  OVER LIMIT" : "");
  }
}

// Once the load has stopped, every request must leave the transformer's scheduler: polls its
// GetStats for kDrainWait. Returns what is left ("" when idle) and puts the stats in `json`.
std::string CheckTransformerIdle(const std::string& address, nlohmann::json* json) {
  auto stub = v1::MultimodalTransformer::NewStub(NewChannel(address));
  const auto start = std::chrono::steady_clock::now();
  v1::TransformerStats stats;
  grpc::Status status;
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kDrainWait);
    status = stub->GetStats(&context, v1::GetStatsRequest(), &stats);
    if (status.ok() && stats.active() == 0 && stats.queued() == 0) break;
    std::this_thread::sleep_for(kTick);
  } while (std::chrono::steady_clock::now() - start < kDrainWait);
  if (!status.ok()) return "transformer GetStats: " + status.error_message();
  *json = {{"steps", stats.steps()},        {"forwards", stats.forwards()},
           {"rows", stats.rows()},          {"active", stats.active()},
           {"queued", stats.queued()},      {"completed", stats.completed()},
           {"cancelled", stats.cancelled()}};
  std::printf("transformer after the load: %s\n", json->dump().c_str());
  if (stats.active() == 0 && stats.queued() == 0) return "";
  return "transformer still has " + std::to_string(stats.active()) + " active and " +
         std::to_string(stats.queued()) + " queued requests after the load stopped";
}

// Runs the clients for config.seconds, sampling memory on the way; returns when all stopped.
void RunLoad(const Config& config, const ClientOptions& options, Tally* tally,
             MemoryWatch* memory) {
  SharedState shared(config.seed);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < config.clients; ++i) {
    threads.emplace_back([&, i] {
      SoakClient client(NewChannel(config.target), config.seed * 1000003 + i, options, &shared,
                        tally);
      std::mt19937 backoff(i);
      while (!stop.load()) {
        if (!client.RunOne()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(backoff() % kBusyBackoffMs));
        }
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t next_sample = config.warmup_seconds;
  while (true) {
    std::this_thread::sleep_for(kTick);
    const double now = SecondsSince(start);
    if (now >= config.seconds) break;
    if (now < next_sample) continue;
    memory->Sample(now, next_sample == config.warmup_seconds ? "warmup" : "periodic");
    next_sample += config.rss_every;
    const Tally::Totals t = tally->totals();
    std::fprintf(stderr, "[%6.0f s] %lld calls (%.1f/s), %lld busy, %lld unexpected\n", now,
                 static_cast<long long>(t.calls), t.calls / now, static_cast<long long>(t.busy),
                 static_cast<long long>(t.unexpected));
  }
  memory->Sample(SecondsSince(start), "end");  // still under load, as at the warm-up sample
  stop = true;
  for (std::thread& t : threads) t.join();
  memory->Sample(SecondsSince(start), "idle");
}

// Prints the outcomes, memory and the verdict, writes the JSON; returns the exit code.
int Report(const Config& config, const Tally& tally, const MemoryWatch& memory, double elapsed) {
  std::printf("\n%d clients, %.0f s (warm-up %lld s), %.1f calls/s\n", config.clients, elapsed,
              static_cast<long long>(config.warmup_seconds), tally.totals().calls / elapsed);
  tally.Print(stdout);
  PrintMemory(memory, config.max_growth_mb);
  std::vector<std::string> failures;
  if (tally.totals().unexpected > 0) failures.push_back("unexpected outcomes");
  for (const std::string& name : memory.Gone()) failures.push_back("server gone: " + name);
  if (const MemorySample* warmup = memory.Find("warmup"), *end = memory.Find("end");
      warmup != nullptr && end != nullptr) {
    for (const auto& [name, growth] : memory.GrowthMb(*warmup, *end)) {
      if (growth > config.max_growth_mb) failures.push_back(name + " RSS grew too much");
    }
  }
  nlohmann::json transformer;
  if (!config.transformer.empty()) {
    const std::string left = CheckTransformerIdle(config.transformer, &transformer);
    if (!left.empty()) failures.push_back(left);
  }
  for (const std::string& failure : failures) std::printf("failed: %s\n", failure.c_str());
  std::printf("%s\n", failures.empty() ? "PASS" : "FAIL");
  if (!config.json.empty()) {
    nlohmann::json out = tally.ToJson();
    out["config"] = {{"target", config.target},   {"clients", config.clients},
                     {"seconds", config.seconds}, {"warmup_seconds", config.warmup_seconds},
                     {"seed", config.seed},       {"scenarios", config.scenarios}};
    out["elapsed_s"] = elapsed;
    out["memory"] = memory.ToJson(config.max_growth_mb);
    out["transformer_stats"] = transformer;
    out["failures"] = failures;
    out["pass"] = failures.empty();
    std::ofstream(config.json) << out.dump(2) << "\n";
  }
  return failures.empty() ? 0 : 1;
}

int Main(int argc, char** argv) {
  StatusOr<Flags> flags = Flags::Parse(Specs(), argc, argv, 1);
  if (flags.ok() && flags->help()) {
    std::string help =
        FlagsHelp("soak", "[flags]", "Soak load against a Duet gateway.", Specs());
    std::fputs(help.replace(0, std::string("Usage: duet soak").size(), "Usage: duet_soak").c_str(),
               stdout);
    return 0;
  }
  StatusOr<Config> config = flags.ok() ? ReadConfig(*flags) : StatusOr<Config>(flags.status());
  StatusOr<MemoryWatch> memory =
      config.ok() ? MemoryWatch::Parse(flags->Get("rss")) : StatusOr<MemoryWatch>(config.status());
  if (!memory.ok()) {
    std::cerr << "duet_soak: " << memory.status().message() << "\n";
    return 2;
  }
  StatusOr<ClientOptions> options = FetchModel(*config);
  if (!options.ok()) {
    std::cerr << "duet_soak: " << options.status().message() << "\n";
    return 1;
  }
  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  RunLoad(*config, *options, &tally, &*memory);
  return Report(*config, tally, *memory, SecondsSince(start));
}

}  // namespace
}  // namespace duet::bench

int main(int argc, char** argv) { return duet::bench::Main(argc, argv); }
