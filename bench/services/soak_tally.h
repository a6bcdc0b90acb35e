// The soak driver's tallies: every call's outcome by scenario and gRPC code, latencies of the
// calls whose outcome was the expected one, and the first few unexpected outcomes; printed as a
// table and as JSON.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

namespace duet::bench {

// What an outcome means. kBusy: RESOURCE_EXHAUSTED from a full queue, expected under load and
// counted apart from both the expected outcomes and the failures.
enum class Verdict { kExpected, kBusy, kUnexpected };

struct Outcome {
  std::string scenario;  // e.g. "generate", "generate.cancel", "caption.bad"
  std::string rpc;       // e.g. "GenerateImages", "CaptionStream(item)"
  grpc::StatusCode code = grpc::StatusCode::OK;
  Verdict verdict = Verdict::kExpected;
  double seconds = -1;  // wall time of the call; < 0 when not timed (a stream's items)
  std::string detail;   // why it is unexpected (empty otherwise)
};

// "OK", "CANCELLED", ... for a gRPC code.
const char* CodeName(grpc::StatusCode code);

// Thread-safe.
class Tally {
 public:
  struct Totals {
    int64_t calls = 0, expected = 0, busy = 0, unexpected = 0;
  };
  static constexpr size_t kUnexpectedSamples = 20;  // unexpected outcomes kept verbatim

  void Record(const Outcome& outcome);
  Totals totals() const;
  // One line per scenario: rpc, count per code, busy, unexpected, p50/p99 of the latencies of
  // the expected outcomes (OK for good calls; the error reply for bad ones).
  void Print(std::FILE* out) const;
  // {"totals": {...}, "scenarios": [...], "unexpected_samples": [...]}.
  nlohmann::json ToJson() const;

 private:
  struct Row {
    std::string rpc;
    std::map<std::string, int64_t> codes;
    Totals totals;
    std::vector<double> expected_seconds;
  };

  mutable std::mutex mu_;
  std::map<std::string, Row> rows_;  // by scenario
  Totals totals_;
  std::vector<std::string> unexpected_samples_;
};

}  // namespace duet::bench
