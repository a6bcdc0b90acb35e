// Implementation of bench/services/soak_rss.h.
#include "bench/services/soak_rss.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace duet::bench {
namespace {

constexpr double kKbPerMb = 1e6 / 1024;

// The value in kB of `key` ("VmRSS:") in /proc/<pid>/status; -1 when unreadable.
int64_t ReadStatusKb(int pid, const std::string& key) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, key.size(), key) == 0) return std::atoll(line.c_str() + key.size());
  }
  return -1;
}

}  // namespace

StatusOr<MemoryWatch> MemoryWatch::Parse(const std::string& spec) {
  MemoryWatch watch;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t eq = item.find('=');
    const int pid = eq == std::string::npos ? 0 : std::atoi(item.c_str() + eq + 1);
    if (eq == 0 || pid <= 0) {
      return absl::InvalidArgumentError("--rss must be name=pid,..., got \"" + item + "\"");
    }
    watch.pids_[item.substr(0, eq)] = pid;
  }
  return watch;
}

const MemorySample& MemoryWatch::Sample(double seconds, const std::string& label) {
  MemorySample sample;
  sample.seconds = seconds;
  sample.label = label;
  for (const auto& [name, pid] : pids_) {
    sample.servers[name] = {ReadStatusKb(pid, "VmRSS:"), ReadStatusKb(pid, "VmHWM:")};
  }
  samples_.push_back(std::move(sample));
  return samples_.back();
}

const MemorySample* MemoryWatch::Find(const std::string& label) const {
  for (const MemorySample& sample : samples_) {
    if (sample.label == label) return &sample;
  }
  return nullptr;
}

std::vector<std::string> MemoryWatch::Gone() const {
  std::vector<std::string> gone;
  for (const auto& [name, pid] : pids_) {
    for (const MemorySample& sample : samples_) {
      if (sample.servers.at(name).rss_kb < 0) {
        gone.push_back(name);
        break;
      }
    }
  }
  return gone;
}

std::map<std::string, double> MemoryWatch::GrowthMb(const MemorySample& from,
                                                    const MemorySample& to) const {
  std::map<std::string, double> growth;
  for (const auto& [name, pid] : pids_) {
    growth[name] = (to.servers.at(name).rss_kb - from.servers.at(name).rss_kb) / kKbPerMb;
  }
  return growth;
}

nlohmann::json MemoryWatch::ToJson(double limit_mb) const {
  nlohmann::json samples = nlohmann::json::array();
  for (const MemorySample& sample : samples_) {
    nlohmann::json servers;
    for (const auto& [name, s] : sample.servers) {
      servers[name] = {{"rss_kb", s.rss_kb}, {"hwm_kb", s.hwm_kb}};
    }
    samples.push_back({{"seconds", sample.seconds}, {"label", sample.label}, {"servers", servers}});
  }
  nlohmann::json out = {
      {"pids", pids_}, {"samples", samples}, {"limit_mb", limit_mb}, {"gone", Gone()}};
  const MemorySample* warmup = Find("warmup");
  const MemorySample* end = Find("end");
  if (warmup != nullptr && end != nullptr) out["growth_mb"] = GrowthMb(*warmup, *end);
  return out;
}

}  // namespace duet::bench
