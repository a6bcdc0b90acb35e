// Resident memory of the servers under soak: VmRSS and VmHWM from /proc/<pid>/status, sampled
// at labelled moments (warm-up, every minute, end) and compared between two of them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace duet::bench {

struct MemorySample {
  double seconds = 0;  // since the soak started
  std::string label;   // "warmup", "periodic", "end", "idle"
  struct Server {
    int64_t rss_kb = -1;  // VmRSS; -1 when the process is gone
    int64_t hwm_kb = -1;  // VmHWM, the peak
  };
  std::map<std::string, Server> servers;  // by name
};

// Not thread-safe.
class MemoryWatch {
 public:
  // `spec`: "name=pid,name=pid,..." (empty: no servers). InvalidArgument when malformed.
  static StatusOr<MemoryWatch> Parse(const std::string& spec);

  bool empty() const { return pids_.empty(); }
  // Reads every server's status now and keeps the sample.
  const MemorySample& Sample(double seconds, const std::string& label);
  // The first sample with `label`, or nullptr.
  const MemorySample* Find(const std::string& label) const;
  // Names of the servers whose process had gone at some sample.
  std::vector<std::string> Gone() const;
  // Per server: RSS at `to` minus RSS at `from`, in MB (10^6 bytes).
  std::map<std::string, double> GrowthMb(const MemorySample& from, const MemorySample& to) const;
  // Samples, the growth between "warmup" and "end", and `limit_mb`.
  nlohmann::json ToJson(double limit_mb) const;

 private:
  std::map<std::string, int> pids_;
  std::vector<MemorySample> samples_;
};

}  // namespace duet::bench
